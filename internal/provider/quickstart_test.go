package provider_test

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/provider"
)

// TestAccQuickstart applies examples/quickstart as a newcomer would (the
// provider configured from MLOPS_ENDPOINT and MLOPS_TOKEN), plans again
// (empty) and destroys it.
func TestAccQuickstart(t *testing.T) {
	srv := acctest.StartServer(t)
	t.Setenv(provider.EnvEndpoint, srv.URL)
	t.Setenv(provider.EnvToken, srv.AdminToken)
	// The example names the provider by its registry address.
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "mlopsplane")
	dir := config.StaticDirectory("../../examples/quickstart")
	// The example has its own provider block, so the factories go on each step.
	resource.Test(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if _, err := srv.Client.GetProject(context.Background(), "quickstart"); err == nil {
				t.Error("project quickstart still exists after destroy")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				ConfigDirectory:          dir,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_dataset.churn", tfjsonpath.New("row_count"), knownvalue.Int64Exact(120)),
					statecheck.ExpectKnownValue("mlops_model_version.baseline", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_model_alias.champion", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_pipeline.train", tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_model_version.baseline", tfjsonpath.New("dataset_version"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetModel(context.Background(), "quickstart", "churn-classifier")
					if err != nil {
						return err
					}
					if m.Aliases["champion"] != 1 || m.LatestVersion != 1 {
						t.Errorf("server model = %+v", m)
					}
					return nil
				},
			},
			{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				ConfigDirectory:          dir,
				PlanOnly:                 true, // a second plan is empty
			},
		},
	})
}
