package training_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// `mlopsd serve --role api` enqueues runs but never executes one: a run
// created through it stays queued. A `--role worker` process on the same
// database (here two processes on one SQLite file) executes it, in its own
// data directory, and the API process reports the outcome.
func TestRoleAPIEnqueuesAndWorkerExecutes(t *testing.T) {
	t.Parallel()
	bin := buildMlopsd(t)
	const admin = "roles-admin-token-0123456789abc"
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "mlops.db")
	serve := func(role string) *mlopsd {
		return startMlopsd(t, bin, []string{"MLOPSD_ADMIN_TOKEN=" + admin}, "--database", db, "--role", role,
			"--executor", "local", "--data-dir", filepath.Join(dir, role), "--data-root", dir)
	}
	apiProc := serve("api")
	c, ctx := apiProc.client(t, admin), context.Background()
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "p", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{sh("s", `echo ran > "$MLOPS_OUTPUT_DIR/proof.txt"`)},
	}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, "default", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Three seconds is three of the API process's poll intervals, were it polling.
	time.Sleep(3 * time.Second)
	if r, err := c.GetRun(ctx, "default", "p", run.ID); err != nil || r.State != api.RunQueued {
		t.Fatalf("a run created through --role api is %+v (%v); want it still queued", r, err)
	}
	runDir := func(role string) string { return filepath.Join(dir, role, "default", "p", "1") }
	if _, err := os.Stat(runDir("api")); !os.IsNotExist(err) {
		t.Fatalf("the api process made a run directory: %v", err)
	}

	serve("worker")
	done := waitRun(t, c, "default", "p", run.ID, 20*time.Second)
	if done.State != api.RunSucceeded {
		t.Fatalf("the worker ended the run %s: %s %+v", done.State, done.Error, done.Steps)
	}
	if b, err := os.ReadFile(filepath.Join(runDir("worker"), "outputs", "proof.txt")); err != nil || string(b) != "ran\n" {
		t.Fatalf("the worker's run directory has no output: %q %v", b, err)
	}
	if _, err := os.Stat(runDir("api")); !os.IsNotExist(err) {
		t.Fatalf("the api process made a run directory: %v", err)
	}
}
