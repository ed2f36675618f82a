package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// runOps runs one mlopsd command in-process against ts and returns its
// stdout and stderr apart.
func runOps(t *testing.T, ts *testserver.Instance, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot("test")
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	if ts != nil {
		args = append(args, "--endpoint", ts.URL, "--token", ts.AdminToken)
	}
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func waitRun(t *testing.T, c *client.Client, pipeline string, id int64, done func(*api.PipelineRun) bool) *api.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.GetRun(context.Background(), "default", pipeline, id)
		if err != nil {
			t.Fatal(err)
		}
		if done(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s %d is still %s", pipeline, id, r.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunsListLogsCancel(t *testing.T) {
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "train", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{{Name: "fit", Command: []string{"sh", "-c", "echo hello from fit; sleep 0.3; echo done fitting"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, "default", "train", nil)
	if err != nil {
		t.Fatal(err)
	}

	// --follow prints the output as it comes and the step's progress on stderr.
	out, progress, err := runOps(t, ts, "runs", "logs", "train", "1", "--follow")
	if err != nil {
		t.Fatalf("runs logs --follow: %v\n%s", err, progress)
	}
	if out != "[fit] hello from fit\n[fit] done fitting\n" {
		t.Errorf("followed output = %q", out)
	}
	for _, want := range []string{"step fit succeeded", "run 1 succeeded"} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}
	waitRun(t, c, "train", run.ID, func(r *api.PipelineRun) bool { return r.State == api.RunSucceeded })

	out, _, err = runOps(t, ts, "runs", "logs", "train", "1", "--step", "fit")
	if err != nil || !strings.Contains(out, "[fit] hello from fit\n") {
		t.Errorf("runs logs = %q, %v", out, err)
	}

	out, _, err = runOps(t, ts, "runs", "list", "train")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runs list:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID  STATE") || !strings.Contains(lines[0], "MODEL VERSION") ||
		!strings.Contains(lines[1], "succeeded") || !strings.Contains(lines[1], "manual") {
		t.Errorf("runs list table:\n%s", out)
	}

	out, _, err = runOps(t, ts, "runs", "list", "train", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var runs []api.PipelineRun
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatalf("runs list json: %v\n%s", err, out)
	}
	if len(runs) != 1 || runs[0].ID != 1 || runs[0].State != api.RunSucceeded {
		t.Errorf("runs list json = %+v", runs)
	}

	// A long run is cancelled.
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "slow", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{{Name: "wait", Command: []string{"sleep", "60"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	slow, err := c.CreateRun(ctx, "default", "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, c, "slow", slow.ID, func(r *api.PipelineRun) bool { return r.State == api.RunRunning })
	out, _, err = runOps(t, ts, "runs", "cancel", "slow", "1")
	if err != nil || !strings.HasPrefix(out, "run 1 ") {
		t.Fatalf("runs cancel = %q, %v", out, err)
	}
	waitRun(t, c, "slow", slow.ID, func(r *api.PipelineRun) bool { return r.State == api.RunCancelled })
	// Following a run that did not succeed fails, naming its state.
	if _, _, err := runOps(t, ts, "runs", "logs", "slow", "1", "-f"); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("runs logs --follow of a cancelled run: %v", err)
	}
}

// writeCSV writes 300 rows: x ~ normal(mean, 1) and a plan.
func writeCSV(t *testing.T, path string, seed uint64, mean float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("x,plan\n")
	plans := []string{"basic", "pro"}
	for i := range 300 {
		fmt.Fprintf(&b, "%.4f,%s\n", mean+r.NormFloat64(), plans[i%2])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMonitorsEvaluate(t *testing.T) {
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	dir := t.TempDir()
	writeCSV(t, filepath.Join(dir, "base.csv"), 1, 0)
	writeCSV(t, filepath.Join(dir, "cur.csv"), 2, 3) // x moved by three standard deviations
	for _, name := range []string{"base", "cur"} {
		if _, err := c.CreateDataset(ctx, "default", api.CreateDatasetRequest{Name: name,
			DatasetSpec: api.DatasetSpec{URI: filepath.Join(dir, name+".csv"), Format: "csv"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "churn-drift",
		MonitorSpec: api.MonitorSpec{Model: "churn", BaselineDataset: "base", CurrentDataset: "cur"}}); err != nil {
		t.Fatal(err)
	}

	out, _, err := runOps(t, ts, "monitors", "evaluate", "churn-drift")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("monitors evaluate:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "FEATURE") || !strings.Contains(lines[0], "CURRENT N") {
		t.Fatalf("monitors evaluate:\n%s", out)
	}
	var xLine string
	for _, l := range lines[1:3] {
		if strings.HasPrefix(l, "x ") {
			xLine = l
		}
	}
	if f := strings.Fields(xLine); len(f) != 7 || f[1] != "numeric" || f[2] != "psi" || f[5] != "yes" || f[6] != "300" {
		t.Errorf("row of x = %q", xLine)
	}
	if !strings.Contains(lines[3], "drifting") || !strings.Contains(lines[3], "drift share") || !strings.Contains(lines[3], "retrain") {
		t.Errorf("summary = %q", lines[3])
	}

	out, _, err = runOps(t, ts, "monitors", "evaluate", "churn-drift", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var ev api.MonitorEvaluation
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("evaluate json: %v\n%s", err, out)
	}
	if ev.Monitor != "churn-drift" || ev.Status != "drifting" || len(ev.Features) != 2 {
		t.Errorf("evaluation = %+v", ev)
	}
}

func TestDeploymentsStatusWaitsForHealthy(t *testing.T) {
	was := deploymentPollInterval
	deploymentPollInterval = 100 * time.Millisecond
	t.Cleanup(func() { deploymentPollInterval = was })
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"predictions":[1]}`))
	}))
	t.Cleanup(backend.Close)
	artifact := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(artifact, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModelVersion(ctx, "default", "churn", api.ModelVersionSpec{ArtifactURI: "file://" + artifact}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: api.DeploymentSpec{
		Model: "churn", Version: 1, Runtime: api.DeploymentRuntime{URL: backend.URL},
	}}); err != nil {
		t.Fatal(err)
	}

	out, progress, err := runOps(t, ts, "deployments", "status", "churn-api", "--wait", "--timeout", "30s")
	if err != nil {
		t.Fatalf("deployments status --wait: %v\n%s", err, progress)
	}
	for _, want := range []string{"phase:    healthy\n", "stable:   v1\n", "url:      " + ts.URL} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(progress, "healthy: stable v1") {
		t.Errorf("progress:\n%s", progress)
	}

	out, _, err = runOps(t, ts, "deployments", "status", "churn-api", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d api.Deployment
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Phase != phaseHealthy || d.StableVersion != 1 {
		t.Errorf("status json = %+v, %v", d, err)
	}
}

func TestOpsFlagErrors(t *testing.T) {
	t.Setenv(EnvToken, "")
	_, _, err := runOps(t, nil, "runs", "list", "train", "--endpoint", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), EnvToken) {
		t.Errorf("without a token: %v", err)
	}
	_, _, err = runOps(t, nil, "deployments", "status", "d", "--token", "secret-token", "--output", "yaml")
	if err == nil || !strings.Contains(err.Error(), "table or json") {
		t.Errorf("--output yaml: %v", err)
	}
	// The token is never shown, not even in help.
	t.Setenv(EnvToken, "secret-token-from-env")
	out, _, err := runOps(t, nil, "runs", "list", "--help")
	if err != nil || strings.Contains(out, "secret-token-from-env") || !strings.Contains(out, EnvToken) {
		t.Errorf("help = %v\n%s", err, out)
	}
}
