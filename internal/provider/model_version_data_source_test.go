package provider_test

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
)

func TestAccModelVersionDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	modelCreateDataset(t, srv, "train")
	ds := "data.mlops_model_version."
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// champion holds version 1, while version 2 is the latest.
				Config: srv.Config(modelAliasConfig("champion", "mlops_model_version.v1.version") + `
resource "mlops_model_version" "v3" {
  model           = mlops_model.test.name
  artifact_uri    = "s3://models/churn/3"
  metrics         = { auc = 0.6 }
  params          = { depth = "6" }
  dataset         = "train"
  pipeline_run_id = "run-3"
  description     = "too shallow"
  labels          = { stage = "dev" }
  depends_on      = [mlops_model_version.v2]
}

data "mlops_model_version" "by_version" {
  model   = mlops_model.test.name
  version = mlops_model_version.v3.version
}

# Deploy whatever version holds champion.
data "mlops_model_version" "champion" {
  model      = mlops_model.test.name
  alias      = mlops_model_alias.test.alias
  depends_on = [mlops_model_alias.test]
}

data "mlops_model_version" "latest" {
  project    = "default"
  model      = mlops_model.test.name
  depends_on = [mlops_model_version.v3]
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("id"), knownvalue.StringExact("default/churn/3")),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("artifact_uri"), knownvalue.StringExact("s3://models/churn/3")),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("metrics"), knownvalue.MapExact(map[string]knownvalue.Check{"auc": knownvalue.Float64Exact(0.6)})),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("params"), knownvalue.MapExact(map[string]knownvalue.Check{"depth": knownvalue.StringExact("6")})),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("dataset"), knownvalue.StringExact("train")),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("dataset_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("pipeline_run_id"), knownvalue.StringExact("run-3")),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("description"), knownvalue.StringExact("too shallow")),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"stage": knownvalue.StringExact("dev")})),
					statecheck.ExpectKnownValue(ds+"by_version", tfjsonpath.New("gate_results"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"metric": knownvalue.StringExact("auc"), "op": knownvalue.StringExact(">="), "threshold": knownvalue.Float64Exact(0.8),
							"value": knownvalue.Float64Exact(0.6), "passed": knownvalue.Bool(false),
						}),
					})),

					statecheck.ExpectKnownValue(ds+"champion", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(ds+"champion", tfjsonpath.New("artifact_uri"), knownvalue.StringExact("s3://models/churn/1")),
					statecheck.ExpectKnownValue(ds+"champion", tfjsonpath.New("gate_results").AtSliceIndex(0).AtMapKey("passed"), knownvalue.Bool(true)),
					// Absent lineage is null; absent maps are empty.
					statecheck.ExpectKnownValue(ds+"champion", tfjsonpath.New("dataset"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds+"champion", tfjsonpath.New("dataset_version"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds+"champion", tfjsonpath.New("params"), knownvalue.MapSizeExact(0)),

					statecheck.ExpectKnownValue(ds+"latest", tfjsonpath.New("version"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(ds+"latest", tfjsonpath.New("id"), knownvalue.StringExact("default/churn/3")),
				},
			},
		},
	})
}

func TestAccModelVersionDataSource_errors(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(`
data "mlops_model_version" "test" {
  model   = "churn"
  version = 1
  alias   = "champion"
}
`),
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Combination.*cannot be specified when`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(`
resource "mlops_model" "test" {
  name = "empty"
}

data "mlops_model_version" "test" {
  model = mlops_model.test.name
}
`),
				ExpectError: regexp.MustCompile(`(?s)Model has no versions.*"empty"`),
			},
			{
				Config: srv.Config(`
resource "mlops_model" "test" {
  name = "empty"
}

data "mlops_model_version" "test" {
  model = mlops_model.test.name
  alias = "champion"
}
`),
				ExpectError: regexp.MustCompile(`(?s)404 Not Found: alias\s+"champion" of model "empty" in project "default" not found`),
			},
		},
	})
}
