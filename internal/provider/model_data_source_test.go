package provider_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
)

func TestAccModelDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: srv.Config(modelConfig("churn", "Churn model", modelGatesAUC) + `
resource "mlops_model_version" "v1" {
  model        = mlops_model.test.name
  artifact_uri = "s3://models/churn/1"
  metrics      = { auc = 0.9, latency_ms = 20 }
}

resource "mlops_model_alias" "champion" {
  model   = mlops_model.test.name
  alias   = "champion"
  version = mlops_model_version.v1.version
}

data "mlops_model" "test" {
  name       = mlops_model.test.name
  depends_on = [mlops_model_alias.champion]
}

resource "mlops_model" "bare" {
  name = "bare"
}

data "mlops_model" "bare" {
  project = "default"
  name    = mlops_model.bare.name
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("id"), knownvalue.StringExact("default/churn")),
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("description"), knownvalue.StringExact("Churn model")),
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{
					"team": knownvalue.StringExact("growth"),
				})),
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("gates"), knownvalue.ListSizeExact(2)),
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("gates").AtSliceIndex(1).AtMapKey("aliases"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("champion")})),
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("latest_version"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue("data.mlops_model.test", tfjsonpath.New("aliases"), knownvalue.MapExact(map[string]knownvalue.Check{
					"champion": knownvalue.Int64Exact(1),
				})),
				// A model without labels, gates or aliases reads as empty collections.
				statecheck.ExpectKnownValue("data.mlops_model.bare", tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
				statecheck.ExpectKnownValue("data.mlops_model.bare", tfjsonpath.New("gates"), knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownValue("data.mlops_model.bare", tfjsonpath.New("aliases"), knownvalue.MapSizeExact(0)),
				statecheck.ExpectKnownValue("data.mlops_model.bare", tfjsonpath.New("latest_version"), knownvalue.Int64Exact(0)),
			},
		}},
	})
}
