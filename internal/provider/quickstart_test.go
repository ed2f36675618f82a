package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/provider"
)

// TestAccQuickstart applies examples/quickstart as a newcomer would (the
// provider configured from MLOPS_ENDPOINT and MLOPS_TOKEN), runs its pipeline
// once (the Go trainer registers version 2 and promotes it to staging), plans
// again (empty) and destroys it.
func TestAccQuickstart(t *testing.T) {
	srv := acctest.StartServer(t)
	ctx := context.Background()
	t.Setenv(provider.EnvEndpoint, srv.URL)
	t.Setenv(provider.EnvToken, srv.AdminToken)
	// The example names the provider by its registry address.
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "mlopsplane")
	dir := config.StaticDirectory("../../examples/quickstart")
	// The test copies the example to a temporary directory, so the checkout
	// the step runs the trainer in is not two levels up from it.
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	vars := config.Variables{"repository": config.StringVariable(repo)}
	// The example has its own provider block, so the factories go on each step.
	resource.Test(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if _, err := srv.Client.GetProject(ctx, "quickstart"); err == nil {
				t.Error("project quickstart still exists after destroy")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				ConfigDirectory:          dir,
				ConfigVariables:          vars,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_dataset.churn", tfjsonpath.New("row_count"), knownvalue.Int64Exact(120)),
					statecheck.ExpectKnownValue("mlops_model_version.baseline", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_model_alias.champion", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_pipeline.train", tfjsonpath.New("revision"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_pipeline.train", tfjsonpath.New("promote_to"), knownvalue.StringExact("staging")),
					statecheck.ExpectKnownValue("mlops_model_version.baseline", tfjsonpath.New("dataset_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("mlops_deployment.churn_api", tfjsonpath.New("phase"), knownvalue.StringExact("healthy")),
					statecheck.ExpectKnownValue("mlops_deployment.churn_api", tfjsonpath.New("stable_version"), knownvalue.Int64Exact(1)),
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetModel(ctx, "quickstart", "churn-classifier")
					if err != nil {
						return err
					}
					if m.Aliases["champion"] != 1 || m.LatestVersion != 1 {
						return fmt.Errorf("after apply the server holds model %+v", m)
					}
					if err := quickstartPredict(srv); err != nil {
						return err
					}
					// One run, as `curl -X POST .../pipelines/train/runs` starts it. The
					// first go run compiles the trainer, hence the generous wait.
					return quickstartRun(srv, 90*time.Second)
				},
			},
			{
				// The run moved latest_version and staging; Terraform manages neither.
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				ConfigDirectory:          dir,
				ConfigVariables:          vars,
				PlanOnly:                 true,
			},
		},
	})
}

// quickstartRun runs the quickstart pipeline once and checks what it
// registered: version 2 with the trainer's metrics and lineage, on staging,
// while champion stays on the version Terraform declares.
func quickstartRun(srv *acctest.Server, timeout time.Duration) error {
	ctx := context.Background()
	started, err := srv.Client.CreateRun(ctx, "quickstart", "train", nil)
	if err != nil {
		return err
	}
	run, err := awaitRun(srv.Client, "quickstart", "train", started.ID, timeout)
	if err != nil {
		return err
	}
	if run.State != api.RunSucceeded || run.ModelVersion != 2 || run.Promotion == nil || !run.Promotion.Promoted {
		return fmt.Errorf("run ended %s (%s), registered %s v%d, promotion %+v%s",
			run.State, run.Error, run.Model, run.ModelVersion, run.Promotion, runLogs(srv.Client, "quickstart", "train", run.ID))
	}
	v, err := srv.Client.GetModelVersion(ctx, "quickstart", "churn-classifier", 2)
	if err != nil {
		return err
	}
	// The trainer's documented result with the default hyperparameters.
	if math.Abs(v.Metrics["auc"]-0.875) > 1e-9 || v.Metrics["test_rows"] != 30 {
		return fmt.Errorf("version 2 has metrics %v, want the trainer's (auc 0.875 on 30 held-out rows)", v.Metrics)
	}
	if v.PipelineRunID != "quickstart/train/1" || v.Dataset != "churn" || v.DatasetVersion != 1 ||
		v.Params["epochs"] != "300" || v.Params["learning_rate"] != "0.1" {
		return fmt.Errorf("version 2 records run %q, dataset %s v%d, params %v", v.PipelineRunID, v.Dataset, v.DatasetVersion, v.Params)
	}
	m, err := srv.Client.GetModel(ctx, "quickstart", "churn-classifier")
	if err != nil {
		return err
	}
	if m.Aliases["staging"] != 2 || m.Aliases["champion"] != 1 || m.LatestVersion != 2 {
		return fmt.Errorf("after the run the model is %+v; want staging on 2, champion still on 1", m)
	}
	return nil
}

// quickstartPredict asks the deployment for a prediction through the
// gateway, as the README's curl does, and checks the champion answered.
func quickstartPredict(srv *acctest.Server) error {
	d, err := srv.Client.GetDeployment(context.Background(), "quickstart", "churn-api")
	if err != nil {
		return err
	}
	body := `{"instances": [{"tenure_months": 3, "monthly_spend": 120, "plan": "basic", "support_tickets": 4}]}`
	req, err := http.NewRequest(http.MethodPost, d.URL+"/predict", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Predictions []struct {
			Churned     bool    `json:"churned"`
			Probability float64 `json:"probability"`
		} `json:"predictions"`
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Mlops-Version") != "1" || json.Unmarshal(raw, &out) != nil || len(out.Predictions) != 1 {
		return fmt.Errorf("predict: %d version %q: %s", resp.StatusCode, resp.Header.Get("X-Mlops-Version"), raw)
	}
	if p := out.Predictions[0].Probability; p <= 0 || p >= 1 {
		return fmt.Errorf("predict: probability %v", p)
	}
	return nil
}
