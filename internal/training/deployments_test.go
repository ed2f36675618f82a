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
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[fmt.Sprintf("v%s %d", resp.Header.Get(gateway.VersionHeader), resp.StatusCode)]++
	}
	return seen
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
	stop := make(chan struct{})
	total := map[string]int{}
	var mu sync.Mutex
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			seen := predict(t, ts, d, 10)
			mu.Lock()
			for k, v := range seen {
				total[k] += v
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	d = waitPhase(t, c, "churn-api", api.PhaseHealthy, 60*time.Second, func(d *api.Deployment) bool { return d.StableVersion == 2 })
	close(stop)
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
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				predict(t, ts, d, 5)
			}
		}
	}()
	d = waitPhase(t, c, "churn-api", api.PhaseRolledBack, 30*time.Second, nil)
	close(stop)
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
