package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// datasetFile is a CSV written where the test server may read it.
type datasetFile struct {
	path   string
	digest string
	size   int64
}

// writeDatasetFile (over)writes name under dir and returns its path and expected digest.
func writeDatasetFile(t *testing.T, dir, name, content string) datasetFile {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return datasetFile{path: p, digest: "sha256:" + hex.EncodeToString(sum[:]), size: int64(len(content))}
}

// datasetConfig is a CSV dataset with a declared schema; extra goes inside the block.
func datasetConfig(name, uri, description, extra string) string {
	return fmt.Sprintf(`
resource "mlops_dataset" "test" {
  name        = %[1]q
  uri         = %[2]q
  format      = "csv"
  description = %[3]q
  labels      = { team = "risk" }
  schema = [
    { name = "id", type = "integer" },
    { name = "amount", type = "number" },
  ]
%[4]s
}
`, name, uri, description, extra)
}

const (
	salesV1 = "id,amount\n1,10.5\n2,20\n3,7.25\n"
	salesV2 = salesV1 + "4,1\n"
	salesV3 = salesV2 + "5,2.5\n"
)

func TestAccDatasetResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	dir := t.TempDir()
	v1 := writeDatasetFile(t, dir, "sales-v1.csv", salesV1)
	v2 := writeDatasetFile(t, dir, "sales-v2.csv", salesV2)
	v1URI := "file://" + v1.path
	const res = "mlops_dataset.test"

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, name := range []string{"sales", "sales-eu"} {
				if _, err := srv.Client.GetDataset(ctx, "default", name); !errors.Is(err, client.ErrNotFound) {
					return fmt.Errorf("dataset %s still exists after destroy (err=%v)", name, err)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(datasetConfig("sales", v1URI, "Daily sales", "")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("default/sales")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("digest"), knownvalue.StringExact(v1.digest)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("row_count"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("size_bytes"), knownvalue.Int64Exact(v1.size)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("risk")})),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("schema").AtSliceIndex(1).AtMapKey("type"), knownvalue.StringExact("number")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("expected_digest"), knownvalue.Null()),
				},
				Check: func(*terraform.State) error {
					d, err := srv.Client.GetDataset(ctx, "default", "sales")
					if err != nil || d.URI != v1URI || d.Digest != v1.digest || d.RowCount != 3 || !d.Profiled || len(d.Schema) != 2 {
						return fmt.Errorf("server holds %+v, %v", d, err)
					}
					return nil
				},
			},
			{
				ResourceName:            res,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(datasetConfig("sales", v1URI, "Daily sales", "")),
				ResourceName:    res,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// New content at a new URI, pinned: one more version, profiled again.
				Config: srv.Config(datasetConfig("sales", v2.path, "Daily sales", fmt.Sprintf(`
  expected_digest = %q
  timeouts        = { update = "2m" }
`, v2.digest))),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(res, tfjsonpath.New("digest")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("digest"), knownvalue.StringExact(v2.digest)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("row_count"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("expected_digest"), knownvalue.StringExact(v2.digest)),
				},
			},
			{
				// The file changes behind Terraform's back and only description changes in
				// the configuration: the update re-reads the file, so the content
				// attributes are unknown in the plan rather than wrongly promised.
				PreConfig: func() { writeDatasetFile(t, dir, "sales-v2.csv", salesV3) },
				Config:    srv.Config(datasetConfig("sales", v2.path, "Daily sales, all regions", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(res, tfjsonpath.New("version")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("row_count"), knownvalue.Int64Exact(5)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("expected_digest"), knownvalue.Null()),
				},
			},
			{
				// Same content, new description: the version stays.
				Config: srv.Config(datasetConfig("sales", v2.path, "Daily sales (EU)", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("description"), knownvalue.StringExact("Daily sales (EU)")),
				},
			},
			{
				// Only timeouts change: nothing is sent, so the plan keeps the content attributes.
				Config: srv.Config(datasetConfig("sales", v2.path, "Daily sales (EU)", `  timeouts = { create = "20m" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.Int64Exact(3)),
					},
				},
			},
			{
				// Drift: someone edits the description outside Terraform; the plan repairs it.
				PreConfig: func() {
					d, err := srv.Client.GetDataset(ctx, "default", "sales")
					if err != nil {
						t.Fatal(err)
					}
					d.Description = "edited by hand"
					if _, err := srv.Client.UpdateDataset(ctx, "default", "sales", d.DatasetSpec, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(datasetConfig("sales", v2.path, "Daily sales (EU)", `  timeouts = { create = "20m" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("description"), knownvalue.StringExact("Daily sales (EU)")),
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteDataset(ctx, "default", "sales", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(datasetConfig("sales", v2.path, "Daily sales (EU)", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
			},
			{
				// Renaming replaces.
				Config: srv.Config(datasetConfig("sales-eu", v2.path, "Daily sales (EU)", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("default/sales-eu")),
				},
			},
			{
				Config:   srv.Config(datasetConfig("sales-eu", v2.path, "Daily sales (EU)", "")),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

func TestAccDatasetResource_invalid(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	dir := t.TempDir()
	good := writeDatasetFile(t, dir, "good.csv", salesV1)
	bad := writeDatasetFile(t, dir, "bad.csv", "id,amount\n1,2\nx,3\n")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(`
resource "mlops_dataset" "test" {
  name   = "bad-format"
  uri    = "s3://bucket/sales.xlsx"
  format = "xlsx"
}
`),
				ExpectError: regexp.MustCompile(`(?s)format.*value must be one of`),
				PlanOnly:    true,
			},
			{
				Config:      srv.Config(datasetConfig("bad-digest", good.path, "", `  expected_digest = "sha256:ABC"`)),
				ExpectError: regexp.MustCompile(`must look like sha256`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(`
resource "mlops_dataset" "test" {
  name   = "dup-column"
  uri    = "s3://bucket/sales.csv"
  format = "csv"
  schema = [{ name = "id", type = "integer" }, { name = "id", type = "string" }]
}
`),
				ExpectError: regexp.MustCompile(`column "id" is declared twice`),
				PlanOnly:    true,
			},
			{
				// The content does not fit the declared schema: the server names column and row.
				Config:      srv.Config(datasetConfig("mismatch", bad.path, "", "")),
				ExpectError: regexp.MustCompile(`column "id": row 2: value "x" is\s+not\s+an\s+integer`),
			},
			{
				Config:      srv.Config(datasetConfig("pinned", good.path, "", fmt.Sprintf(`  expected_digest = "sha256:%064d"`, 0))),
				ExpectError: regexp.MustCompile(`(?s)has digest\s+` + regexp.QuoteMeta(good.digest) + `.*not\s+the\s+pinned`),
			},
		},
	})
}

// Empty collections and strings written in the configuration stay as written.
func TestAccDatasetResource_emptyValues(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	config := srv.Config(`
resource "mlops_dataset" "test" {
  name        = "remote"
  uri         = "s3://bucket/sales.parquet"
  format      = "parquet"
  description = ""
  labels      = {}
  schema      = []
}
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_dataset.test", tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue("mlops_dataset.test", tfjsonpath.New("schema"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("mlops_dataset.test", tfjsonpath.New("digest"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_dataset.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
			},
			{Config: config, PlanOnly: true},
		},
	})
}
