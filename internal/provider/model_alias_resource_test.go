package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// modelAliasBase is model "churn" gated on auc >= 0.8, with versions v1 (auc 0.85) and v2 (auc 0.9).
const modelAliasBase = `
resource "mlops_model" "test" {
  name  = "churn"
  gates = [{ metric = "auc", op = ">=", threshold = 0.8 }]
}

resource "mlops_model_version" "v1" {
  model        = mlops_model.test.name
  artifact_uri = "s3://models/churn/1"
  metrics      = { auc = 0.85 }
}

resource "mlops_model_version" "v2" {
  model        = mlops_model.test.name
  artifact_uri = "s3://models/churn/2"
  metrics      = { auc = 0.9 }
  depends_on   = [mlops_model_version.v1] # the server numbers versions in creation order
}
`

// modelAliasConfig adds mlops_model_alias "test" with the given alias pointing at the given version expression.
func modelAliasConfig(alias, version string) string {
	return modelAliasBase + fmt.Sprintf(`
resource "mlops_model_alias" "test" {
  model   = mlops_model.test.name
  alias   = %[1]q
  version = %[2]s
}
`, alias, version)
}

// modelGateRefusal matches the gate refusal however Terraform wraps its lines.
func modelGateRefusal(prefix string) *regexp.Regexp {
	msg := `version 1 of model "churn" may not take alias "champion": metric "auc" is 0.7, gate requires auc >= 0.8`
	return regexp.MustCompile(`(?s)` + prefix + `.*` + strings.ReplaceAll(regexp.QuoteMeta(msg), " ", `\s+`))
}

// modelAliasAt checks through the client where an alias of default/churn points; 0 means it must not exist.
func modelAliasAt(srv *acctest.Server, alias string, version int64) func(*terraform.State) error {
	return func(*terraform.State) error {
		a, err := srv.Client.GetModelAlias(context.Background(), "default", "churn", alias)
		if version == 0 {
			if !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("alias %s still exists: %+v (err=%v)", alias, a, err)
			}
			return nil
		}
		if err != nil || a.Version != version {
			return fmt.Errorf("alias %s: want version %d, server holds %+v, %v", alias, version, a, err)
		}
		return nil
	}
}

func TestAccModelAliasResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "churn"),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(modelAliasConfig("champion", "mlops_model_version.v1.version")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_alias.test", tfjsonpath.New("id"), knownvalue.StringExact("default/churn/champion")),
					statecheck.ExpectKnownValue("mlops_model_alias.test", tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue("mlops_model_alias.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
				},
				Check: modelAliasAt(srv, "champion", 1),
			},
			{
				ResourceName:      "mlops_model_alias.test",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(modelAliasConfig("champion", "mlops_model_version.v1.version")),
				ResourceName:    "mlops_model_alias.test",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// Promotion: the alias moves from version 1 to 2 in place.
				Config: srv.Config(modelAliasConfig("champion", "mlops_model_version.v2.version")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_alias.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_alias.test", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
				Check: modelAliasAt(srv, "champion", 2),
			},
			{
				// Drift: someone moves the alias back by hand; the plan moves it again.
				PreConfig: func() {
					if _, err := srv.Client.UpdateModelAlias(ctx, "default", "churn", "champion", api.ModelAliasUpdate{Version: 1}, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(modelAliasConfig("champion", "mlops_model_version.v2.version")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_alias.test", plancheck.ResourceActionUpdate)},
				},
				Check: modelAliasAt(srv, "champion", 2),
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteModelAlias(ctx, "default", "churn", "champion", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(modelAliasConfig("champion", "mlops_model_version.v2.version")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_alias.test", plancheck.ResourceActionCreate)},
				},
				Check: modelAliasAt(srv, "champion", 2),
			},
			{
				// Renaming replaces.
				Config: srv.Config(modelAliasConfig("production", "mlops_model_version.v2.version")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_alias.test", plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(modelAliasAt(srv, "champion", 0), modelAliasAt(srv, "production", 2)),
			},
			{
				Config:   srv.Config(modelAliasConfig("production", "mlops_model_version.v2.version")),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

// A version that fails a gate is refused at plan time when it already exists.
func TestAccModelAliasResource_gateFailsAtPlan(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	const base = `
resource "mlops_model" "test" {
  name  = "churn"
  gates = [{ metric = "auc", op = ">=", threshold = 0.8, aliases = ["champion"] }]
}

resource "mlops_model_version" "weak" {
  model        = mlops_model.test.name
  artifact_uri = "s3://models/churn/weak"
  metrics      = { auc = 0.7 }
}
`
	alias := func(name string) string {
		return fmt.Sprintf(`
resource "mlops_model_alias" "test" {
  model   = mlops_model.test.name
  alias   = %q
  version = mlops_model_version.weak.version
}
`, name)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "churn"),
		Steps: []resource.TestStep{
			{Config: srv.Config(base)},
			{
				Config:      srv.Config(base + alias("champion")),
				PlanOnly:    true, // the refusal comes from the plan, before any apply
				ExpectError: modelGateRefusal(`Version fails a gate of the model`),
			},
			{
				// The gate guards only champion: another alias may point at the version.
				Config: srv.Config(base + alias("challenger")),
				Check:  modelAliasAt(srv, "challenger", 1),
			},
		},
	})
}

// A version created in the same apply cannot be checked at plan time; the apply refuses it.
func TestAccModelAliasResource_gateFailsAtApply(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: srv.Config(`
resource "mlops_model" "test" {
  name  = "churn"
  gates = [{ metric = "auc", op = ">=", threshold = 0.8 }]
}

resource "mlops_model_version" "weak" {
  model        = mlops_model.test.name
  artifact_uri = "s3://models/churn/weak"
  metrics      = { auc = 0.7 }
}

resource "mlops_model_alias" "test" {
  model   = mlops_model.test.name
  alias   = "champion"
  version = mlops_model_version.weak.version
}
`),
			// Refused during the apply, once the version exists (by the alias's apply-time plan or the server's 422).
			ExpectError: modelGateRefusal(`running apply`),
		}},
	})
}

// Replacing the version an alias points at deletes the alias on the server
// (with the old version); the alias is recreated at the new version in the same apply.
func TestAccModelAliasResource_versionReplaced(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	config := func(uri string) string {
		return srv.Config(fmt.Sprintf(`
resource "mlops_model" "test" {
  name = "churn"
}

resource "mlops_model_version" "test" {
  model        = mlops_model.test.name
  artifact_uri = %q
}

resource "mlops_model_alias" "test" {
  model   = mlops_model.test.name
  alias   = "champion"
  version = mlops_model_version.test.version
}
`, uri))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "churn"),
		Steps: []resource.TestStep{
			{
				Config: config("s3://models/churn/1"),
				Check:  modelAliasAt(srv, "champion", 1),
			},
			{
				// The plan after this apply must be empty (the framework checks it).
				Config: config("s3://models/churn/2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectResourceAction("mlops_model_alias.test", plancheck.ResourceActionUpdate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_alias.test", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
				},
				Check: modelAliasAt(srv, "champion", 2),
			},
			{
				// Out of band, the version is deleted (taking the alias with it): both are planned for creation.
				PreConfig: func() {
					if err := srv.Client.DeleteModelVersion(context.Background(), "default", "churn", 2, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: config("s3://models/churn/2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("mlops_model_alias.test", plancheck.ResourceActionCreate),
					},
				},
				Check: modelAliasAt(srv, "champion", 3),
			},
			{
				Config:   config("s3://models/churn/2"),
				PlanOnly: true,
			},
		},
	})
}
