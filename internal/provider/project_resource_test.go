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

func projectConfig(name, description string) string {
	return fmt.Sprintf(`
resource "mlops_project" "test" {
  name        = %[1]q
  description = %[2]q
}
`, name, description)
}

func TestAccProjectResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := srv.Client.GetProject(ctx, "churn"); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("project churn still exists after destroy (err=%v)", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(projectConfig("churn", "Churn models")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_project.test", tfjsonpath.New("id"), knownvalue.StringExact("churn")),
					statecheck.ExpectKnownValue("mlops_project.test", tfjsonpath.New("description"), knownvalue.StringExact("Churn models")),
				},
				Check: func(*terraform.State) error {
					p, err := srv.Client.GetProject(ctx, "churn")
					if err != nil || p.Description != "Churn models" {
						return fmt.Errorf("server holds %+v, %v", p, err)
					}
					return nil
				},
			},
			{
				ResourceName:      "mlops_project.test",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(projectConfig("churn", "Churn models")),
				ResourceName:    "mlops_project.test",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				Config: srv.Config(projectConfig("churn", "Churn prediction")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_project.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_project.test", tfjsonpath.New("description"), knownvalue.StringExact("Churn prediction")),
				},
			},
			{
				// Drift: someone edits the description outside Terraform; the plan repairs it.
				PreConfig: func() {
					if _, err := srv.Client.UpdateProject(ctx, "churn", api.ProjectUpdate{Description: "edited by hand"}, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(projectConfig("churn", "Churn prediction")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_project.test", plancheck.ResourceActionUpdate)},
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteProject(ctx, "churn", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(projectConfig("churn", "Churn prediction")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_project.test", plancheck.ResourceActionCreate)},
				},
			},
			{
				// Renaming replaces.
				Config: srv.Config(projectConfig("churn-v2", "Churn prediction")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_project.test", plancheck.ResourceActionDestroyBeforeCreate)},
				},
			},
			{
				Config:   srv.Config(projectConfig("churn-v2", "Churn prediction")),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

func TestAccProjectResource_invalidName(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      srv.Config(projectConfig("Not_Valid!", "")),
			ExpectError: regexp.MustCompile(`is not a valid name`),
			PlanOnly:    true,
		}},
	})
}

func TestAccProvider_wrongToken(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      srv.ProviderBlockWithToken("mlops_wrong") + projectConfig("p1", ""),
			ExpectError: regexp.MustCompile(`(?s)token was refused.*MLOPS_TOKEN`),
		}},
	})
}

func TestAccProjectDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: srv.Config(projectConfig("reading", "For reading") + `
data "mlops_project" "test" {
  name = mlops_project.test.name
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.mlops_project.test", tfjsonpath.New("description"), knownvalue.StringExact("For reading")),
				statecheck.ExpectKnownValue("data.mlops_project.test", tfjsonpath.New("id"), knownvalue.StringExact("reading")),
			},
		}},
	})
}
