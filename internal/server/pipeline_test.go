package server_test

import (
	"net/http"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func step(name string, deps ...string) map[string]any {
	return map[string]any{"name": name, "command": []string{"python", name + ".py"}, "depends_on": deps}
}

func TestPipelineRevisions(t *testing.T) {
	e := newEnv(t)
	base := "/v1/projects/default/pipelines"
	var p api.Pipeline
	want(t, e.admin("POST", base, map[string]any{
		"name": "train", "parameters": map[string]string{"lr": "0.1"},
		"steps": []any{step("prep"), step("fit", "prep")},
	}), http.StatusCreated).decode(t, &p)
	if p.Revision != 1 || len(p.Steps) != 2 {
		t.Fatalf("created %+v", p)
	}
	// Metadata changes keep the revision; spec changes make a new one.
	want(t, e.admin("PUT", base+"/train", map[string]any{"description": "d", "parameters": map[string]string{"lr": "0.1"},
		"steps": []any{step("prep"), step("fit", "prep")}}), http.StatusOK).decode(t, &p)
	if p.Revision != 1 || p.Description != "d" {
		t.Fatalf("description change: %+v", p)
	}
	want(t, e.admin("PUT", base+"/train", map[string]any{"parameters": map[string]string{"lr": "0.2"},
		"steps": []any{step("prep"), step("fit", "prep")}}), http.StatusOK).decode(t, &p)
	if p.Revision != 2 {
		t.Fatalf("parameter change: revision %d, want 2", p.Revision)
	}
	var revs api.List[api.PipelineRevision]
	want(t, e.admin("GET", base+"/train/revisions", nil), http.StatusOK).decode(t, &revs)
	if len(revs.Items) != 2 || revs.Items[0].Parameters["lr"] != "0.1" || revs.Items[1].Parameters["lr"] != "0.2" {
		t.Fatalf("revisions %+v", revs.Items)
	}
	var rev api.PipelineRevision
	want(t, e.admin("GET", base+"/train/revisions/1", nil), http.StatusOK).decode(t, &rev)
	if rev.Revision != 1 || rev.Steps[1].DependsOn[0] != "prep" {
		t.Fatalf("revision 1 = %+v", rev)
	}
	want(t, e.admin("GET", base+"/train/revisions/9", nil), http.StatusNotFound)
	wantProblem(t, e.admin("GET", base+"/train/revisions/x", nil), http.StatusBadRequest, "path.revision", "")

	// Deleting removes the revisions; a new pipeline of the same name starts at 1.
	want(t, e.admin("DELETE", base+"/train", nil), http.StatusNoContent)
	want(t, e.admin("GET", base+"/train/revisions", nil), http.StatusNotFound)
	want(t, e.admin("POST", base, map[string]any{"name": "train", "steps": []any{step("a")}}), http.StatusCreated).decode(t, &p)
	if p.Revision != 1 {
		t.Fatalf("recreated pipeline starts at revision %d", p.Revision)
	}
}

func TestPipelineDAGValidation(t *testing.T) {
	e := newEnv(t)
	base := "/v1/projects/default/pipelines"
	cases := []struct {
		name     string
		steps    []any
		location string
		text     string
	}{
		{"cycle", []any{step("a", "c"), step("b", "a"), step("c", "b")}, "body.steps[0].depends_on", "cycle: a -> c -> b -> a"},
		{"self", []any{step("a", "a")}, "body.steps[0].depends_on", "depends on itself"},
		{"unknown dependency", []any{step("a"), step("b", "zzz")}, "body.steps[1].depends_on", `unknown step "zzz"`},
		{"duplicate", []any{step("a"), step("a")}, "body.steps[1].name", `step "a" is declared twice`},
		{"no command", []any{map[string]any{"name": "a", "command": []string{""}}}, "body.steps[0].command", "needs a command"},
		{"bad timeout", []any{map[string]any{"name": "a", "command": []string{"x"}, "timeout": "soon"}}, "body.steps[0].timeout", "not a duration"},
		{"too many retries", []any{map[string]any{"name": "a", "command": []string{"x"}, "retries": 99}}, "body.steps[0].retries", ""},
		{"no steps", []any{}, "body.steps", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, e.admin("POST", base, map[string]any{"name": "p", "steps": c.steps}), http.StatusBadRequest, c.location, c.text)
		})
	}
	want(t, e.admin("GET", base+"/p", nil), http.StatusNotFound)
}
