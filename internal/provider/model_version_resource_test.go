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

// modelVersionConfig is a gated model "churn" with one mlops_model_version "test".
func modelVersionConfig(artifactURI, metrics, description, labels string) string {
	return fmt.Sprintf(`
resource "mlops_model" "test" {
  name  = "churn"
  gates = [
    { metric = "auc", op = ">=", threshold = 0.8 },
    { metric = "f1", op = ">=", threshold = 0.5 },
  ]
}

resource "mlops_model_version" "test" {
  model           = mlops_model.test.name
  artifact_uri    = %[1]q
  metrics         = %[2]s
  params          = { learning_rate = "0.01" }
  dataset         = "train"
  pipeline_run_id = "run-42"
  description     = %[3]q
  labels          = %[4]s
}
`, artifactURI, metrics, description, labels)
}

// modelVersionsExist checks through the client which versions of default/churn exist.
func modelVersionsExist(srv *acctest.Server, want map[int64]bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		for v, exists := range want {
			_, err := srv.Client.GetModelVersion(context.Background(), "default", "churn", v)
			switch {
			case exists && err != nil:
				return fmt.Errorf("version %d: %v", v, err)
			case !exists && !errors.Is(err, client.ErrNotFound):
				return fmt.Errorf("version %d still exists (err=%v)", v, err)
			}
		}
		return nil
	}
}

// modelCreateDataset registers a remote (unprofiled) dataset, version 1, for lineage.
func modelCreateDataset(t *testing.T, srv *acctest.Server, name string) {
	t.Helper()
	_, err := srv.Client.CreateDataset(context.Background(), "default", api.CreateDatasetRequest{
		Name: name, DatasetSpec: api.DatasetSpec{URI: "s3://data/" + name + ".csv", Format: "csv"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAccModelVersionResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	modelCreateDataset(t, srv, "train")
	const metrics = `{ auc = 0.91, latency_ms = 20 }`
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "churn"),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(modelVersionConfig("s3://models/churn/1", metrics, "first cut", `{ stage = "dev" }`)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("id"), knownvalue.StringExact("default/churn/1")),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("metrics"), knownvalue.MapExact(map[string]knownvalue.Check{
						"auc": knownvalue.Float64Exact(0.91), "latency_ms": knownvalue.Float64Exact(20),
					})),
					// The server fills the dataset's current version.
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("dataset_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("gate_results"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"metric": knownvalue.StringExact("auc"), "op": knownvalue.StringExact(">="), "threshold": knownvalue.Float64Exact(0.8),
							"value": knownvalue.Float64Exact(0.91), "passed": knownvalue.Bool(true),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"metric": knownvalue.StringExact("f1"), "op": knownvalue.StringExact(">="), "threshold": knownvalue.Float64Exact(0.5),
							"value": knownvalue.Null(), "passed": knownvalue.Bool(false),
						}),
					})),
				},
				Check: func(*terraform.State) error {
					v, err := srv.Client.GetModelVersion(ctx, "default", "churn", 1)
					if err != nil || v.ArtifactURI != "s3://models/churn/1" || v.Metrics["auc"] != 0.91 || v.Params["learning_rate"] != "0.01" ||
						v.Dataset != "train" || v.PipelineRunID != "run-42" || v.Labels["stage"] != "dev" {
						return fmt.Errorf("server holds %+v, %v", v, err)
					}
					return nil
				},
			},
			{
				ResourceName:      "mlops_model_version.test",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// The short form uses the provider's project.
				ResourceName:      "mlops_model_version.test",
				ImportState:       true,
				ImportStateId:     "churn/1",
				ImportStateVerify: true,
			},
			{
				ResourceName:  "mlops_model_version.test",
				ImportState:   true,
				ImportStateId: "default/churn/latest",
				ExpectError:   regexp.MustCompile(`version is a number from 1`),
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(modelVersionConfig("s3://models/churn/1", metrics, "first cut", `{ stage = "dev" }`)),
				ResourceName:    "mlops_model_version.test",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// Description and labels change in place: still version 1.
				Config: srv.Config(modelVersionConfig("s3://models/churn/1", metrics, "validated", `{ stage = "prod" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("description"), knownvalue.StringExact("validated")),
				},
				Check: func(*terraform.State) error {
					v, err := srv.Client.GetModelVersion(ctx, "default", "churn", 1)
					if err != nil || v.Description != "validated" || v.Labels["stage"] != "prod" {
						return fmt.Errorf("server holds %+v, %v", v, err)
					}
					return nil
				},
			},
			{
				// A new artifact is a new version: replaced, with a larger number.
				Config: srv.Config(modelVersionConfig("s3://models/churn/2", metrics, "validated", `{ stage = "prod" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("id"), knownvalue.StringExact("default/churn/2")),
				},
				Check: modelVersionsExist(srv, map[int64]bool{1: false, 2: true}),
			},
			{
				// So are new metrics.
				Config: srv.Config(modelVersionConfig("s3://models/churn/2", `{ auc = 0.93, f1 = 0.7 }`, "validated", `{ stage = "prod" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("version"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("gate_results").AtSliceIndex(1).AtMapKey("passed"), knownvalue.Bool(true)),
				},
				Check: modelVersionsExist(srv, map[int64]bool{2: false, 3: true}),
			},
			{
				// Drift: someone edits the description outside Terraform; the plan repairs it.
				PreConfig: func() {
					u := api.ModelVersionUpdate{Description: "edited by hand", Labels: map[string]string{"stage": "prod"}}
					if _, err := srv.Client.UpdateModelVersion(ctx, "default", "churn", 3, u, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(modelVersionConfig("s3://models/churn/2", `{ auc = 0.93, f1 = 0.7 }`, "validated", `{ stage = "prod" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionUpdate)},
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteModelVersion(ctx, "default", "churn", 3, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(modelVersionConfig("s3://models/churn/2", `{ auc = 0.93, f1 = 0.7 }`, "validated", `{ stage = "prod" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_model_version.test", plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("version"), knownvalue.Int64Exact(4)),
				},
			},
			{
				Config:   srv.Config(modelVersionConfig("s3://models/churn/2", `{ auc = 0.93, f1 = 0.7 }`, "validated", `{ stage = "prod" }`)),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

// Unset optional attributes stay null, and explicitly empty maps stay empty.
func TestAccModelVersionResource_minimal(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             modelGone(srv, "default", "bare"),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(`
resource "mlops_model" "test" {
  name = "bare"
}

resource "mlops_model_version" "test" {
  model        = mlops_model.test.name
  artifact_uri = "/models/bare.onnx"
  params       = {}
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("metrics"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("params"), knownvalue.MapSizeExact(0)),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("labels"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("dataset"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("dataset_version"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("description"), knownvalue.Null()),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("gate_results"), knownvalue.ListSizeExact(0)),
				},
			},
		},
	})
}

// Objects in a project other than the provider's, named through a reference (unknown at plan time).
func TestAccModelVersionResource_otherProject(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := srv.Client.GetProject(context.Background(), "risk"); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("project risk still exists after destroy (err=%v)", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(`
resource "mlops_project" "test" {
  name = "risk"
}

resource "mlops_model" "test" {
  project = mlops_project.test.name
  name    = "scorer"
  gates   = [{ metric = "auc", op = ">=", threshold = 0.8 }]
}

resource "mlops_model_version" "test" {
  project      = mlops_model.test.project
  model        = mlops_model.test.name
  artifact_uri = "s3://models/scorer/1"
  metrics      = { auc = 0.81 }
}

resource "mlops_model_alias" "test" {
  project = mlops_model_version.test.project
  model   = mlops_model.test.name
  alias   = "champion"
  version = mlops_model_version.test.version
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_model.test", tfjsonpath.New("id"), knownvalue.StringExact("risk/scorer")),
					statecheck.ExpectKnownValue("mlops_model_version.test", tfjsonpath.New("id"), knownvalue.StringExact("risk/scorer/1")),
					statecheck.ExpectKnownValue("mlops_model_alias.test", tfjsonpath.New("id"), knownvalue.StringExact("risk/scorer/champion")),
				},
				Check: func(*terraform.State) error {
					a, err := srv.Client.GetModelAlias(context.Background(), "risk", "scorer", "champion")
					if err != nil || a.Version != 1 {
						return fmt.Errorf("server holds %+v, %v", a, err)
					}
					return nil
				},
			},
			{
				ResourceName:      "mlops_model_version.test",
				ImportState:       true,
				ImportStateId:     "risk/scorer/1",
				ImportStateVerify: true,
			},
			{
				ResourceName:      "mlops_model_alias.test",
				ImportState:       true,
				ImportStateVerify: true,
			},
		},
	})
}
