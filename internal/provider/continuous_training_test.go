package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
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

// continuousTrainingConfig is a gated model, a pipeline whose one step
// "trains" it (writes metrics.json, an artifact and model.json) and promotes
// to champion, and a schedule firing it every 10s. extra is appended.
func continuousTrainingConfig(paused bool, extra string) string {
	return fmt.Sprintf(`
resource "mlops_model" "ct" {
  name  = "churn-ct"
  gates = [{ metric = "auc", op = ">=", threshold = 0.8, aliases = ["champion"] }]
  # The runs register versions Terraform does not manage; destroy removes them too.
  force_destroy = true
}

resource "mlops_pipeline" "ct" {
  name       = "retrain"
  promote_to = "champion"
  steps = [{
    name = "train"
    command = ["sh", "-c", <<-EOT
      set -eu
      echo '{"auc": 0.91}' > "$MLOPS_OUTPUT_DIR/metrics.json"
      echo "weights of $MLOPS_RUN_ID" > "$MLOPS_OUTPUT_DIR/model.bin"
      echo '{"model": "${mlops_model.ct.name}", "artifact": "model.bin"}' > "$MLOPS_OUTPUT_DIR/model.json"
    EOT
    ]
  }]
}

resource "mlops_retraining_schedule" "ct" {
  name     = "every-10s"
  pipeline = mlops_pipeline.ct.name
  interval = "10s"
  paused   = %t
}
%s`, paused, extra)
}

const continuousTrainingReads = `
data "mlops_pipeline_run" "latest" {
  pipeline = mlops_pipeline.ct.name
}

data "mlops_model_version" "champion" {
  model = mlops_model.ct.name
  alias = "champion"
}
`

// scheduledRunPromoted waits until a run the schedule started succeeded and
// its version holds champion.
func scheduledRunPromoted(c *client.Client, timeout time.Duration) error {
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		runs, err := c.ListRuns(ctx, "default", "retrain")
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.Trigger != "schedule:every-10s" || r.State != api.RunSucceeded {
				last = fmt.Sprintf("run %d: %s %s", r.ID, r.State, r.Error)
				continue
			}
			m, err := c.GetModel(ctx, "default", "churn-ct")
			if err != nil {
				return err
			}
			v, ok := m.Aliases["champion"]
			if !ok {
				return fmt.Errorf("run %d succeeded but champion is on no version; the run says %+v", r.ID, r.Promotion)
			}
			mv, err := c.GetModelVersion(ctx, "default", "churn-ct", v)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(mv.PipelineRunID, "default/retrain/") || mv.Metrics["auc"] != 0.91 {
				return fmt.Errorf("champion is version %d: %+v", v, mv)
			}
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("no scheduled run succeeded within %s (last seen: %s)", timeout, last)
}

// quietSchedule waits until the schedule's latest firing has run to its end
// and the next firing is at least margin away, so the data sources of the
// coming plan read a finished run and an alias that stays put meanwhile.
func quietSchedule(t *testing.T, c *client.Client, margin time.Duration) {
	t.Helper()
	ctx := context.Background()
	// Generous: on a loaded machine a firing's run can take most of the 10 s
	// period, and a quiet window may take several periods to come.
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		sc, err := c.GetSchedule(ctx, "default", "every-10s")
		if err != nil {
			t.Fatal(err)
		}
		if sc.NextRunAt == nil {
			t.Fatal("the schedule is not firing")
		}
		// LastFiredAt at or after the latest due time means that firing is done.
		due := sc.NextRunAt.Add(-10 * time.Second)
		if sc.LastFiredAt != nil && !sc.LastFiredAt.Before(due) && api.RunFinished(sc.LastRunState) && time.Until(*sc.NextRunAt) >= margin {
			return
		}
		last = fmt.Sprintf("last fired %v (run %s), next run at %v", sc.LastFiredAt, sc.LastRunState, sc.NextRunAt)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the schedule never left a quiet window: %s", last)
}

// TestAccContinuousTraining: a schedule fires a pipeline that trains and
// registers a version, which takes champion by passing its gate; Terraform
// reads what happened, then pauses the schedule, and plans stay empty while
// runs change things Terraform only reads.
func TestAccContinuousTraining(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	const sched, runDS, championDS = "mlops_retraining_schedule.ct", "data.mlops_pipeline_run.latest", "data.mlops_model_version.champion"
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := srv.Client.GetPipeline(ctx, "default", "retrain"); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("pipeline retrain still exists after destroy (err=%v)", err)
			}
			if _, err := srv.Client.GetModel(ctx, "default", "churn-ct"); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("model churn-ct still exists after destroy (err=%v)", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(continuousTrainingConfig(false, "")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_pipeline.ct", tfjsonpath.New("promote_to"), knownvalue.StringExact("champion")),
					statecheck.ExpectKnownValue(sched, tfjsonpath.New("next_run_at"), knownvalue.NotNull()),
				},
				Check: func(*terraform.State) error { return scheduledRunPromoted(srv.Client, 45*time.Second) },
			},
			{
				PreConfig: func() { quietSchedule(t, srv.Client, 6*time.Second) },
				Config:    srv.Config(continuousTrainingConfig(false, continuousTrainingReads)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("state"), knownvalue.StringExact("succeeded")),
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("trigger"), knownvalue.StringExact("schedule:every-10s")),
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("model"), knownvalue.StringExact("churn-ct")),
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("model_version"), knownvalue.Int64Func(func(v int64) error {
						if v < 1 {
							return fmt.Errorf("model_version %d, want >= 1", v)
						}
						return nil
					})),
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("promoted"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("promotion_reason"), knownvalue.Null()),
					statecheck.ExpectKnownValue(runDS, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^default/retrain/\d+$`))),
					// The newest run registered the version champion points at.
					statecheck.CompareValuePairs(championDS, tfjsonpath.New("pipeline_run_id"), runDS, tfjsonpath.New("id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(championDS, tfjsonpath.New("version"), runDS, tfjsonpath.New("model_version"), compare.ValuesSame()),
					statecheck.ExpectKnownValue(championDS, tfjsonpath.New("metrics"), knownvalue.MapExact(map[string]knownvalue.Check{"auc": knownvalue.Float64Exact(0.91)})),
					statecheck.ExpectKnownValue(championDS, tfjsonpath.New("artifact_uri"), knownvalue.StringRegexp(regexp.MustCompile(`^file:///.*/outputs/model\.bin$`))),
				},
			},
			{
				Config: srv.Config(continuousTrainingConfig(true, continuousTrainingReads)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(sched, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(sched, tfjsonpath.New("next_run_at"), knownvalue.Null()),
						// Firings may change these between plan and apply.
						plancheck.ExpectUnknownValue(sched, tfjsonpath.New("last_run_id")),
						plancheck.ExpectResourceAction("mlops_pipeline.ct", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("mlops_model.ct", plancheck.ResourceActionNoop),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(sched, tfjsonpath.New("paused"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(sched, tfjsonpath.New("next_run_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue(sched, tfjsonpath.New("last_run_id"), knownvalue.Int64Func(func(v int64) error {
						if v < 1 {
							return fmt.Errorf("last_run_id %d, want >= 1", v)
						}
						return nil
					})),
					statecheck.ExpectKnownValue(sched, tfjsonpath.New("last_run_state"), knownvalue.NotNull()),
				},
				Check: func(*terraform.State) error {
					sc, err := srv.Client.GetSchedule(ctx, "default", "every-10s")
					if err != nil || !sc.Paused || sc.NextRunAt != nil {
						return fmt.Errorf("server holds %+v, %v", sc, err)
					}
					return nil
				},
			},
			{
				// Paused, the schedule starts no more runs, and the plan is empty.
				Config:   srv.Config(continuousTrainingConfig(true, continuousTrainingReads)),
				PlanOnly: true,
			},
		},
	})
}
