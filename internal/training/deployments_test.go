package training_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

var (
	modelServerOnce sync.Once
	modelServerBin  string
	modelServerErr  error
)

// modelServer builds examples/modelserver once per test binary.
func modelServer(t *testing.T) string {
	t.Helper()
	modelServerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "modelserver")
		if err != nil {
			modelServerErr = err
			return
		}
		modelServerBin = filepath.Join(dir, "modelserver")
		if out, err := exec.Command("go", "build", "-o", modelServerBin, "../../examples/modelserver").CombinedOutput(); err != nil {
			modelServerErr = fmt.Errorf("build modelserver: %v\n%s", err, out)
		}
	})
	if modelServerErr != nil {
		t.Fatal(modelServerErr)
	}
	return modelServerBin
}

const artifact = `{"kind":"logistic-regression","label":"churned","features":["age"],"mean":[40],"std":[10],"weights":[1.5],"bias":-0.2,"threshold":0.5}`

// registerVersions creates model churn with n versions whose artifacts the model server can load.
func registerVersions(t *testing.T, c *client.Client, n int) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "model.bin.json")
	if err := os.WriteFile(path, []byte(artifact), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := c.CreateModelVersion(ctx, "default", "churn", api.ModelVersionSpec{ArtifactURI: "file://" + path}); err != nil {
			t.Fatal(err)
		}
	}
}

// faultyVersion is a command runtime whose given version answers every prediction with 500.
func faultyVersion(bin string, version int64, env string) []string {
	return []string{"sh", "-c", fmt.Sprintf(`if [ "$MLOPS_MODEL_VERSION" = %d ]; then export %s; fi; exec %s`, version, env, bin)}
}

func waitPhase(t *testing.T, c *client.Client, name, phase string, within time.Duration, also func(*api.Deployment) bool) *api.Deployment {
	t.Helper()
	var d *api.Deployment
	until(t, time.Now().Add(within), "deployment "+name+" "+phase, func() (bool, string) {
		var err error
		if d, err = c.GetDeployment(context.Background(), "default", name); err != nil {
			t.Fatal(err)
		}
		return d.Phase == phase && (also == nil || also(d)), fmt.Sprintf("%s stable %d canary %d@%d%%: %s", d.Phase, d.StableVersion, d.CanaryVersion, d.CanaryWeight, d.Message)
	})
	return d
}

// predict sends n predictions through the gateway and counts answers per version and status.
func predict(t *testing.T, ts *testserver.Instance, d *api.Deployment, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		req, _ := http.NewRequest(http.MethodPost, d.URL+"/predict", bytes.NewReader([]byte(`{"instances":[{"age":52}]}`)))
		req.Header.Set("Authorization", "Bearer "+ts.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err) // not Fatal: traffic goroutines call this too
			return seen
		}
		resp.Body.Close()
		seen[fmt.Sprintf("v%s %d", resp.Header.Get(gateway.VersionHeader), resp.StatusCode)]++
	}
	return seen
}

// traffic sends predictions until the returned stop is called, adding the
// answers per version and status to total (under mu) when it is not nil.
func traffic(t *testing.T, ts *testserver.Instance, d *api.Deployment, mu *sync.Mutex, total map[string]int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			seen := predict(t, ts, d, 5)
			if total != nil {
				mu.Lock()
				for k, v := range seen {
					total[k] += v
				}
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return func() { close(done); wg.Wait() }
}

func TestDeploymentCanaryPromotes(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	bin := modelServer(t)
	registerVersions(t, c, 2)
	steps := api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{20, 50}, StepInterval: "1s"}
	minReq := int64(5)
	steps.MinRequests = &minReq
	d, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: api.DeploymentSpec{
		Model: "churn", Version: 1, Runtime: api.DeploymentRuntime{Command: []string{bin}}, Replicas: 2, Strategy: &steps,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d.URL != ts.URL+"/v1/projects/default/deployments/churn-api" {
		t.Fatalf("url %q", d.URL)
	}
	d = waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, nil)
	if d.StableVersion != 1 || d.CanaryVersion != 0 {
		t.Fatalf("first rollout: %+v", d.DeploymentStatus)
	}
	if seen := predict(t, ts, d, 20); seen["v1 200"] != 20 {
		t.Fatalf("all traffic on version 1: %v", seen)
	}

	// Version 2 rolls out as a canary through 20% and 50% while traffic flows.
	spec := d.DeploymentSpec
	spec.Version = 2
	if _, err := c.UpdateDeployment(ctx, "default", "churn-api", spec, 0); err != nil {
		t.Fatal(err)
	}
	d = waitPhase(t, c, "churn-api", api.PhaseProgressing, 30*time.Second, func(d *api.Deployment) bool { return d.CanaryVersion == 2 })
	if d.CanaryWeight != 20 || d.StableVersion != 1 {
		t.Fatalf("canary start: %+v", d.DeploymentStatus)
	}
	total := map[string]int{}
	var mu sync.Mutex
	stop := traffic(t, ts, d, &mu, total)
	d = waitPhase(t, c, "churn-api", api.PhaseHealthy, 60*time.Second, func(d *api.Deployment) bool { return d.StableVersion == 2 })
	stop()
	if d.CanaryVersion != 0 || d.CanaryWeight != 0 || !strings.Contains(d.Message, "promoted") {
		t.Fatalf("after promotion: %+v", d.DeploymentStatus)
	}
	mu.Lock()
	if total["v1 200"] == 0 || total["v2 200"] == 0 {
		t.Errorf("both versions served during the rollout: %v", total)
	}
	mu.Unlock()
	if seen := predict(t, ts, d, 20); seen["v2 200"] != 20 {
		t.Fatalf("all traffic on version 2 after promotion: %v", seen)
	}
	// The old version was drained: its processes are gone.
	if r := ts.Models.Replicas("default/churn-api", 1); len(r) != 0 {
		t.Fatalf("version 1 still runs: %+v", r)
	}
	if r := ts.Models.Replicas("default/churn-api", 2); len(r) != 2 {
		t.Fatalf("version 2 runs %d replicas, want 2", len(r))
	}
}

func TestDeploymentCanaryRollsBackOnLatency(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	bin := modelServer(t)
	registerVersions(t, c, 2)
	minReq, p99 := int64(5), int64(100)
	spec := api.DeploymentSpec{
		Model: "churn", Version: 1, Runtime: api.DeploymentRuntime{Command: faultyVersion(bin, 2, "MLOPS_FAULT_LATENCY_MS=250")},
		Strategy: &api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{50}, StepInterval: "1s", MinRequests: &minReq, MaxLatencyP99Ms: &p99},
	}
	if _, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: spec}); err != nil {
		t.Fatal(err)
	}
	d := waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, nil)
	spec = d.DeploymentSpec
	spec.Version = 2
	if _, err := c.UpdateDeployment(ctx, "default", "churn-api", spec, 0); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, "churn-api", api.PhaseProgressing, 30*time.Second, func(d *api.Deployment) bool { return d.CanaryVersion == 2 })
	stop := traffic(t, ts, d, nil, nil)
	d = waitPhase(t, c, "churn-api", api.PhaseRolledBack, 30*time.Second, nil)
	stop()
	if d.StableVersion != 1 || !strings.Contains(d.Message, "p99 latency") || !strings.Contains(d.Message, "max_latency_p99_ms 100") {
		t.Fatalf("rollback: %+v", d.DeploymentStatus)
	}
	if r := ts.Models.Replicas("default/churn-api", 2); len(r) != 0 {
		t.Fatalf("the rolled-back version still runs: %+v", r)
	}
}

func TestDeploymentCanaryRollsBackOnErrors(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	bin := modelServer(t)
	registerVersions(t, c, 2)
	minReq := int64(5)
	spec := api.DeploymentSpec{
		Model: "churn", Version: 1, Runtime: api.DeploymentRuntime{Command: faultyVersion(bin, 2, "MLOPS_FAULT_ERROR_RATE=1")},
		Strategy: &api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{50}, StepInterval: "1s", MinRequests: &minReq},
	}
	if _, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: spec}); err != nil {
		t.Fatal(err)
	}
	d := waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, nil)
	spec = d.DeploymentSpec
	spec.Version = 2
	if _, err := c.UpdateDeployment(ctx, "default", "churn-api", spec, 0); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, "churn-api", api.PhaseProgressing, 30*time.Second, func(d *api.Deployment) bool { return d.CanaryVersion == 2 })
	stop := traffic(t, ts, d, nil, nil)
	d = waitPhase(t, c, "churn-api", api.PhaseRolledBack, 30*time.Second, nil)
	stop()
	if d.StableVersion != 1 || d.CanaryVersion != 0 || d.RolledBackVersion != 2 || !strings.Contains(d.Message, "error rate") {
		t.Fatalf("rollback: %+v", d.DeploymentStatus)
	}
	time.Sleep(300 * time.Millisecond) // in-flight requests of the stopped canary drain
	if seen := predict(t, ts, d, 20); seen["v1 200"] != 20 {
		t.Fatalf("after the rollback all traffic is on version 1: %v", seen)
	}
}

func TestDeploymentFollowsAlias(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	bin := modelServer(t)
	registerVersions(t, c, 2)
	if _, err := c.CreateModelAlias(ctx, "default", "churn", api.ModelAlias{Alias: "champion", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: api.DeploymentSpec{
		Model: "churn", Alias: "champion", Runtime: api.DeploymentRuntime{Command: []string{bin}},
	}}); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, func(d *api.Deployment) bool { return d.StableVersion == 1 })
	if _, err := c.UpdateModelAlias(ctx, "default", "churn", "champion", api.ModelAliasUpdate{Version: 2}, 0); err != nil {
		t.Fatal(err)
	}
	d := waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, func(d *api.Deployment) bool { return d.StableVersion == 2 })
	if d.TargetVersion != 2 {
		t.Fatalf("%+v", d.DeploymentStatus)
	}
	if seen := predict(t, ts, d, 10); seen["v2 200"] != 10 {
		t.Fatalf("traffic after the alias moved: %v", seen)
	}

	// Deleting the deployment stops routing.
	if err := c.DeleteDeployment(ctx, "default", "churn-api", 0); err != nil {
		t.Fatal(err)
	}
	until(t, time.Now().Add(15*time.Second), "gateway forgets the deployment", func() (bool, string) {
		seen := predict(t, ts, d, 1)
		return seen["v 404"] == 1, fmt.Sprint(seen)
	})
}

// A server restarted mid-canary brings the stable and canary versions back up
// at the canary's weight and carries the rollout on from the step it was in.
func TestDeploymentRestartMidRolloutResumes(t *testing.T) {
	t.Parallel()
	bin := modelServer(t)
	dbURL := storetest.DatabaseURL(t)
	n1 := startNode(t, dbURL, nodeOptions{})
	c, ctx := n1.Client, context.Background()
	registerVersions(t, c, 2)
	minReq := int64(3)
	spec := api.DeploymentSpec{
		Model: "churn", Version: 1, Runtime: api.DeploymentRuntime{Command: []string{bin}},
		Strategy: &api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{30, 60}, StepInterval: "2s", MinRequests: &minReq},
	}
	if _, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: spec}); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, nil)
	spec.Version = 2
	if _, err := c.UpdateDeployment(ctx, "default", "churn-api", spec, 0); err != nil {
		t.Fatal(err)
	}
	// No traffic: the canary waits at its first step.
	waitPhase(t, c, "churn-api", api.PhaseProgressing, 30*time.Second, func(d *api.Deployment) bool { return d.CanaryVersion == 2 })
	n1.Stop()

	n2 := startNode(t, dbURL, nodeOptions{})
	c = n2.Client
	d, err := c.GetDeployment(ctx, "default", "churn-api")
	if err != nil {
		t.Fatal(err)
	}
	if d.Phase != api.PhaseProgressing || d.StableVersion != 1 || d.CanaryVersion != 2 || d.CanaryWeight != 30 || d.CanaryStep != 0 {
		t.Fatalf("after the restart: %+v", d.DeploymentStatus)
	}
	// Both versions serve again behind the new gateway.
	ts := &testserver.Instance{URL: n2.URL, AdminToken: n2.AdminToken}
	until(t, time.Now().Add(30*time.Second), "both versions answer", func() (bool, string) {
		seen := predict(t, ts, d, 20)
		return seen["v1 200"] > 0 && seen["v2 200"] > 0, fmt.Sprint(seen)
	})
	stop := traffic(t, ts, d, nil, nil)
	defer stop()
	d = waitPhase(t, c, "churn-api", api.PhaseHealthy, 60*time.Second, func(d *api.Deployment) bool { return d.StableVersion == 2 })
	if !strings.Contains(d.Message, "promoted after 2 canary steps") {
		t.Fatalf("%+v", d.DeploymentStatus)
	}
}

// A monitor whose current data is a deployment's logged traffic sees too
// little data before requests come, then the drift of what clients send.
func TestMonitorReadsLoggedTraffic(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	bin := modelServer(t)
	registerVersions(t, c, 1)
	basePath := filepath.Join(t.TempDir(), "base.csv")
	var b strings.Builder
	b.WriteString("age\n")
	for i := range 300 {
		fmt.Fprintf(&b, "%d\n", 25+i%30) // ages 25-54
	}
	if err := os.WriteFile(basePath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(ctx, "default", api.CreateDatasetRequest{Name: "train", DatasetSpec: api.DatasetSpec{URI: basePath, Format: "csv"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: api.DeploymentSpec{
		Model: "churn", Version: 1, Runtime: api.DeploymentRuntime{Command: []string{bin}},
		PredictionLogging: &api.PredictionLogging{SampleRate: 1},
	}}); err != nil {
		t.Fatal(err)
	}
	d := waitPhase(t, c, "churn-api", api.PhaseHealthy, 30*time.Second, nil)
	if d.PredictionLogging.MaxEntries != 10000 {
		t.Fatalf("max_entries default: %+v", d.PredictionLogging)
	}
	if _, err := c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "live", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "train", Deployment: "churn-api",
	}}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, c, "live", api.MonitorInsufficientData)
	if m.CurrentWindow != 10000 {
		t.Fatalf("current_window default: %d", m.CurrentWindow)
	}

	// Clients send older customers than the model learned on.
	for i := range 60 {
		body := fmt.Sprintf(`{"instances":[{"age":%d}]}`, 70+i%20)
		req, _ := http.NewRequest(http.MethodPost, d.URL+"/predict", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ts.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("predict: %d", resp.StatusCode)
		}
	}
	var ev *api.MonitorEvaluation
	until(t, time.Now().Add(15*time.Second), "logged traffic drifts", func() (bool, string) {
		var err error
		if ev, err = c.EvaluateMonitor(ctx, "default", "live"); err != nil {
			t.Fatal(err)
		}
		// Logging is asynchronous: wait for all 60 rows.
		return ev.Status == api.MonitorDrifting && ev.CurrentRows == 60, fmt.Sprintf("%s with %d current rows: %s", ev.Status, ev.CurrentRows, ev.Error)
	})
	if ev.Deployment != "churn-api" || ev.CurrentRows != 60 || ev.Features[0].CurrentCount != 60 {
		t.Fatalf("evaluation of logged traffic: %+v", ev)
	}
}
