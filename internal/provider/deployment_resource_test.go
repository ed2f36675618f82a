package provider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
)

var (
	deploymentModelServerOnce sync.Once
	deploymentModelServerBin  string
	deploymentModelServerErr  error
)

// deploymentModelServer builds examples/modelserver once per test binary.
func deploymentModelServer(t *testing.T) string {
	t.Helper()
	deploymentModelServerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "modelserver")
		if err != nil {
			deploymentModelServerErr = err
			return
		}
		deploymentModelServerBin = filepath.Join(dir, "modelserver")
		if out, err := exec.Command("go", "build", "-o", deploymentModelServerBin, "../../examples/modelserver").CombinedOutput(); err != nil {
			deploymentModelServerErr = fmt.Errorf("build modelserver: %v\n%s", err, out)
		}
	})
	if deploymentModelServerErr != nil {
		t.Fatal(deploymentModelServerErr)
	}
	return deploymentModelServerBin
}

// deploymentArtifact writes a model the model server can load (a logistic
// regression on age) and returns its file:// URI.
func deploymentArtifact(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.bin.json")
	const artifact = `{"kind":"logistic-regression","label":"churned","features":["age"],"mean":[40],"std":[10],"weights":[1.5],"bias":-0.2,"threshold":0.5}`
	if err := os.WriteFile(path, []byte(artifact), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// deploymentStackConfig declares model churn with versions 1 and 2 of the same artifact.
func deploymentStackConfig(artifactURI string) string {
	return fmt.Sprintf(`
resource "mlops_model" "churn" {
  name = "churn"
}

resource "mlops_model_version" "v1" {
  model        = mlops_model.churn.name
  artifact_uri = %[1]q
}

resource "mlops_model_version" "v2" {
  model        = mlops_model.churn.name
  artifact_uri = %[1]q
  depends_on   = [mlops_model_version.v1] # so that it is version 2
}
`, artifactURI)
}

// hclList writes strings as an HCL list.
func hclList(items ...string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// deploymentConfig declares mlops_deployment "test" named churn-api; target
// is the version or alias line, attrs are extra attribute lines.
func deploymentConfig(target string, command []string, attrs string) string {
	return fmt.Sprintf(`
resource "mlops_deployment" "test" {
  name  = "churn-api"
  model = mlops_model.churn.name
  %[1]s
  runtime = {
    command = %[2]s
  }
%[3]s
}
`, target, hclList(command...), attrs)
}

// deploymentCanary is a quick canary: two steps of a second, five requests each.
const deploymentCanary = `
  strategy = {
    type          = "canary"
    steps         = [20, 50]
    step_interval = "1s"
    min_requests  = 5
  }
`

// deploymentFaultyVersion is a command runtime whose given version answers every prediction with 500.
func deploymentFaultyVersion(bin string, version int) []string {
	return []string{"sh", "-c", fmt.Sprintf(`if [ "$MLOPS_MODEL_VERSION" = %d ]; then export MLOPS_FAULT_ERROR_RATE=1; fi; exec %s`, version, bin)}
}

// deploymentPredict sends one prediction through the gateway and says which
// version answered with which status, such as "v1 200".
func deploymentPredict(srv *acctest.Server, name string) string {
	url := srv.URL + "/v1/projects/default/deployments/" + name + "/predict"
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"instances":[{"age":52}]}`)))
	if err != nil {
		return "error " + err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "error " + err.Error()
	}
	resp.Body.Close()
	return fmt.Sprintf("v%s %d", resp.Header.Get(gateway.VersionHeader), resp.StatusCode)
}

// deploymentTraffic sends predictions to a deployment continuously, as a
// canary's analysis needs requests in every step.
type deploymentTraffic struct {
	srv  *acctest.Server
	name string
	mu   sync.Mutex
	seen map[string]int
	stop chan struct{}
	done chan struct{}
}

func newDeploymentTraffic(t *testing.T, srv *acctest.Server, name string) *deploymentTraffic {
	g := &deploymentTraffic{srv: srv, name: name}
	t.Cleanup(func() { g.Stop() }) // a failing step skips its Check
	return g
}

// Start starts sending, forgetting what was seen before.
func (g *deploymentTraffic) Start() {
	g.Stop()
	g.mu.Lock()
	g.seen = map[string]int{}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	stop, done := g.stop, g.done
	g.mu.Unlock()
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			got := deploymentPredict(g.srv, g.name)
			g.mu.Lock()
			g.seen[got]++
			g.mu.Unlock()
		}
	}()
}

// Stop stops sending and returns the answers seen per version and status.
func (g *deploymentTraffic) Stop() map[string]int {
	g.mu.Lock()
	stop, done := g.stop, g.done
	g.stop, g.done = nil, nil
	g.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.seen {
		out[k] = v
	}
	return out
}

// deploymentServes checks that n predictions are all answered 200 by version.
func deploymentServes(srv *acctest.Server, name string, version, n int) error {
	want := fmt.Sprintf("v%d 200", version)
	for range n {
		if got := deploymentPredict(srv, name); got != want {
			return fmt.Errorf("prediction answered %q, want %q", got, want)
		}
	}
	return nil
}

// deploymentAt checks the server's status of deployment name.
func deploymentAt(srv *acctest.Server, name string, ok func(*api.Deployment) bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		d, err := srv.Client.GetDeployment(context.Background(), api.DefaultProject, name)
		if err != nil {
			return err
		}
		if !ok(d) {
			return fmt.Errorf("deployment %s: spec %+v, status %+v", name, d.DeploymentSpec, d.DeploymentStatus)
		}
		return nil
	}
}

func deploymentGone(srv *acctest.Server, names ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		for _, n := range names {
			if _, err := srv.Client.GetDeployment(context.Background(), api.DefaultProject, n); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("deployment %s still exists after destroy (err=%v)", n, err)
			}
		}
		return nil
	}
}

// deploymentStatusChecks are state checks of the status of mlops_deployment.test.
func deploymentStatusChecks(phase string, target, stable, canary int64) []statecheck.StateCheck {
	const addr = "mlops_deployment.test"
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("phase"), knownvalue.StringExact(phase)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("target_version"), knownvalue.Int64Exact(target)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("stable_version"), knownvalue.Int64Exact(stable)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("canary_version"), knownvalue.Int64Exact(canary)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("canary_weight"), knownvalue.Int64Exact(0)),
	}
}

// TestAccDeploymentResource deploys version 1, rolls version 2 out as a
// canary while traffic flows, imports, repairs drift and destroys.
func TestAccDeploymentResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	bin := deploymentModelServer(t)
	stack := deploymentStackConfig(deploymentArtifact(t))
	const addr = "mlops_deployment.test"
	attrs := deploymentCanary + `  prediction_logging = { sample_rate = 0.5 }`
	v1 := srv.Config(stack + deploymentConfig("version = mlops_model_version.v1.version", []string{bin}, attrs))
	v2 := srv.Config(stack + deploymentConfig("version = mlops_model_version.v2.version", []string{bin}, attrs))
	traffic := newDeploymentTraffic(t, srv, "churn-api")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             deploymentGone(srv, "churn-api"),
		Steps: []resource.TestStep{
			{
				Config: v1,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						// The canary's defaults are known at plan time, so the plan shows them.
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("strategy").AtMapKey("max_error_rate"), knownvalue.Float64Exact(0.05)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("strategy").AtMapKey("auto_rollback"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("strategy").AtMapKey("min_requests"), knownvalue.Int64Exact(5)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("runtime").AtMapKey("health_path"), knownvalue.StringExact("/healthz")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("replicas"), knownvalue.Int64Exact(1)),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("phase")),
					},
				},
				ConfigStateChecks: append(deploymentStatusChecks("healthy", 1, 1, 0),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/churn-api")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("url"), knownvalue.StringExact(srv.URL+"/v1/projects/default/deployments/churn-api")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("alias"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("strategy"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"type":               knownvalue.StringExact("canary"),
						"steps":              knownvalue.ListExact([]knownvalue.Check{knownvalue.Int64Exact(20), knownvalue.Int64Exact(50)}),
						"step_interval":      knownvalue.StringExact("1s"),
						"max_error_rate":     knownvalue.Float64Exact(0.05),
						"max_latency_p99_ms": knownvalue.Null(),
						"min_requests":       knownvalue.Int64Exact(5),
						"auto_rollback":      knownvalue.Bool(true),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("rolled_back_version"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("prediction_logging"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"sample_rate": knownvalue.Float64Exact(0.5),
						"max_entries": knownvalue.Int64Exact(10000),
					})),
				),
				Check: func(*terraform.State) error { return deploymentServes(srv, "churn-api", 1, 10) },
			},
			{
				// Version 2 rolls out through 20% and 50%; the apply waits
				// for the promotion, which needs traffic at every step.
				PreConfig: traffic.Start,
				Config:    v2,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("stable_version")),
					},
				},
				ConfigStateChecks: append(deploymentStatusChecks("healthy", 2, 2, 0),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("message"), knownvalue.StringRegexp(regexp.MustCompile(`version 2 promoted after 2 canary steps`))),
				),
				Check: func(*terraform.State) error {
					seen := traffic.Stop()
					if seen["v1 200"] == 0 || seen["v2 200"] == 0 {
						return fmt.Errorf("both versions should have served during the rollout: %v", seen)
					}
					return deploymentServes(srv, "churn-api", 2, 10)
				},
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateId:           "default/churn-api",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				// Drift: someone scales the deployment and describes it; the plan puts it back.
				PreConfig: func() {
					d, err := srv.Client.GetDeployment(ctx, api.DefaultProject, "churn-api")
					if err != nil {
						t.Fatal(err)
					}
					d.Replicas, d.Description = 2, "scaled by hand"
					if _, err := srv.Client.UpdateDeployment(ctx, api.DefaultProject, "churn-api", d.DeploymentSpec, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: v2,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("replicas"), knownvalue.Int64Exact(1)),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.Null()),
					},
				},
				ConfigStateChecks: deploymentStatusChecks("healthy", 2, 2, 0),
				Check: deploymentAt(srv, "churn-api", func(d *api.Deployment) bool {
					return d.Replicas == 1 && d.Description == "" && d.Version == 2
				}),
			},
			{
				Config:   v2,
				PlanOnly: true, // the status moved with the rollouts: no diff
			},
		},
	})
}

// TestAccDeploymentResource_rollsBack: a canary that fails every request is
// rolled back; the apply fails with the analysis, and the stable version
// keeps serving.
func TestAccDeploymentResource_rollsBack(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	bin := deploymentModelServer(t)
	stack := deploymentStackConfig(deploymentArtifact(t))
	command := deploymentFaultyVersion(bin, 2)
	const addr = "mlops_deployment.test"
	const canary = `
  strategy = {
    type          = "canary"
    steps         = [50]
    step_interval = "1s"
    min_requests  = 5
  }
`
	v1 := srv.Config(stack + deploymentConfig("version = mlops_model_version.v1.version", command, canary))
	v2 := srv.Config(stack + deploymentConfig("version = mlops_model_version.v2.version", command, canary))
	traffic := newDeploymentTraffic(t, srv, "churn-api")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             deploymentGone(srv, "churn-api"),
		Steps: []resource.TestStep{
			{
				Config:            v1,
				ConfigStateChecks: deploymentStatusChecks("healthy", 1, 1, 0),
			},
			{
				PreConfig:   traffic.Start,
				Config:      v2,
				ExpectError: regexp.MustCompile(`(?s)deployment default/churn-api rolled back:.*error rate 1\.000.*exceeds\s+max_error_rate\s+0\.050`),
			},
			{
				// The new spec was saved: no diff, while the status tells
				// what happened and the stable version serves everything.
				PreConfig: func() { traffic.Stop() },
				Config:    v2,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: append(deploymentStatusChecks("rolled_back", 2, 1, 0),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("rolled_back_version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("message"), knownvalue.StringRegexp(regexp.MustCompile(`^rolled back to version 1: canary version 2 at 50%: error rate`))),
				),
				Check: resource.ComposeAggregateTestCheckFunc(
					deploymentAt(srv, "churn-api", func(d *api.Deployment) bool {
						return d.Phase == api.PhaseRolledBack && d.StableVersion == 1 && d.CanaryVersion == 0 && d.RolledBackVersion == 2
					}),
					func(*terraform.State) error {
						time.Sleep(300 * time.Millisecond) // in-flight requests of the stopped canary drain
						return deploymentServes(srv, "churn-api", 1, 10)
					},
				),
			},
			{
				// Back to the stable version: healthy again, the rollback forgotten.
				Config: v1,
				ConfigStateChecks: append(deploymentStatusChecks("healthy", 1, 1, 0),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("rolled_back_version"), knownvalue.Int64Exact(0)),
				),
			},
			{
				// Without traffic the canary cannot be judged: the apply gives
				// up at its timeout, saying where the rollout stands.
				Config:      srv.Config(stack + deploymentConfig("version = mlops_model_version.v2.version", command, canary+`  timeouts = { update = "12s" }`)),
				ExpectError: regexp.MustCompile(`(?s)Timed out waiting for deployment default/churn-api.*within 12s \(phase\s+progressing.*canary\s+version\s+2\s+at\s+50%.*timeouts\.update`),
			},
		},
	})
}

// TestAccDeploymentResource_followsAlias: a deployment following an alias
// rolls forward on the server when the alias moves.
func TestAccDeploymentResource_followsAlias(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	bin := deploymentModelServer(t)
	stack := deploymentStackConfig(deploymentArtifact(t))
	const addr = "mlops_deployment.test"
	config := func(version string) string {
		return srv.Config(stack + fmt.Sprintf(`
resource "mlops_model_alias" "champion" {
  model   = mlops_model.churn.name
  alias   = "champion"
  version = mlops_model_version.%s.version
}
`, version) + deploymentConfig("alias = mlops_model_alias.champion.alias", []string{bin}, `
  # Empty values round-trip as written.
  description = ""
  labels      = {}
`))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             deploymentGone(srv, "churn-api"),
		Steps: []resource.TestStep{
			{
				Config: config("v1"),
				ConfigStateChecks: append(deploymentStatusChecks("healthy", 1, 1, 0),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("alias"), knownvalue.StringExact("champion")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("strategy"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"type":               knownvalue.StringExact("all_at_once"),
						"steps":              knownvalue.Null(),
						"step_interval":      knownvalue.Null(),
						"max_error_rate":     knownvalue.Null(),
						"max_latency_p99_ms": knownvalue.Null(),
						"min_requests":       knownvalue.Null(),
						"auto_rollback":      knownvalue.Null(),
					})),
				),
				Check: func(*terraform.State) error { return deploymentServes(srv, "churn-api", 1, 5) },
			},
			{
				// Promoting version 2 changes the alias, not the deployment,
				// which rolls forward on the server.
				Config: config("v2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop)},
				},
				Check: func(*terraform.State) error {
					deadline := time.Now().Add(30 * time.Second)
					for {
						d, err := srv.Client.GetDeployment(context.Background(), api.DefaultProject, "churn-api")
						if err != nil {
							return err
						}
						if d.Phase == api.PhaseHealthy && d.StableVersion == 2 {
							return deploymentServes(srv, "churn-api", 2, 5)
						}
						if time.Now().After(deadline) {
							return fmt.Errorf("deployment did not follow the alias to version 2: %+v", d.DeploymentStatus)
						}
						time.Sleep(200 * time.Millisecond)
					}
				},
			},
			{
				// The next refresh shows the new version, without a diff.
				Config:            config("v2"),
				ConfigStateChecks: deploymentStatusChecks("healthy", 2, 2, 0),
			},
		},
	})
}

// deploymentError matches a diagnostic naming field, whose detail says want
// (Terraform may wrap it across lines).
func deploymentError(field, want string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + regexp.QuoteMeta(field) + `.*` + strings.ReplaceAll(regexp.QuoteMeta(want), " ", `\s+`))
}

func TestAccDeploymentResource_invalidConfig(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	step := func(target, runtime, attrs string, want *regexp.Regexp) resource.TestStep {
		return resource.TestStep{
			Config: srv.Config(fmt.Sprintf(`
resource "mlops_deployment" "test" {
  name    = "churn-api"
  model   = "churn"
  %s
  runtime = { %s }
%s
}
`, target, runtime, attrs)),
			ExpectError: want,
			PlanOnly:    true,
		}
	}
	const version, command = `version = 1`, `command = ["serve"]`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			step("version = 1\n  alias = \"champion\"", command, "",
				deploymentError("version = 1", "Exactly one of these attributes must be configured: [version,alias]")),
			step("", command, "",
				deploymentError("Missing Attribute Configuration", "Exactly one of these attributes must be configured: [version,alias]")),
			step(version, `command = ["serve"], url = "http://models.internal:8501"`, "",
				deploymentError("Invalid Attribute Combination", "Exactly one of these attributes must be configured: [runtime.command,runtime.url]")),
			step(version, `health_path = "/ready"`, "",
				deploymentError("Missing Attribute Configuration", "Exactly one of these attributes must be configured: [runtime.command,runtime.url]")),
			step(version, `command = []`, "",
				deploymentError("Invalid runtime.command", "set runtime.command (a server mlopsd launches) or runtime.url (one already running)")),
			step(version, `command = [""]`, "",
				deploymentError("Invalid runtime.command[0]", "is empty; name the program to run")),
			step(version, `url = "ftp://models.internal"`, "",
				deploymentError("Invalid runtime.url", `scheme "ftp" is not allowed; use http or https`)),
			step(version, `command = ["serve"], health_path = "healthz"`, "",
				deploymentError("Invalid runtime.health_path", `"healthz" must start with /`)),
			step(version, command, `strategy = { type = "blue_green" }`,
				deploymentError("strategy.type", `value must be one of: ["all_at_once" "canary"]`)),
			step(version, command, `strategy = { type = "canary", steps = [50, 10] }`,
				deploymentError("Invalid strategy.steps[1]", "10: steps are percentages from 1 to 99 in increasing order")),
			step(version, command, `strategy = { type = "canary", steps = [10, 100] }`,
				deploymentError("Invalid strategy.steps[1]", "100: steps are percentages from 1 to 99 in increasing order")),
			step(version, command, `strategy = { type = "canary" }`,
				deploymentError("Invalid strategy.steps", "a canary needs at least one step, such as [10, 50]")),
			step(version, command, `strategy = { steps = [10] }`,
				deploymentError("Invalid strategy.steps", `apply to type canary only; set strategy.type = "canary"`)),
			step(version, command, `strategy = { type = "canary", steps = [10], step_interval = "soon" }`,
				deploymentError("Invalid strategy.step_interval", `"soon" is not a duration`)),
			step(version, command, `strategy = { type = "canary", steps = [10], max_error_rate = 1.5 }`,
				deploymentError("strategy.max_error_rate", "value must be between 0.000000 and 1.000000")),
			step(version, command, `replicas = 0`,
				deploymentError("replicas", "value must be between 1 and 16")),
			step(`version = 0`, command, "",
				deploymentError("version", "value must be at least 1")),
			step(version, command, `prediction_logging = { sample_rate = 2 }`,
				deploymentError("prediction_logging.sample_rate", "value must be between 0.000000 and 1.000000")),
			step(`alias = "Champion!"`, command, "",
				deploymentError("Invalid alias", `"Champion!" is not a valid name`)),
		},
	})
}

// The server's refusal of a missing version lands on the version attribute.
func TestAccDeploymentResource_unknownVersion(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: srv.Config(`
resource "mlops_model" "churn" {
  name = "churn"
}
` + deploymentConfig("version = 7", []string{"serve"}, "")),
			ExpectError: deploymentError("version", `model "churn" has no version 7`),
		}},
	})
}
