package provider_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
)

// TestAccDeploymentDataSource reads a deployment of a url runtime: a model
// server that already runs, which mlopsd only routes to.
func TestAccDeploymentDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/predict" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"predictions":[{"churned":true}]}`)
			return
		}
		w.WriteHeader(http.StatusOK) // health checks
	}))
	t.Cleanup(backend.Close)
	const addr = "data.mlops_deployment.test"
	config := srv.Config(deploymentStackConfig("s3://models/churn/model.bin") + fmt.Sprintf(`
resource "mlops_deployment" "test" {
  name               = "churn-api"
  model              = mlops_model.churn.name
  version            = mlops_model_version.v1.version
  runtime            = { url = %q }
  description        = "Scores customers"
  prediction_logging = { sample_rate = 1, max_entries = 50 }
  labels             = { team = "growth" }
}

data "mlops_deployment" "test" {
  name = mlops_deployment.test.name
}
`, backend.URL+"/v{version}"))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/churn-api")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("project"), knownvalue.StringExact("default")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("model"), knownvalue.StringExact("churn")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("alias"), knownvalue.StringExact("")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("runtime"), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"command":     knownvalue.ListSizeExact(0),
					"url":         knownvalue.StringExact(backend.URL + "/v{version}"),
					"health_path": knownvalue.StringExact("/healthz"),
					"env":         knownvalue.MapSizeExact(0),
				})),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("replicas"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("strategy").AtMapKey("type"), knownvalue.StringExact("all_at_once")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("strategy").AtMapKey("steps"), knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("strategy").AtMapKey("auto_rollback"), knownvalue.Null()),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("prediction_logging"), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"sample_rate": knownvalue.Float64Exact(1),
					"max_entries": knownvalue.Int64Exact(50),
				})),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("description"), knownvalue.StringExact("Scores customers")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("growth")})),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("url"), knownvalue.StringExact(srv.URL+"/v1/projects/default/deployments/churn-api")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("phase"), knownvalue.StringExact("healthy")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("stable_version"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("canary_version"), knownvalue.Int64Exact(0)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("message"), knownvalue.StringExact("")),
			},
			Check: func(*terraform.State) error {
				if got := deploymentPredict(srv, "churn-api"); got != "v1 200" {
					return fmt.Errorf("prediction through the gateway answered %q", got)
				}
				return nil
			},
		}},
	})
}
