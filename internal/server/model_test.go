package server_test

import (
	"net/http"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func TestModelVersionsAndGates(t *testing.T) {
	e := newEnv(t)
	base := "/v1/projects/default/models"
	want(t, e.admin("POST", base, map[string]any{
		"name": "churn",
		"gates": []map[string]any{
			{"metric": "auc", "op": ">=", "threshold": 0.8},
			{"metric": "latency_ms", "op": "<", "threshold": 50, "aliases": []string{"champion"}},
		},
	}), http.StatusCreated)
	wantProblem(t, e.admin("POST", base, map[string]any{"name": "x", "gates": []map[string]any{{"metric": "auc", "op": "=>", "threshold": 1}}}),
		http.StatusBadRequest, "body.gates[0].op", "")
	// Not in a project that does not exist (checked in the create's own statement).
	wantProblem(t, e.admin("POST", "/v1/projects/nope/models", map[string]any{"name": "churn"}), http.StatusNotFound, "", `project "nope" not found`)

	// Versions are numbered 1, 2, 3 per model.
	for i, metrics := range []map[string]float64{{"auc": 0.7}, {"auc": 0.85, "latency_ms": 80}, {"auc": 0.9, "latency_ms": 20}} {
		var v api.ModelVersion
		want(t, e.admin("POST", base+"/churn/versions", map[string]any{"artifact_uri": "s3://models/churn/" + string(rune('a'+i)), "metrics": metrics}), http.StatusCreated).decode(t, &v)
		if v.Version != int64(i+1) || len(v.GateResults) != 2 {
			t.Fatalf("version %d: %+v", i+1, v)
		}
	}
	var v api.ModelVersion
	want(t, e.admin("GET", base+"/churn/versions/1", nil), http.StatusOK).decode(t, &v)
	if v.GateResults[0].Passed || *v.GateResults[0].Value != 0.7 || v.GateResults[1].Value != nil || v.GateResults[1].Passed {
		t.Fatalf("gate results of v1 = %+v", v.GateResults)
	}

	// An alias refuses a version that fails a gate guarding it, naming metric, value and threshold.
	wantProblem(t, e.admin("POST", base+"/churn/aliases", map[string]any{"alias": "staging", "version": 1}),
		http.StatusUnprocessableEntity, "body.version", `metric "auc" is 0.7, gate requires auc >= 0.8`)
	// v2 passes the gate for every alias but not champion's latency gate.
	want(t, e.admin("POST", base+"/churn/aliases", map[string]any{"alias": "staging", "version": 2}), http.StatusCreated)
	wantProblem(t, e.admin("POST", base+"/churn/aliases", map[string]any{"alias": "champion", "version": 2}),
		http.StatusUnprocessableEntity, "body.version", `metric "latency_ms" is 80, gate requires latency_ms < 50`)
	want(t, e.admin("POST", base+"/churn/aliases", map[string]any{"alias": "champion", "version": 3}), http.StatusCreated)
	wantProblem(t, e.admin("POST", base+"/churn/aliases", map[string]any{"alias": "champion", "version": 3}), http.StatusConflict, "", "already exists")
	wantProblem(t, e.admin("POST", base+"/churn/aliases", map[string]any{"alias": "x", "version": 9}), http.StatusBadRequest, "body.version", "no version 9")

	// Moving an alias is one write, gated the same way.
	wantProblem(t, e.admin("PUT", base+"/churn/aliases/staging", map[string]any{"version": 1}), http.StatusUnprocessableEntity, "body.version", "auc")
	var a api.ModelAlias
	want(t, e.admin("PUT", base+"/churn/aliases/staging", map[string]any{"version": 3}), http.StatusOK).decode(t, &a)
	if a.Version != 3 || a.Generation != 2 {
		t.Fatalf("moved alias %+v", a)
	}

	var m api.Model
	want(t, e.admin("GET", base+"/churn", nil), http.StatusOK).decode(t, &m)
	if m.LatestVersion != 3 || m.Aliases["champion"] != 3 || m.Aliases["staging"] != 3 {
		t.Fatalf("model %+v", m)
	}
	want(t, e.admin("GET", base+"/churn/versions/3", nil), http.StatusOK).decode(t, &v)
	if len(v.Aliases) != 2 {
		t.Fatalf("v3 aliases = %v", v.Aliases)
	}

	// Immutable fields stay; description and labels change.
	want(t, e.admin("PUT", base+"/churn/versions/3", map[string]any{"description": "best", "labels": map[string]string{"team": "risk"}}), http.StatusOK).decode(t, &v)
	if v.Description != "best" || v.Labels["team"] != "risk" || v.ArtifactURI != "s3://models/churn/c" || v.Metrics["auc"] != 0.9 {
		t.Fatalf("updated version %+v", v)
	}

	// Deleting a version drops the aliases that point at it; numbers are not reused.
	want(t, e.admin("DELETE", base+"/churn/versions/3", nil), http.StatusNoContent)
	want(t, e.admin("GET", base+"/churn/aliases/champion", nil), http.StatusNotFound)
	want(t, e.admin("POST", base+"/churn/versions", map[string]any{"artifact_uri": "s3://x"}), http.StatusCreated).decode(t, &v)
	if v.Version != 4 {
		t.Fatalf("next version after deleting 3 = %d, want 4", v.Version)
	}

	// A model with versions is deleted only with force, which removes everything.
	wantProblem(t, e.admin("DELETE", base+"/churn", nil), http.StatusConflict, "", "force=true")
	want(t, e.admin("DELETE", base+"/churn?force=true", nil), http.StatusNoContent)
	want(t, e.admin("GET", base+"/churn/versions/1", nil), http.StatusNotFound)
	want(t, e.admin("POST", base, map[string]any{"name": "churn"}), http.StatusCreated)
	want(t, e.admin("POST", base+"/churn/versions", map[string]any{"artifact_uri": "s3://x"}), http.StatusCreated).decode(t, &v)
	if v.Version != 1 {
		t.Fatalf("a recreated model starts at version %d, want 1", v.Version)
	}
}

func TestModelVersionLineage(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "d.csv", "a\n1\n")
	want(t, e.admin("POST", "/v1/projects/default/datasets", map[string]any{"name": "d", "uri": path, "format": "csv"}), http.StatusCreated)
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "m"}), http.StatusCreated)
	var v api.ModelVersion
	want(t, e.admin("POST", "/v1/projects/default/models/m/versions", map[string]any{"artifact_uri": "s3://a", "dataset": "d", "pipeline_run_id": "run-1"}), http.StatusCreated).decode(t, &v)
	if v.Dataset != "d" || v.DatasetVersion != 1 || v.PipelineRunID != "run-1" {
		t.Fatalf("lineage %+v", v)
	}
	wantProblem(t, e.admin("POST", "/v1/projects/default/models/m/versions", map[string]any{"artifact_uri": "s3://a", "dataset": "nope"}), http.StatusBadRequest, "body.dataset", `"nope"`)
	wantProblem(t, e.admin("POST", "/v1/projects/default/models/m/versions", map[string]any{"artifact_uri": "s3://a", "dataset": "d", "dataset_version": 5}), http.StatusBadRequest, "body.dataset_version", "no version 5")
	wantProblem(t, e.admin("POST", "/v1/projects/default/models/m/versions", map[string]any{}), http.StatusBadRequest, "body", "artifact_uri")
	wantProblem(t, e.admin("POST", "/v1/projects/default/models/nope/versions", map[string]any{"artifact_uri": "s3://a"}), http.StatusNotFound, "", `model "nope"`)
}
