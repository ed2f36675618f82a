package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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

// modelConfig is an mlops_model "test" with the given name, description and extra attributes (gates, labels...).
func modelConfig(name, description, extra string) string {
	return fmt.Sprintf(`
resource "mlops_model" "test" {
  name        = %[1]q
  description = %[2]q
%[3]s
}
`, name, description, extra)
}

const modelGatesAUC = `
  labels = { team = "growth" }
  gates = [
    { metric = "auc", op = ">=", threshold = 0.8 },
    { metric = "latency_ms", op = "<", threshold = 50, aliases = ["champion"] },
  ]
`

// modelGone checks through the client that a model no longer exists.
func modelGone(srv *acctest.Server, project string, names ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		for _, name := range names {
			if _, err := srv.Client.GetModel(context.Background(), project, name); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("model %s/%s still exists after destroy (err=%v)", project, name, err)
			}
		}
		return nil
	}
}

func TestAccModelResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "churn", "churn-v2"),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(modelConfig("churn", "Churn model", modelGatesAUC)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("id"), knownvalue.StringExact("default/churn")),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{
						"team": knownvalue.StringExact("growth"),
					})),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("gates"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"metric": knownvalue.StringExact("auc"), "op": knownvalue.StringExact(">="),
							"threshold": knownvalue.Float64Exact(0.8), "aliases": knownvalue.Null(),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"metric": knownvalue.StringExact("latency_ms"), "op": knownvalue.StringExact("<"),
							"threshold": knownvalue.Float64Exact(50),
							"aliases":   knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("champion")}),
						}),
					})),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("latest_version"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("force_destroy"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetModel(ctx, "default", "churn")
					if err != nil || m.Description != "Churn model" || len(m.Gates) != 2 || m.Gates[1].Aliases[0] != "champion" || m.Labels["team"] != "growth" {
						return fmt.Errorf("server holds %+v, %v", m, err)
					}
					return nil
				},
			},
			{
				ResourceName:            "mlops_model.test",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"force_destroy"},
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(modelConfig("churn", "Churn model", modelGatesAUC)),
				ResourceName:    "mlops_model.test",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// Gates and description change in place.
				Config: srv.Config(modelConfig("churn", "Churn prediction", `
  labels = { team = "growth" }
  gates  = [{ metric = "auc", op = ">", threshold = 0.85 }]
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("description"), knownvalue.StringExact("Churn prediction")),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("gates"), knownvalue.ListSizeExact(1)),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("gates").AtSliceIndex(0).AtMapKey("threshold"), knownvalue.Float64Exact(0.85)),
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetModel(ctx, "default", "churn")
					if err != nil || len(m.Gates) != 1 || m.Gates[0].Op != ">" || m.Gates[0].Threshold != 0.85 {
						return fmt.Errorf("server holds %+v, %v", m, err)
					}
					return nil
				},
			},
			{
				// Drift: someone edits the gates outside Terraform; the plan repairs them.
				PreConfig: func() {
					spec := api.ModelSpec{Description: "Churn prediction", Labels: map[string]string{"team": "growth"}, Gates: []api.Gate{{Metric: "auc", Op: ">=", Threshold: 0.5}}}
					if _, err := srv.Client.UpdateModel(ctx, "default", "churn", spec, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(modelConfig("churn", "Churn prediction", `
  labels = { team = "growth" }
  gates  = [{ metric = "auc", op = ">", threshold = 0.85 }]
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model.test", plancheck.ResourceActionUpdate)},
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteModel(ctx, "default", "churn", false, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(modelConfig("churn", "Churn prediction", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model.test", plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// Unset collections stay null.
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("gates"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("labels"), knownvalue.Null()),
				},
			},
			{
				// Renaming replaces.
				Config: srv.Config(modelConfig("churn-v2", "Churn prediction", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model.test", plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: modelGone(srv, "default", "churn"),
			},
			{
				// Explicitly empty collections round-trip although the server omits them.
				Config: srv.Config(modelConfig("churn-v2", "Churn prediction", `
  labels = {}
  gates  = [{ metric = "auc", op = ">=", threshold = 0.8, aliases = [] }]
`)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("labels"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("gates").AtSliceIndex(0).AtMapKey("aliases"), knownvalue.ListSizeExact(0)),
				},
			},
			{
				Config: srv.Config(modelConfig("churn-v2", "Churn prediction", `
  labels = {}
  gates  = [{ metric = "auc", op = ">=", threshold = 0.8, aliases = [] }]
`)),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

func TestAccModelResource_invalidGate(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      srv.Config(modelConfig("churn", "", `  gates = [{ metric = "auc", op = "=>", threshold = 0.8 }]`)),
				ExpectError: regexp.MustCompile(`(?s)gates\[0\]\.op.*value must be one of`),
				PlanOnly:    true,
			},
			{
				Config:      srv.Config(modelConfig("churn", "", `  gates = [{ metric = "auc", op = ">=", threshold = 0.8, aliases = ["Not Valid"] }]`)),
				ExpectError: regexp.MustCompile(`is not a valid name`),
				PlanOnly:    true,
			},
		},
	})
}

// A model with versions refuses deletion unless force_destroy is set.
func TestAccModelResource_forceDestroy(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "fraud"),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(modelConfig("fraud", "Fraud model", "")),
			},
			{
				// Versions registered out of band (say, by a training job): latest_version follows, without a diff.
				PreConfig: func() {
					for _, uri := range []string{"s3://models/fraud/1", "s3://models/fraud/2"} {
						if _, err := srv.Client.CreateModelVersion(ctx, "default", "fraud", api.ModelVersionSpec{ArtifactURI: uri}); err != nil {
							t.Fatal(err)
						}
					}
				},
				Config: srv.Config(modelConfig("fraud", "Fraud model", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("latest_version"), knownvalue.Int64Exact(2)),
				},
			},
			{
				// Removing the model from the configuration is refused while it has versions.
				Config:      srv.ProviderBlock(),
				ExpectError: regexp.MustCompile(`(?s)Model still has versions.*force_destroy`),
			},
			{
				// force_destroy changes in place, without a server write.
				Config: srv.Config(modelConfig("fraud", "Fraud model", "  force_destroy = true")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("force_destroy"), knownvalue.Bool(true)),
				},
			},
			{
				Config: srv.ProviderBlock(),
				Check: func(*terraform.State) error {
					if _, err := srv.Client.GetModelVersion(ctx, "default", "fraud", 1); !errors.Is(err, client.ErrNotFound) {
						return fmt.Errorf("version 1 of fraud survived force_destroy (err=%v)", err)
					}
					return modelGone(srv, "default", "fraud")(nil)
				},
			},
		},
	})
}
