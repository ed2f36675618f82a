package provider_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
)

func TestAccPipelineDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	const ds = "data.mlops_pipeline.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: srv.Config(pipelineConfig("reading", "For reading", `["python", "train.py"]`) + `
data "mlops_pipeline" "test" {
  project = "default"
  name    = mlops_pipeline.test.name
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("id"), knownvalue.StringExact("default/reading")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("description"), knownvalue.StringExact("For reading")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("parameters"), knownvalue.MapExact(map[string]knownvalue.Check{"epochs": knownvalue.StringExact("10")})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("risk")})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("datasets"), knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("promote_to"), knownvalue.StringExact("")),
				// The pipeline has not run.
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_run_id"), knownvalue.Null()),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_run_state"), knownvalue.Null()),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("steps"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name":       knownvalue.StringExact("prepare"),
						"command":    knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("python"), knownvalue.StringExact("prepare.py")}),
						"image":      knownvalue.StringExact(""), // absent values read as empty
						"env":        knownvalue.MapExact(map[string]knownvalue.Check{"DATA_DIR": knownvalue.StringExact("/data")}),
						"depends_on": knownvalue.ListSizeExact(0),
						"timeout":    knownvalue.StringExact(""),
						"retries":    knownvalue.Int64Exact(0),
					}),
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name":       knownvalue.StringExact("train"),
						"command":    knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("python"), knownvalue.StringExact("train.py")}),
						"image":      knownvalue.StringExact("python:3.12"),
						"env":        knownvalue.MapSizeExact(0),
						"depends_on": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("prepare")}),
						"timeout":    knownvalue.StringExact("30m"),
						"retries":    knownvalue.Int64Exact(2),
					}),
				})),
			},
		}},
	})
}
