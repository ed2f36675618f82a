package client

import (
	"context"
	"net/http"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// TestRoutes pins every method to the route, verb and query of the server contract.
func TestRoutes(t *testing.T) {
	type seen struct{ method, path, query, key string }
	var got seen
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Idempotency-Key")}
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			writeJSON(w, http.StatusCreated, map[string]any{})
		default:
			writeJSON(w, http.StatusOK, map[string]any{})
		}
	})
	ctx := context.Background()
	ignore := func(_ any, err error) error { return err }
	cases := []struct {
		call         func() error
		method, path string
		query        string
	}{
		{func() error { return ignore(c.ListProjects(ctx)) }, "GET", "/v1/projects", ""},
		{func() error { return ignore(c.GetProject(ctx, "p")) }, "GET", "/v1/projects/p", ""},
		{func() error { return ignore(c.CreateProject(ctx, api.Project{Name: "p"})) }, "POST", "/v1/projects", ""},
		{func() error { return ignore(c.UpdateProject(ctx, "p", api.ProjectUpdate{}, 0)) }, "PUT", "/v1/projects/p", ""},
		{func() error { return c.DeleteProject(ctx, "p", 0) }, "DELETE", "/v1/projects/p", ""},

		{func() error { return ignore(c.ListDatasets(ctx, "p")) }, "GET", "/v1/projects/p/datasets", ""},
		{func() error { return ignore(c.GetDataset(ctx, "p", "d")) }, "GET", "/v1/projects/p/datasets/d", ""},
		{func() error { return ignore(c.GetDatasetProfile(ctx, "p", "d")) }, "GET", "/v1/projects/p/datasets/d/profile", ""},
		{func() error { return ignore(c.CreateDataset(ctx, "p", api.CreateDatasetRequest{Name: "d"})) }, "POST", "/v1/projects/p/datasets", ""},
		{func() error { return ignore(c.UpdateDataset(ctx, "p", "d", api.DatasetSpec{}, 0)) }, "PUT", "/v1/projects/p/datasets/d", ""},
		{func() error { return c.DeleteDataset(ctx, "p", "d", 0) }, "DELETE", "/v1/projects/p/datasets/d", ""},

		{func() error { return ignore(c.ListPipelines(ctx, "p")) }, "GET", "/v1/projects/p/pipelines", ""},
		{func() error { return ignore(c.GetPipeline(ctx, "p", "x")) }, "GET", "/v1/projects/p/pipelines/x", ""},
		{func() error { return ignore(c.CreatePipeline(ctx, "p", api.CreatePipelineRequest{Name: "x"})) }, "POST", "/v1/projects/p/pipelines", ""},
		{func() error { return ignore(c.UpdatePipeline(ctx, "p", "x", api.PipelineSpec{}, 0)) }, "PUT", "/v1/projects/p/pipelines/x", ""},
		{func() error { return c.DeletePipeline(ctx, "p", "x", 0) }, "DELETE", "/v1/projects/p/pipelines/x", ""},
		{func() error { return ignore(c.ListPipelineRevisions(ctx, "p", "x")) }, "GET", "/v1/projects/p/pipelines/x/revisions", ""},
		{func() error { return ignore(c.GetPipelineRevision(ctx, "p", "x", 3)) }, "GET", "/v1/projects/p/pipelines/x/revisions/3", ""},

		{func() error { return ignore(c.ListModels(ctx, "p")) }, "GET", "/v1/projects/p/models", ""},
		{func() error { return ignore(c.GetModel(ctx, "p", "m")) }, "GET", "/v1/projects/p/models/m", ""},
		{func() error { return ignore(c.CreateModel(ctx, "p", api.CreateModelRequest{Name: "m"})) }, "POST", "/v1/projects/p/models", ""},
		{func() error { return ignore(c.UpdateModel(ctx, "p", "m", api.ModelSpec{}, 0)) }, "PUT", "/v1/projects/p/models/m", ""},
		{func() error { return c.DeleteModel(ctx, "p", "m", false, 0) }, "DELETE", "/v1/projects/p/models/m", ""},
		{func() error { return c.DeleteModel(ctx, "p", "m", true, 0) }, "DELETE", "/v1/projects/p/models/m", "force=true"},

		{func() error { return ignore(c.ListModelVersions(ctx, "p", "m")) }, "GET", "/v1/projects/p/models/m/versions", ""},
		{func() error { return ignore(c.GetModelVersion(ctx, "p", "m", 2)) }, "GET", "/v1/projects/p/models/m/versions/2", ""},
		{func() error { return ignore(c.CreateModelVersion(ctx, "p", "m", api.ModelVersionSpec{})) }, "POST", "/v1/projects/p/models/m/versions", ""},
		{func() error { return ignore(c.UpdateModelVersion(ctx, "p", "m", 2, api.ModelVersionUpdate{}, 0)) }, "PUT", "/v1/projects/p/models/m/versions/2", ""},
		{func() error { return c.DeleteModelVersion(ctx, "p", "m", 2, 0) }, "DELETE", "/v1/projects/p/models/m/versions/2", ""},

		{func() error { return ignore(c.ListModelAliases(ctx, "p", "m")) }, "GET", "/v1/projects/p/models/m/aliases", ""},
		{func() error { return ignore(c.GetModelAlias(ctx, "p", "m", "prod")) }, "GET", "/v1/projects/p/models/m/aliases/prod", ""},
		{func() error {
			return ignore(c.CreateModelAlias(ctx, "p", "m", api.ModelAlias{Alias: "prod", Version: 1}))
		}, "POST", "/v1/projects/p/models/m/aliases", ""},
		{func() error {
			return ignore(c.UpdateModelAlias(ctx, "p", "m", "prod", api.ModelAliasUpdate{Version: 2}, 0))
		}, "PUT", "/v1/projects/p/models/m/aliases/prod", ""},
		{func() error { return c.DeleteModelAlias(ctx, "p", "m", "prod", 0) }, "DELETE", "/v1/projects/p/models/m/aliases/prod", ""},

		{func() error { return ignore(c.ListSchedules(ctx, "p")) }, "GET", "/v1/projects/p/schedules", ""},
		{func() error { return ignore(c.GetSchedule(ctx, "p", "s")) }, "GET", "/v1/projects/p/schedules/s", ""},
		{func() error { return ignore(c.CreateSchedule(ctx, "p", api.CreateScheduleRequest{Name: "s"})) }, "POST", "/v1/projects/p/schedules", ""},
		{func() error { return ignore(c.UpdateSchedule(ctx, "p", "s", api.ScheduleSpec{}, 0)) }, "PUT", "/v1/projects/p/schedules/s", ""},
		{func() error { return c.DeleteSchedule(ctx, "p", "s", 0) }, "DELETE", "/v1/projects/p/schedules/s", ""},

		{func() error { return ignore(c.ListTokens(ctx)) }, "GET", "/v1/tokens", ""},
		{func() error { return ignore(c.CreateToken(ctx, api.CreateTokenRequest{Role: api.RoleAdmin})) }, "POST", "/v1/tokens", ""},
		{func() error { return c.DeleteToken(ctx, "tok-1") }, "DELETE", "/v1/tokens/tok-1", ""},

		{func() error { return c.Ready(ctx) }, "GET", "/readyz", ""},
	}
	for _, tc := range cases {
		got = seen{}
		if err := tc.call(); err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		if got.method != tc.method || got.path != tc.path || got.query != tc.query {
			t.Errorf("want %s %s?%s, server saw %s %s?%s", tc.method, tc.path, tc.query, got.method, got.path, got.query)
		}
		if (got.key != "") != (tc.method == "POST") {
			t.Errorf("%s %s: Idempotency-Key %q", tc.method, tc.path, got.key)
		}
	}
}
