package server_test

import (
	"net/http"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func TestProjects(t *testing.T) {
	e := newEnv(t)
	// The default project exists from the start.
	want(t, e.admin("GET", "/v1/projects/default", nil), http.StatusOK)

	r := want(t, e.admin("POST", "/v1/projects", map[string]any{"name": "churn", "description": "Churn"}), http.StatusCreated)
	var p api.Project
	r.decode(t, &p)
	if p.Name != "churn" || p.Description != "Churn" || p.Generation != 1 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("created %+v, ETag %q", p, r.header.Get("ETag"))
	}
	wantProblem(t, e.admin("POST", "/v1/projects", map[string]any{"name": "churn"}), http.StatusConflict, "", "already exists")
	wantProblem(t, e.admin("POST", "/v1/projects", map[string]any{"name": "Bad Name"}), http.StatusBadRequest, "body.name", "not a valid name")
	wantProblem(t, e.admin("POST", "/v1/projects", map[string]any{"description": "no name"}), http.StatusBadRequest, "body", "name")

	r = want(t, e.admin("PUT", "/v1/projects/churn", map[string]any{"description": "Churn v2"}), http.StatusOK)
	r.decode(t, &p)
	if p.Description != "Churn v2" || p.Generation != 2 {
		t.Fatalf("updated %+v", p)
	}
	wantProblem(t, e.admin("PUT", "/v1/projects/nope", map[string]any{}), http.StatusNotFound, "", `project "nope" not found`)

	var page api.List[api.Project]
	want(t, e.admin("GET", "/v1/projects", nil), http.StatusOK).decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].Name != "churn" || page.Items[1].Name != "default" {
		t.Fatalf("list = %+v", page.Items)
	}

	// A project that holds objects is not deleted; an empty one is.
	want(t, e.admin("POST", "/v1/projects/churn/models", map[string]any{"name": "m"}), http.StatusCreated)
	wantProblem(t, e.admin("DELETE", "/v1/projects/churn", nil), http.StatusConflict, "", "still holds 1 objects")
	want(t, e.admin("DELETE", "/v1/projects/churn/models/m", nil), http.StatusNoContent)
	want(t, e.admin("DELETE", "/v1/projects/churn", nil), http.StatusNoContent)
	want(t, e.admin("GET", "/v1/projects/churn", nil), http.StatusNotFound)
	wantProblem(t, e.admin("DELETE", "/v1/projects/default", nil), http.StatusConflict, "", "cannot be deleted")
	// Objects of a missing project answer 404 naming the project.
	wantProblem(t, e.admin("GET", "/v1/projects/churn/models", nil), http.StatusNotFound, "", `project "churn" not found`)
}

func TestProjectListIsScopedToToken(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b"} {
		want(t, e.admin("POST", "/v1/projects", map[string]any{"name": n}), http.StatusCreated)
	}
	viewer := e.ts.Token(t, api.RoleViewer, "b")
	var page api.List[api.Project]
	want(t, e.do("GET", "/v1/projects", viewer, nil), http.StatusOK).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Name != "b" {
		t.Fatalf("a token scoped to b lists %+v", page.Items)
	}
}
