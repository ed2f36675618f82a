package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// awaitRun polls a run until it ends. On a timeout the error carries the
// run and its step logs, which is what one needs to see why.
func awaitRun(c *client.Client, project, pipeline string, id int64, timeout time.Duration) (*api.PipelineRun, error) {
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		r, err := c.GetRun(ctx, project, pipeline, id)
		if err != nil {
			return nil, err
		}
		if api.RunFinished(r.State) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("run %d of %s/%s is still %s after %s%s", id, project, pipeline, r.State, timeout, runLogs(c, project, pipeline, id))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runLogs formats the kept output of a run's steps for a failure message.
func runLogs(c *client.Client, project, pipeline string, id int64) string {
	logs, err := c.GetRunLogs(context.Background(), project, pipeline, id, "")
	if err != nil {
		return fmt.Sprintf("\n(logs: %v)", err)
	}
	var b strings.Builder
	for _, l := range logs.Logs {
		fmt.Fprintf(&b, "\n--- step %s:\n%s", l.Step, l.Text)
	}
	return b.String()
}

// startRun starts a run through the API and waits for it to end.
func startRun(t *testing.T, srv *acctest.Server, project, pipeline string, params map[string]string, timeout time.Duration) *api.PipelineRun {
	t.Helper()
	r, err := srv.Client.CreateRun(context.Background(), project, pipeline, params)
	if err != nil {
		t.Fatalf("start a run of %s/%s: %v", project, pipeline, err)
	}
	done, err := awaitRun(srv.Client, project, pipeline, r.ID, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// wrappedError matches a message Terraform may have wrapped across lines;
// " .* " skips anything in between, newlines included.
func wrappedError(want string) *regexp.Regexp {
	return regexp.MustCompile("(?s)" + strings.ReplaceAll(want, " ", `\s+`))
}

func TestAccPipelineRunDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	// train succeeds only with epochs 20, which run 1 asks for and run 2 does not.
	_, err := srv.Client.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "runs", PipelineSpec: api.PipelineSpec{
		Parameters: map[string]string{"epochs": "10"},
		Steps: []api.Step{
			{Name: "prepare", Command: []string{"sh", "-c", "echo preparing"}},
			{Name: "train", Command: []string{"sh", "-c", `test "$MLOPS_PARAM_EPOCHS" = 20`}, DependsOn: []string{"prepare"}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "idle", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{{Name: "train", Command: []string{"true"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if r := startRun(t, srv, "default", "runs", map[string]string{"epochs": "20"}, time.Minute); r.State != api.RunSucceeded {
		t.Fatalf("run 1 ended %s: %s%s", r.State, r.Error, runLogs(srv.Client, "default", "runs", r.ID))
	}
	if r := startRun(t, srv, "default", "runs", nil, time.Minute); r.State != api.RunFailed {
		t.Fatalf("run 2 ended %s, want failed", r.State)
	}

	const first, latest = "data.mlops_pipeline_run.first", "data.mlops_pipeline_run.latest"
	rfc3339 := knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`))
	succeededStep := func(name string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"name":      knownvalue.StringExact(name),
			"state":     knownvalue.StringExact("succeeded"),
			"attempts":  knownvalue.Int64Exact(1),
			"exit_code": knownvalue.Int64Exact(0),
			"error":     knownvalue.Null(),
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(`
data "mlops_pipeline_run" "first" {
  pipeline = "runs"
  run_id   = 1
}

data "mlops_pipeline_run" "latest" {
  project  = "default"
  pipeline = "runs"
}

data "mlops_pipeline" "runs" {
  name = "runs"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(first, tfjsonpath.New("id"), knownvalue.StringExact("default/runs/1")),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("trigger"), knownvalue.StringExact("manual")),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("parameters"), knownvalue.MapExact(map[string]knownvalue.Check{"epochs": knownvalue.StringExact("20")})),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("state"), knownvalue.StringExact("succeeded")),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("error"), knownvalue.Null()),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("started_at"), rfc3339),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("finished_at"), rfc3339),
					// The steps wrote no model.json: nothing registered, nothing promoted.
					statecheck.ExpectKnownValue(first, tfjsonpath.New("model"), knownvalue.Null()),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("model_version"), knownvalue.Null()),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("promoted"), knownvalue.Null()),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("promotion_reason"), knownvalue.Null()),
					statecheck.ExpectKnownValue(first, tfjsonpath.New("steps"), knownvalue.ListExact([]knownvalue.Check{
						succeededStep("prepare"), succeededStep("train"),
					})),

					statecheck.ExpectKnownValue(latest, tfjsonpath.New("id"), knownvalue.StringExact("default/runs/2")),
					statecheck.ExpectKnownValue(latest, tfjsonpath.New("run_id"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(latest, tfjsonpath.New("parameters"), knownvalue.MapExact(map[string]knownvalue.Check{"epochs": knownvalue.StringExact("10")})),
					statecheck.ExpectKnownValue(latest, tfjsonpath.New("state"), knownvalue.StringExact("failed")),
					statecheck.ExpectKnownValue(latest, tfjsonpath.New("error"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(latest, tfjsonpath.New("steps").AtSliceIndex(0), succeededStep("prepare")),
					statecheck.ExpectKnownValue(latest, tfjsonpath.New("steps").AtSliceIndex(1), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name":      knownvalue.StringExact("train"),
						"state":     knownvalue.StringExact("failed"),
						"attempts":  knownvalue.Int64Exact(1),
						"exit_code": knownvalue.Int64Exact(1),
						"error":     knownvalue.NotNull(),
					})),

					statecheck.ExpectKnownValue("data.mlops_pipeline.runs", tfjsonpath.New("last_run_id"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.mlops_pipeline.runs", tfjsonpath.New("last_run_state"), knownvalue.StringExact("failed")),
				},
			},
			{
				Config: srv.Config(`
data "mlops_pipeline_run" "latest" {
  pipeline = "idle"
}
`),
				ExpectError: wrappedError(`Pipeline has no runs .* "idle" in project "default" has not run yet`),
			},
			{
				Config: srv.Config(`
data "mlops_pipeline_run" "latest" {
  pipeline = "nope"
}
`),
				ExpectError: wrappedError(`read pipeline nope in project default .* 404 Not Found`),
			},
			{
				Config: srv.Config(`
data "mlops_pipeline_run" "missing" {
  pipeline = "runs"
  run_id   = 99
}
`),
				ExpectError: wrappedError(`read run 99 of pipeline runs in project default .* run 99 of pipeline "runs" in project "default" not found`),
			},
		},
	})
}
