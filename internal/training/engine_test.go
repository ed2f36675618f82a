package training_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// waitRun polls a run until it ends.
func waitRun(t *testing.T, c *client.Client, project, pipeline string, id int64, within time.Duration) *api.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r, err := c.GetRun(context.Background(), project, pipeline, id)
		if err != nil {
			t.Fatal(err)
		}
		if api.RunFinished(r.State) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s after %s: %+v", id, r.State, within, r.Steps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sh(name, script string, deps ...string) api.Step {
	return api.Step{Name: name, Command: []string{"sh", "-c", script}, DependsOn: deps}
}

func stepState(r *api.PipelineRun, name string) api.RunStep {
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	return api.RunStep{}
}

// writeOutputs is a step script that writes the outputs mlopsd registers,
// with the auc that the shell expression auc gives.
func writeOutputs(auc string) string {
	return `printf '{"auc": %s, "loss": 0.2}' "` + auc + `" > "$MLOPS_OUTPUT_DIR/metrics.json"; ` +
		`echo model-bytes > "$MLOPS_OUTPUT_DIR/model.bin"; ` +
		`echo '{"model": "churn", "artifact": "model.bin"}' > "$MLOPS_OUTPUT_DIR/model.json"`
}

func TestRunRegistersAVersionWithLineageAndPromotes(t *testing.T) {
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	dir := t.TempDir()
	csv := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(csv, []byte("a\n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(ctx, "default", api.CreateDatasetRequest{Name: "train-data", DatasetSpec: api.DatasetSpec{URI: csv, Format: "csv"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn", ModelSpec: api.ModelSpec{
		Gates: []api.Gate{{Metric: "auc", Op: ">=", Threshold: 0.8, Aliases: []string{"champion"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "train", PipelineSpec: api.PipelineSpec{
		Parameters: map[string]string{"auc": "0.9"},
		Datasets:   []string{"train-data"},
		PromoteTo:  "champion",
		Steps: []api.Step{
			sh("check", `test "$MLOPS_DATASET_TRAIN_DATA_URI" = "`+csv+`" && echo checked`),
			sh("fit", writeOutputs("$MLOPS_PARAM_AUC"), "check"),
		},
	}}); err != nil {
		t.Fatal(err)
	}

	run, err := c.CreateRun(ctx, "default", "train", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.ID != 1 || run.State != api.RunQueued || run.Trigger != "manual" || run.Revision != 1 {
		t.Fatalf("created run %+v", run)
	}
	done := waitRun(t, c, "default", "train", run.ID, 30*time.Second)
	if done.State != api.RunSucceeded || done.ModelVersion != 1 || done.Promotion == nil || !done.Promotion.Promoted {
		t.Fatalf("run ended %+v (steps %+v)", done, done.Steps)
	}
	v, err := c.GetModelVersion(ctx, "default", "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.Metrics["auc"] != 0.9 || v.Dataset != "train-data" || v.DatasetVersion != 1 || v.PipelineRunID != "default/train/1" ||
		v.Params["auc"] != "0.9" || v.Labels["pipeline_revision"] != "1" || !strings.HasSuffix(v.ArtifactURI, "/outputs/model.bin") {
		t.Fatalf("registered version %+v", v)
	}
	if !v.GateResults[0].Passed {
		t.Fatalf("gates %+v", v.GateResults)
	}
	m, _ := c.GetModel(ctx, "default", "churn")
	if m.Aliases["champion"] != 1 {
		t.Fatalf("champion = %v, want version 1", m.Aliases)
	}
	logs, err := c.GetRunLogs(ctx, "default", "train", 1, "check")
	if err != nil || len(logs.Logs) != 1 || !strings.Contains(logs.Logs[0].Text, "checked") {
		t.Fatalf("logs %+v %v", logs, err)
	}

	// A version that fails the gate is registered but the alias stays, and the run says why.
	run, err = c.CreateRun(ctx, "default", "train", map[string]string{"auc": "0.5"})
	if err != nil {
		t.Fatal(err)
	}
	done = waitRun(t, c, "default", "train", run.ID, 30*time.Second)
	if done.State != api.RunSucceeded || done.ModelVersion != 2 || done.Promotion.Promoted ||
		!strings.Contains(done.Promotion.Reason, `metric "auc" is 0.5, gate requires auc >= 0.8`) {
		t.Fatalf("unpromoted run %+v / %+v", done, done.Promotion)
	}
	m, _ = c.GetModel(ctx, "default", "churn")
	if m.Aliases["champion"] != 1 || m.LatestVersion != 2 {
		t.Fatalf("after a failing version: aliases %v latest %d", m.Aliases, m.LatestVersion)
	}

	// Parameters the pipeline does not declare are refused.
	if _, err := c.CreateRun(ctx, "default", "train", map[string]string{"nope": "1"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("undeclared parameter: %v", err)
	}
}

func TestRunFailurePropagationAndCancel(t *testing.T) {
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "p", PipelineSpec: api.PipelineSpec{Steps: []api.Step{
		sh("a", "echo a"),
		sh("b", "echo failing >&2; exit 3", "a"),
		sh("c", "echo c", "b"),
		sh("d", "echo d"),
	}}}); err != nil {
		t.Fatal(err)
	}
	run, _ := c.CreateRun(ctx, "default", "p", nil)
	done := waitRun(t, c, "default", "p", run.ID, 30*time.Second)
	b := stepState(done, "b")
	if done.State != api.RunFailed || b.State != "failed" || b.ExitCode == nil || *b.ExitCode != 3 || !strings.Contains(b.LogTail, "failing") ||
		stepState(done, "c").State != "skipped" || stepState(done, "d").State != "succeeded" {
		t.Fatalf("failed run %+v", done.Steps)
	}

	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "slow", PipelineSpec: api.PipelineSpec{Steps: []api.Step{
		sh("wait", "sleep 60"), sh("after", "echo never", "wait"),
	}}}); err != nil {
		t.Fatal(err)
	}
	run, _ = c.CreateRun(ctx, "default", "slow", nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, _ := c.GetRun(ctx, "default", "slow", run.ID)
		if stepState(r, "wait").State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("step never started: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	if _, err := c.CancelRun(ctx, "default", "slow", run.ID); err != nil {
		t.Fatal(err)
	}
	done = waitRun(t, c, "default", "slow", run.ID, 20*time.Second)
	if done.State != api.RunCancelled || stepState(done, "after").State != "cancelled" || time.Since(start) > 15*time.Second {
		t.Fatalf("cancelled run %+v after %s", done.Steps, time.Since(start))
	}
}

func TestScheduleFiresRuns(t *testing.T) {
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	if _, err := c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "train", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{sh("fit", writeOutputs("0.9"))},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSchedule(ctx, "default", api.CreateScheduleRequest{Name: "often", ScheduleSpec: api.ScheduleSpec{Pipeline: "train", Interval: "10s"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		sc, err := c.GetSchedule(ctx, "default", "often")
		if err != nil {
			t.Fatal(err)
		}
		if sc.LastRunID > 0 && sc.LastRunState == api.RunSucceeded {
			r, _ := c.GetRun(ctx, "default", "train", sc.LastRunID)
			if r.Trigger != "schedule:often" || r.ModelVersion == 0 {
				t.Fatalf("scheduled run %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled run succeeded: %+v", sc)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Pausing stops the firings.
	if _, err := c.UpdateSchedule(ctx, "default", "often", api.ScheduleSpec{Pipeline: "train", Interval: "10s", Paused: true}, 0); err != nil {
		t.Fatal(err)
	}
	runs, _ := c.ListRuns(ctx, "default", "train")
	time.Sleep(12 * time.Second)
	after, _ := c.ListRuns(ctx, "default", "train")
	if len(after) != len(runs) {
		t.Fatalf("a paused schedule fired: %d runs before, %d after", len(runs), len(after))
	}
}
