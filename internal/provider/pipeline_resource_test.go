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
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// pipelineConfig is a two-step pipeline; trainCommand is an HCL list.
func pipelineConfig(name, description, trainCommand string) string {
	return fmt.Sprintf(`
resource "mlops_pipeline" "test" {
  name        = %[1]q
  description = %[2]q
  parameters  = { epochs = "10" }
  labels      = { team = "risk" }
  steps = [
    {
      name    = "prepare"
      command = ["python", "prepare.py"]
      env     = { DATA_DIR = "/data" }
    },
    {
      name       = "train"
      command    = %[3]s
      image      = "python:3.12"
      depends_on = ["prepare"]
      timeout    = "30m"
      retries    = 2
    },
  ]
}
`, name, description, trainCommand)
}

// pipelineStepsConfig is a pipeline with the given steps (HCL objects).
func pipelineStepsConfig(steps string) string {
	return fmt.Sprintf(`
resource "mlops_pipeline" "test" {
  name  = "invalid"
  steps = [%s]
}
`, steps)
}

func TestAccPipelineResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	const res = "mlops_pipeline.test"
	const trainV1, trainV2 = `["python", "train.py"]`, `["python", "train.py", "--epochs", "20"]`

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, name := range []string{"churn", "churn-v2"} {
				if _, err := srv.Client.GetPipeline(ctx, "default", name); !errors.Is(err, client.ErrNotFound) {
					return fmt.Errorf("pipeline %s still exists after destroy (err=%v)", name, err)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(pipelineConfig("churn", "Trains the churn model", trainV1)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("default/churn")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("steps").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name":       knownvalue.StringExact("prepare"),
						"command":    knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("python"), knownvalue.StringExact("prepare.py")}),
						"image":      knownvalue.Null(),
						"env":        knownvalue.MapExact(map[string]knownvalue.Check{"DATA_DIR": knownvalue.StringExact("/data")}),
						"depends_on": knownvalue.Null(),
						"timeout":    knownvalue.Null(),
						"retries":    knownvalue.Int64Exact(0),
					})),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("steps").AtSliceIndex(1).AtMapKey("retries"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					p, err := srv.Client.GetPipeline(ctx, "default", "churn")
					if err != nil || p.Revision != 1 || len(p.Steps) != 2 || p.Steps[1].Timeout != "30m" || p.Steps[1].Retries != 2 ||
						len(p.Steps[1].DependsOn) != 1 || p.Parameters["epochs"] != "10" {
						return fmt.Errorf("server holds %+v, %v", p, err)
					}
					return nil
				},
			},
			{
				ResourceName:      res,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(pipelineConfig("churn", "Trains the churn model", trainV1)),
				ResourceName:    res,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// A step's command changes: updated in place as a new revision.
				Config: srv.Config(pipelineConfig("churn", "Trains the churn model", trainV2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(res, tfjsonpath.New("revision")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(2)),
				},
				Check: func(*terraform.State) error {
					r, err := srv.Client.GetPipelineRevision(ctx, "default", "churn", 2)
					if err != nil || len(r.Steps) != 2 || len(r.Steps[1].Command) != 4 {
						return fmt.Errorf("revision 2 is %+v, %v", r, err)
					}
					return nil
				},
			},
			{
				// Only the description changes: no new revision, and the plan says so.
				Config: srv.Config(pipelineConfig("churn", "Trains and evaluates the churn model", trainV2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(2)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("description"), knownvalue.StringExact("Trains and evaluates the churn model")),
				},
			},
			{
				// Drift: someone edits a step outside Terraform; the plan repairs it.
				PreConfig: func() {
					p, err := srv.Client.GetPipeline(ctx, "default", "churn")
					if err != nil {
						t.Fatal(err)
					}
					p.Steps[0].Command = []string{"python", "prepare.py", "--fast"}
					if _, err := srv.Client.UpdatePipeline(ctx, "default", "churn", p.PipelineSpec, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(pipelineConfig("churn", "Trains and evaluates the churn model", trainV2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// 3 was the hand edit; restoring the steps makes 4.
					statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("steps").AtSliceIndex(0).AtMapKey("command"), knownvalue.ListSizeExact(2)),
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeletePipeline(ctx, "default", "churn", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(pipelineConfig("churn", "Trains and evaluates the churn model", trainV2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
				},
			},
			{
				// Renaming replaces.
				Config: srv.Config(pipelineConfig("churn-v2", "Trains and evaluates the churn model", trainV2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(res, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringExact("default/churn-v2")),
				},
			},
			{
				Config:   srv.Config(pipelineConfig("churn-v2", "Trains and evaluates the churn model", trainV2)),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

// Invalid DAGs and values fail at plan time, naming the step.
func TestAccPipelineResource_invalid(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(pipelineStepsConfig(`
    { name = "a", command = ["a"], depends_on = ["c"] },
    { name = "b", command = ["b"], depends_on = ["a"] },
    { name = "c", command = ["c"], depends_on = ["b"] },`)),
				ExpectError: regexp.MustCompile(`steps form a cycle: a -> c -> b -> a`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(pipelineStepsConfig(`
    { name = "a", command = ["a"] },
    { name = "b", command = ["b"], depends_on = ["a", "nope"] },`)),
				ExpectError: regexp.MustCompile(`step "b" depends on unknown step "nope"`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(pipelineStepsConfig(`
    { name = "a", command = ["a"] },
    { name = "a", command = ["b"] },`)),
				ExpectError: regexp.MustCompile(`step "a" is declared twice`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(pipelineStepsConfig(`
    { name = "a", command = ["a"], timeout = "5x" },`)),
				ExpectError: regexp.MustCompile(`"5x" is not a duration`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(pipelineStepsConfig(`
    { name = "a", command = ["a"], retries = 11 },`)),
				ExpectError: regexp.MustCompile(`(?s)retries.*between 0 and 10`),
				PlanOnly:    true,
			},
			{
				Config: srv.Config(pipelineStepsConfig(`
    { name = "a", command = ["a"], env = { "BAD-NAME" = "x" } },`)),
				ExpectError: regexp.MustCompile(`"BAD-NAME" is not a valid environment\s+variable name`),
				PlanOnly:    true,
			},
		},
	})
}

// Empty collections and strings written in the configuration stay as written.
func TestAccPipelineResource_emptyValues(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	config := srv.Config(`
resource "mlops_pipeline" "test" {
  name        = "empty"
  description = ""
  parameters  = {}
  labels      = {}
  steps = [{
    name       = "only"
    command    = ["true"]
    image      = ""
    env        = {}
    depends_on = []
  }]
}
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_pipeline.test", tfjsonpath.New("parameters"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue("mlops_pipeline.test", tfjsonpath.New("steps").AtSliceIndex(0).AtMapKey("depends_on"), knownvalue.ListSizeExact(0)),
				},
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// pipelineInputsConfig is a one-step pipeline; attrs are extra attribute lines.
func pipelineInputsConfig(attrs string) string {
	return fmt.Sprintf(`
resource "mlops_pipeline" "test" {
  name  = "inputs"
  steps = [{ name = "train", command = ["true"] }]
%s
}
`, attrs)
}

// datasets and promote_to are part of the runnable spec: changing either
// makes a new revision, and the plan says the revision is not known yet.
func TestAccPipelineResource_inputs(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	modelCreateDataset(t, srv, "features")
	modelCreateDataset(t, srv, "labels")
	const res = "mlops_pipeline.test"
	revisionIs := func(n int64) []statecheck.StateCheck {
		return []statecheck.StateCheck{statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(n))}
	}
	newRevision := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
		plancheck.ExpectUnknownValue(res, tfjsonpath.New("revision")),
	}}
	both := `
  datasets   = ["features", "labels"]
  promote_to = "staging"
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(pipelineInputsConfig("")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("datasets"), knownvalue.Null()),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("promote_to"), knownvalue.Null()),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
				},
			},
			{
				Config:           srv.Config(pipelineInputsConfig(both)),
				ConfigPlanChecks: newRevision,
				ConfigStateChecks: append(revisionIs(2),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("datasets"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("features"), knownvalue.StringExact("labels"),
					})),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("promote_to"), knownvalue.StringExact("staging")),
				),
				Check: func(*terraform.State) error {
					r, err := srv.Client.GetPipelineRevision(ctx, "default", "inputs", 2)
					if err != nil || len(r.Datasets) != 2 || r.Datasets[1] != "labels" || r.PromoteTo != "staging" {
						return fmt.Errorf("revision 2 is %+v, %v", r, err)
					}
					return nil
				},
			},
			{
				ResourceName:      res,
				ImportState:       true,
				ImportStateId:     "default/inputs",
				ImportStateVerify: true,
			},
			{
				// Only promote_to changes: a new revision too.
				Config:            srv.Config(pipelineInputsConfig(strings.Replace(both, "staging", "champion", 1))),
				ConfigPlanChecks:  newRevision,
				ConfigStateChecks: revisionIs(3),
			},
			{
				// Only the order of the inputs changes: the first one is the lineage, so a new revision.
				Config: srv.Config(pipelineInputsConfig(`
  datasets   = ["labels", "features"]
  promote_to = "champion"
`)),
				ConfigPlanChecks:  newRevision,
				ConfigStateChecks: revisionIs(4),
			},
			{
				// A label is not part of the runnable spec: the revision is known in the plan.
				Config: srv.Config(pipelineInputsConfig(`
  datasets   = ["labels", "features"]
  promote_to = "champion"
  labels     = { team = "risk" }
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(4)),
				}},
				ConfigStateChecks: revisionIs(4),
			},
			{
				// Drift: someone drops the inputs outside Terraform; the plan restores them.
				PreConfig: func() {
					p, err := srv.Client.GetPipeline(ctx, "default", "inputs")
					if err != nil {
						t.Fatal(err)
					}
					p.Datasets, p.PromoteTo = nil, ""
					if _, err := srv.Client.UpdatePipeline(ctx, "default", "inputs", p.PipelineSpec, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(pipelineInputsConfig(`
  datasets   = ["labels", "features"]
  promote_to = "champion"
  labels     = { team = "risk" }
`)),
				ConfigPlanChecks:  newRevision,
				ConfigStateChecks: revisionIs(6), // 5 was the hand edit
			},
			{
				// Removing both goes back to no inputs, and an empty list is kept as written.
				Config:           srv.Config(pipelineInputsConfig(`  datasets = []`)),
				ConfigPlanChecks: newRevision,
				ConfigStateChecks: append(revisionIs(7),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("datasets"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("promote_to"), knownvalue.Null()),
				),
			},
			{
				// [] and unset mean the same to the server: no new revision.
				Config: srv.Config(pipelineInputsConfig("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(res, tfjsonpath.New("revision"), knownvalue.Int64Exact(7)),
				}},
				ConfigStateChecks: revisionIs(7),
			},
			{Config: srv.Config(pipelineInputsConfig("")), PlanOnly: true},
		},
	})
}

// Invalid inputs fail at plan time; a dataset that does not exist fails the
// apply on the element at fault.
func TestAccPipelineResource_invalidInputs(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      srv.Config(pipelineInputsConfig(`  datasets = ["Churn Data"]`)),
				ExpectError: regexp.MustCompile(`(?s)datasets\[0\].*"Churn Data"`),
				PlanOnly:    true,
			},
			{
				Config:      srv.Config(pipelineInputsConfig(`  promote_to = "Prod!"`)),
				ExpectError: regexp.MustCompile(`(?s)promote_to.*"Prod!"`),
				PlanOnly:    true,
			},
			{
				Config:      srv.Config(pipelineInputsConfig(`  datasets = ["missing"]`)),
				ExpectError: regexp.MustCompile(`(?s)datasets\[0\].*dataset "missing" is not in project "default"`),
			},
		},
	})
}
