package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// Sentinels matched by *Error with errors.Is.
var (
	ErrNotFound           = errors.New("mlops: not found")           // 404
	ErrConflict           = errors.New("mlops: conflict")            // 409
	ErrPreconditionFailed = errors.New("mlops: precondition failed") // 412: stale If-Match
	ErrUnauthorized       = errors.New("mlops: unauthorized")        // 401
	ErrForbidden          = errors.New("mlops: forbidden")           // 403
	ErrValidation         = errors.New("mlops: validation failed")   // 400 and 422
	ErrRateLimited        = errors.New("mlops: rate limited")        // 429
)

const (
	// errorBodyLimit bounds how much of an error response is read.
	errorBodyLimit = 64 << 10
	// rawDetailLimit is how much of a non-problem error body becomes Detail.
	rawDetailLimit = 512
	redacted       = "[REDACTED]"
)

// Error is a non-2xx answer from the API.
type Error struct {
	StatusCode int
	// Problem is the decoded problem document; for a non-problem body (e.g. a
	// proxy's text) Title is the status text and Detail the body's first 512 bytes.
	Problem api.Problem
	Method  string
	Path    string
}

// Error reads like: PUT /v1/projects/p/pipelines/x: 400 Bad Request: invalid spec; steps[1].depends_on: unknown step "y".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.StatusCode)
	title := e.Problem.Title
	if title == "" {
		title = http.StatusText(e.StatusCode)
	}
	if title != "" {
		b.WriteString(" " + title)
	}
	if d := e.Problem.Detail; d != "" && d != title {
		b.WriteString(": " + d)
	}
	for _, pe := range e.Problem.Errors {
		if pe.Message == e.Problem.Detail && pe.Location == "" {
			continue
		}
		b.WriteString("; ")
		if pe.Location != "" {
			b.WriteString(pe.Location + ": ")
		}
		b.WriteString(pe.Message)
	}
	return b.String()
}

// Is matches the sentinel for e's status code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrPreconditionFailed:
		return e.StatusCode == http.StatusPreconditionFailed
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrValidation:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// Field is the first errors[] location without its leading "body.", e.g.
// "steps[1].depends_on", so callers can attach the error to an attribute; "" if none.
func (e *Error) Field() string {
	for _, pe := range e.Problem.Errors {
		if pe.Location != "" {
			return strings.TrimPrefix(pe.Location, "body.")
		}
	}
	return ""
}

// newError reads an error response. The token is scrubbed from the body first:
// proxies and servers sometimes echo request headers back.
func (c *Client) newError(resp *http.Response, method, path string) *Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	if c.token != "" {
		raw = bytes.ReplaceAll(raw, []byte(c.token), []byte(redacted))
	}
	e := &Error{StatusCode: resp.StatusCode, Method: method, Path: path}
	p := &e.Problem
	if json.Unmarshal(raw, p) != nil || (p.Title == "" && p.Detail == "" && len(p.Errors) == 0) {
		*p = api.Problem{Title: http.StatusText(resp.StatusCode), Detail: truncate(raw, rawDetailLimit)}
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	return e
}

func truncate(raw []byte, n int) string {
	cut := len(raw) > n
	if cut {
		raw = raw[:n]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(raw), ""))
	if cut {
		s += "..."
	}
	return s
}
