package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// statusClientClosed answers a request whose client went away (nginx's 499).
const statusClientClosed = 499

// badRequest reports a field at fault as a 400 problem.
func badRequest(fe *api.FieldError) error {
	return huma.Error400BadRequest("invalid "+fe.Field, &huma.ErrorDetail{
		Location: "body." + fe.Field,
		Message:  fe.Message,
	})
}

// fieldError builds a 400 for a field.
func fieldError(field, format string, args ...any) error {
	return badRequest(api.Errorf(field, format, args...))
}

// unprocessable is a 422: the request is well formed but refused (a gate failed).
func unprocessable(field, detail, reason string) error {
	return &huma.ErrorModel{
		Status: http.StatusUnprocessableEntity,
		Title:  http.StatusText(http.StatusUnprocessableEntity),
		Detail: detail,
		Errors: []*huma.ErrorDetail{{Location: "body." + field, Message: reason}},
	}
}

// describe names an object for messages: `model "churn" in project "default"`.
func describe(k store.Key) string {
	kind := strings.ReplaceAll(string(k.Kind), "_", " ")
	switch k.Kind {
	case store.KindProject:
		return fmt.Sprintf("project %q", k.Name)
	case store.KindModelVersion:
		return fmt.Sprintf("version %s of model %q in project %q", k.Name, k.Parent, k.Project)
	case store.KindModelAlias:
		return fmt.Sprintf("alias %q of model %q in project %q", k.Name, k.Parent, k.Project)
	case store.KindPipelineRevision:
		return fmt.Sprintf("revision %s of pipeline %q in project %q", k.Name, k.Parent, k.Project)
	case store.KindMonitorEvaluation:
		return fmt.Sprintf("evaluation %s of monitor %q in project %q", k.Name, k.Parent, k.Project)
	}
	return fmt.Sprintf("%s %q in project %q", kind, k.Name, k.Project)
}

// storeError maps a store error about key to an HTTP problem.
func (s *Server) storeError(ctx context.Context, k store.Key, err error) error {
	var fe *api.FieldError
	var se huma.StatusError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.As(err, &fe):
		return badRequest(fe)
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(describe(k) + " not found")
	case errors.Is(err, store.ErrExists):
		return huma.Error409Conflict(describe(k) + " already exists; choose another name, or import the existing one")
	case errors.Is(err, store.ErrStale):
		return huma.Error412PreconditionFailed(describe(k) + " was changed by someone else since you read it (If-Match is stale); read it again and retry")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(ctx, "database unavailable", "err", err)
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("the database is unavailable; retry shortly"),
			http.Header{"Retry-After": []string{"2"}})
	case errors.Is(err, context.Canceled):
		return huma.NewError(statusClientClosed, "request cancelled")
	}
	s.log.ErrorContext(ctx, "internal error", "err", err, "object", describe(k))
	return huma.Error500InternalServerError("internal error")
}

// parseIfMatch reads an If-Match header: "5", W/"5" or 5. Empty means no precondition.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.TrimPrefix(h, "W/")
	h = strings.Trim(h, `"`)
	g, err := strconv.ParseInt(h, 10, 64)
	if err != nil || g < 1 {
		return 0, &huma.ErrorModel{
			Status: http.StatusBadRequest, Title: "Bad Request",
			Detail: fmt.Sprintf("If-Match %q is not an ETag this server issued", h),
			Errors: []*huma.ErrorDetail{{Location: "header.If-Match", Message: "use the ETag of the object you read"}},
		}
	}
	return g, nil
}

// etag renders a generation as an ETag.
func etag(generation int64) string { return `"` + strconv.FormatInt(generation, 10) + `"` }
