package provider_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const monitorDataSourceConfig = `
data "mlops_monitor" "test" {
  name = mlops_monitor.test.name
}
`

// TestAccMonitorDataSource reads a monitor that found drift: its settings
// (defaults and empty collections filled in) and its latest evaluation.
func TestAccMonitorDataSource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	baseline, drifted := monitorDataFiles(t)
	monitor := monitorStackConfig(baseline, drifted) + monitorConfig("churn-inputs", `
  description = "Live customers against the training data"
  labels      = { team = "risk" }
`)
	const ds = "data.mlops_monitor.test"
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(monitor),
			},
			{
				PreConfig: func() {
					if _, err := waitForMonitor(srv.Client, "churn-inputs", 30*time.Second, func(m *api.Monitor) bool { return m.Status == api.MonitorDrifting }); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(monitor + monitorDataSourceConfig),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("id"), knownvalue.StringExact("default/churn-inputs")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("model"), knownvalue.StringExact("churn")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("baseline_dataset"), knownvalue.StringExact("customers-train")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("current_dataset"), knownvalue.StringExact("customers-live")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("features"), knownvalue.ListExact([]knownvalue.Check{})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("metric"), knownvalue.StringExact("psi")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("categorical_metric"), knownvalue.StringExact("jensen_shannon")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("threshold"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("feature_thresholds"), knownvalue.MapExact(map[string]knownvalue.Check{})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("drift_share"), knownvalue.Float64Exact(0.5)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("min_samples"), knownvalue.Int64Exact(30)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("interval"), knownvalue.StringExact("1h")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("retrain_schedule"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("notification"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("risk")})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("status"), knownvalue.StringExact("drifting")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("next_evaluation_at"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("status"), knownvalue.StringExact("drifting")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("alert"), knownvalue.Bool(true)),
					// age, income and plan all moved in the drifted file.
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("judged_features"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("drifted_features"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("drift_share"), knownvalue.Float64Exact(1)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("drifted_feature_names"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("last_evaluation").AtMapKey("retrain_run_id"), knownvalue.Null()),
					statecheck.CompareValuePairs(ds, tfjsonpath.New("last_evaluation_id"), ds, tfjsonpath.New("last_evaluation").AtMapKey("id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(ds, tfjsonpath.New("status"), "mlops_monitor.test", tfjsonpath.New("status"), compare.ValuesSame()),
				},
			},
		},
	})
}

func TestAccMonitorDataSource_missing(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      srv.Config(`data "mlops_monitor" "test" { name = "nope" }`),
			ExpectError: monitorError("read monitor default/nope", fmt.Sprint(404)),
		}},
	})
}
