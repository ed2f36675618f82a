package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// env is a server under test with tokens of every role.
type env struct {
	t  testing.TB
	ts *testserver.Instance
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return &env{t: t, ts: testserver.Start(t)}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("status %d body is not a problem document: %s", r.status, r.body)
	}
	return p
}

// decode fills v afresh, so fields left over from an earlier decode cannot mask an omitted one.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends one request straight to the handler; token "" sends none.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(context.Background(), method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.ts.Server.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// admin sends a request as admin.
func (e *env) admin(method, path string, body any, headers ...string) response {
	e.t.Helper()
	return e.do(method, path, e.ts.AdminToken, body, headers...)
}

// want asserts a status and returns the response.
func want(t *testing.T, r response, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

// wantProblem asserts a problem status whose text and error location mention what the user must fix.
func wantProblem(t *testing.T, r response, status int, location, text string) {
	t.Helper()
	want(t, r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	p := r.problem(t)
	all := p.Detail
	found := location == ""
	for _, e := range p.Errors {
		all += " | " + e.Location + ": " + e.Message
		if e.Location == location {
			found = true
		}
	}
	if !found {
		t.Fatalf("no error at %q in %s", location, all)
	}
	if !strings.Contains(all, text) {
		t.Fatalf("problem %q does not mention %q", all, text)
	}
}
