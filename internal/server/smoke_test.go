package server_test

import (
	"context"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

func TestSmoke(t *testing.T) {
	ts := testserver.Start(t)
	c := ts.Client
	ctx := context.Background()
	p, err := c.CreateProject(ctx, api.Project{Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
	_, err = c.CreatePipeline(ctx, "demo", api.CreatePipelineRequest{Name: "train", PipelineSpec: api.PipelineSpec{Steps: []api.Step{{Name: "a", Command: []string{"true"}, DependsOn: []string{"b"}}, {Name: "b", Command: []string{"x"}, DependsOn: []string{"a"}}}}})
	t.Logf("cycle: %v", err)
	_, err = c.CreatePipeline(ctx, "demo", api.CreatePipelineRequest{Name: "train", PipelineSpec: api.PipelineSpec{Steps: []api.Step{{Name: "a"}}}})
	t.Logf("nocmd: %v", err)
	_, err = c.CreatePipeline(ctx, "demo", api.CreatePipelineRequest{Name: "Bad Name", PipelineSpec: api.PipelineSpec{Steps: []api.Step{{Name: "a", Command: []string{"x"}}}}})
	t.Logf("badname: %v", err)
	m, err := c.CreateModel(ctx, "demo", api.CreateModelRequest{Name: "m", ModelSpec: api.ModelSpec{Gates: []api.Gate{{Metric: "auc", Op: ">=", Threshold: 0.8}}}})
	t.Logf("model: %+v %v", m, err)
	v, err := c.CreateModelVersion(ctx, "demo", "m", api.ModelVersionSpec{ArtifactURI: "s3://b/k", Metrics: map[string]float64{"auc": 0.7}})
	t.Logf("version: %+v %v", v, err)
	_, err = c.CreateModelAlias(ctx, "demo", "m", api.ModelAlias{Alias: "champion", Version: 1})
	t.Logf("alias: %v", err)
	sc, err := c.CreateSchedule(ctx, "demo", api.CreateScheduleRequest{Name: "s", ScheduleSpec: api.ScheduleSpec{Pipeline: "nope", Cron: "0 3 * * *"}})
	t.Logf("sched: %+v %v", sc, err)
	_, err = c.CreateSchedule(ctx, "demo", api.CreateScheduleRequest{Name: "s", ScheduleSpec: api.ScheduleSpec{Pipeline: "nope", Cron: "0 3 * *"}})
	t.Logf("sched: %v", err)
}
