package provider_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
)

func TestAccDatasetDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	f := writeDatasetFile(t, t.TempDir(), "reading.csv", salesV1)
	const ds = "data.mlops_dataset.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: srv.Config(datasetConfig("reading", f.path, "For reading", "") + `
data "mlops_dataset" "test" {
  name = mlops_dataset.test.name
}

# Absent optional values read as empty, not null.
resource "mlops_dataset" "remote" {
  name   = "remote"
  uri    = "s3://bucket/remote.csv"
  format = "csv"
}

data "mlops_dataset" "remote" {
  project = "default"
  name    = mlops_dataset.remote.name
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("id"), knownvalue.StringExact("default/reading")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("project"), knownvalue.StringExact("default")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("uri"), knownvalue.StringExact(f.path)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("format"), knownvalue.StringExact("csv")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("description"), knownvalue.StringExact("For reading")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("risk")})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("schema"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact("id"), "type": knownvalue.StringExact("integer")}),
					knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact("amount"), "type": knownvalue.StringExact("number")}),
				})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("digest"), knownvalue.StringExact(f.digest)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("row_count"), knownvalue.Int64Exact(3)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("size_bytes"), knownvalue.Int64Exact(f.size)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("expected_digest"), knownvalue.StringExact("")),
				statecheck.ExpectKnownValue("data.mlops_dataset.remote", tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
				statecheck.ExpectKnownValue("data.mlops_dataset.remote", tfjsonpath.New("schema"), knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownValue("data.mlops_dataset.remote", tfjsonpath.New("digest"), knownvalue.StringExact("")),
				statecheck.ExpectKnownValue("data.mlops_dataset.remote", tfjsonpath.New("row_count"), knownvalue.Int64Exact(0)),
			},
		}},
	})
}
