package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/schedule"
)

// retrainingScheduleConfig declares a schedule; attrs are extra attribute lines.
func retrainingScheduleConfig(name, pipeline, attrs string) string {
	return fmt.Sprintf(`
resource "mlops_retraining_schedule" "test" {
  name     = %[1]q
  pipeline = %[2]q
%[3]s
}
`, name, pipeline, attrs)
}

// createSchedulePipelines creates the pipelines the schedules fire through the
// client, so these tests do not depend on the mlops_pipeline resource.
func createSchedulePipelines(t *testing.T, srv *acctest.Server, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := srv.Client.CreatePipeline(context.Background(), api.DefaultProject, api.CreatePipelineRequest{
			Name:         n,
			PipelineSpec: api.PipelineSpec{Steps: []api.Step{{Name: "fit", Command: []string{"python", "train.py"}}}},
		})
		if err != nil {
			t.Fatalf("create pipeline %s: %v", n, err)
		}
	}
}

// nextRunIs checks next_run_at against what internal/schedule computes for
// spec, allowing for a firing that passed in the last minute since apply.
func nextRunIs(spec api.ScheduleSpec) knownvalue.Check {
	return knownvalue.StringFunc(func(v string) error {
		got, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fmt.Errorf("next_run_at %q is not RFC 3339: %v", v, err)
		}
		timing, err := schedule.Parse(spec)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, after := range []time.Time{now, now.Add(-time.Minute)} {
			if want, ok := timing.Next(after, after); ok && want.Equal(got) {
				return nil
			}
		}
		want, _ := timing.Next(now, now)
		return fmt.Errorf("next_run_at is %s, want %s", v, want.Format(time.RFC3339))
	})
}

// editScheduleOnServer edits the server's copy of a schedule outside Terraform.
func editScheduleOnServer(t *testing.T, srv *acctest.Server, name string, edit func(*api.ScheduleSpec)) {
	t.Helper()
	ctx := context.Background()
	sc, err := srv.Client.GetSchedule(ctx, api.DefaultProject, name)
	if err != nil {
		t.Fatal(err)
	}
	edit(&sc.ScheduleSpec)
	if _, err := srv.Client.UpdateSchedule(ctx, api.DefaultProject, name, sc.ScheduleSpec, 0); err != nil {
		t.Fatal(err)
	}
}

func TestAccRetrainingScheduleResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	createSchedulePipelines(t, srv, "train", "train-v2")
	const addr = "mlops_retraining_schedule.test"
	created := `
  cron        = "0 3 * * *"
  parameters  = { epochs = "10" }
  description = "Nightly retrain"
`
	berlin := `
  cron               = "0 3 * * *"
  timezone           = "Europe/Berlin"
  parameters         = { epochs = "20" }
  concurrency_policy = "replace"
  catchup            = true
  description        = "Nightly retrain"
`
	interval := `
  interval    = "6h"
  timezone    = "Europe/Berlin"
  start_at    = "2030-01-01T02:00:00+02:00"
  end_at      = "2031-01-01T00:00:00Z"
  description = "Every six hours"
`
	paused := interval + "  paused = true\n"
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, n := range []string{"nightly", "weekly"} {
				if _, err := srv.Client.GetSchedule(ctx, api.DefaultProject, n); !errors.Is(err, client.ErrNotFound) {
					return fmt.Errorf("schedule %s still exists after destroy (err=%v)", n, err)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(retrainingScheduleConfig("nightly", "train", created)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						// The provider's project is known at plan time.
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/nightly")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("timezone"), knownvalue.StringExact("UTC")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("concurrency_policy"), knownvalue.StringExact("forbid")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("catchup"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("paused"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("interval"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("next_run_at"), nextRunIs(api.ScheduleSpec{Cron: "0 3 * * *", Timezone: "UTC"})),
					// It has not fired yet.
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("last_run_id"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("last_run_state"), knownvalue.Null()),
				},
				Check: func(*terraform.State) error {
					sc, err := srv.Client.GetSchedule(ctx, api.DefaultProject, "nightly")
					if err != nil || sc.Pipeline != "train" || sc.Cron != "0 3 * * *" || sc.Timezone != "UTC" ||
						sc.ConcurrencyPolicy != "forbid" || sc.Parameters["epochs"] != "10" || sc.NextRunAt == nil {
						return fmt.Errorf("server holds %+v, %v", sc, err)
					}
					return nil
				},
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"next_run_at"}, // moves on if a firing passes meanwhile
			},
			{
				// Config-driven import (an import {} block), as Terraform >= 1.5 and OpenTofu do it.
				Config:          srv.Config(retrainingScheduleConfig("nightly", "train", created)),
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// Zone, pipeline, parameters and policies update in place.
				Config: srv.Config(retrainingScheduleConfig("nightly", "train-v2", berlin)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("pipeline"), knownvalue.StringExact("train-v2")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("concurrency_policy"), knownvalue.StringExact("replace")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("catchup"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("next_run_at"), nextRunIs(api.ScheduleSpec{Cron: "0 3 * * *", Timezone: "Europe/Berlin"})),
				},
			},
			{
				// cron -> interval, starting at an instant written with an offset.
				Config: srv.Config(retrainingScheduleConfig("nightly", "train-v2", interval)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("cron"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("parameters"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("concurrency_policy"), knownvalue.StringExact("forbid")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("start_at"), knownvalue.StringExact("2030-01-01T02:00:00+02:00")),
					// Intervals count from start_at, which is still ahead.
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("next_run_at"), knownvalue.StringExact("2030-01-01T00:00:00Z")),
				},
				Check: func(*terraform.State) error {
					sc, err := srv.Client.GetSchedule(ctx, api.DefaultProject, "nightly")
					want := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
					if err != nil || sc.Cron != "" || sc.Interval != "6h" || sc.StartAt == nil || !sc.StartAt.Equal(want) {
						return fmt.Errorf("server holds %+v, %v", sc, err)
					}
					return nil
				},
			},
			{
				// The offset the user wrote does not cause a perpetual diff...
				Config:   srv.Config(retrainingScheduleConfig("nightly", "train-v2", interval)),
				PlanOnly: true,
			},
			{
				// ...nor does the server answering the same instant in UTC.
				PreConfig: func() {
					editScheduleOnServer(t, srv, "nightly", func(s *api.ScheduleSpec) {
						utc := s.StartAt.UTC()
						s.StartAt = &utc
					})
				},
				Config:   srv.Config(retrainingScheduleConfig("nightly", "train-v2", interval)),
				PlanOnly: true,
			},
			{
				Config: srv.Config(retrainingScheduleConfig("nightly", "train-v2", paused)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("next_run_at"), knownvalue.Null()),
						// Firings change these outside Terraform, so an update plan leaves them open.
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("last_run_id")),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("last_run_state")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("paused"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("next_run_at"), knownvalue.Null()),
				},
			},
			{
				// Drift: someone resumes the schedule and moves its start; the plan repairs it.
				PreConfig: func() {
					editScheduleOnServer(t, srv, "nightly", func(s *api.ScheduleSpec) {
						later := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
						s.Paused, s.StartAt = false, &later
					})
				},
				Config: srv.Config(retrainingScheduleConfig("nightly", "train-v2", paused)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					sc, err := srv.Client.GetSchedule(ctx, api.DefaultProject, "nightly")
					if err != nil || !sc.Paused || !sc.StartAt.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
						return fmt.Errorf("drift not repaired: server holds %+v, %v", sc, err)
					}
					return nil
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteSchedule(ctx, api.DefaultProject, "nightly", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(retrainingScheduleConfig("nightly", "train-v2", paused)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
			},
			{
				// Renaming replaces.
				Config: srv.Config(retrainingScheduleConfig("weekly", "train-v2", paused)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/weekly")),
				},
			},
			{
				Config:   srv.Config(retrainingScheduleConfig("weekly", "train-v2", paused)),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
}

// wrappedScheduleError matches a message Terraform may have wrapped across lines.
func wrappedScheduleError(want string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`))
}

func TestAccRetrainingScheduleResource_project(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	createSchedulePipelines(t, srv, "train")
	if _, err := srv.Client.CreateProject(ctx, api.Project{Name: "fraud"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.CreatePipeline(ctx, "fraud", api.CreatePipelineRequest{
		Name:         "train",
		PipelineSpec: api.PipelineSpec{Steps: []api.Step{{Name: "fit", Command: []string{"python", "train.py"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	const addr = "mlops_retraining_schedule.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, project := range []string{api.DefaultProject, "fraud"} {
				if _, err := srv.Client.GetSchedule(ctx, project, "nightly"); !errors.Is(err, client.ErrNotFound) {
					return fmt.Errorf("schedule %s/nightly still exists after destroy (err=%v)", project, err)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(retrainingScheduleConfig("nightly", "train", `cron = "@daily"`)),
			},
			{
				// Moving to another project replaces.
				Config: srv.Config(retrainingScheduleConfig("nightly", "train", `
  project = "fraud"
  cron    = "@daily"`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("fraud/nightly")),
				},
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateId:           "fraud/nightly",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"next_run_at"},
			},
			{
				// Dropping project goes back to the provider's, which is a move too.
				Config: srv.Config(retrainingScheduleConfig("nightly", "train", `cron = "@daily"`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
			},
		},
	})
}

func TestAccRetrainingScheduleResource_invalidConfig(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	step := func(attrs, want string) resource.TestStep {
		return resource.TestStep{
			Config:      srv.Config(retrainingScheduleConfig("nightly", "train", attrs)),
			ExpectError: wrappedScheduleError(want),
			PlanOnly:    true,
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			step(`cron = "0 3 * *"`, `is not a valid cron expression`),
			step(`
  cron     = "0 3 * * *"
  timezone = "Mars/Olympus"`, `"Mars/Olympus" is not an IANA time zone`),
			step(`
  cron     = "0 3 * * *"
  interval = "6h"`, `Exactly one of these attributes must be configured: \[cron,interval\]`),
			step(``, `Exactly one of these attributes must be configured: \[cron,interval\]`),
			step(`interval = "5s"`, `"5s" is shorter than the minimum of 10s`),
			step(`
  cron               = "0 3 * * *"
  concurrency_policy = "sometimes"`, `concurrency_policy value must be one of: \["allow" "forbid" "replace"\]`),
			step(`
  cron     = "0 3 * * *"
  start_at = "2030-01-02T00:00:00Z"
  end_at   = "2030-01-01T00:00:00Z"`, `must be after start_at`),
			step(`
  cron     = "0 3 * * *"
  start_at = "next tuesday"`, `is not an RFC 3339 time`),
		},
	})
}

func TestAccRetrainingScheduleResource_unknownPipeline(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      srv.Config(retrainingScheduleConfig("nightly", "no-such-pipeline", `cron = "0 3 * * *"`)),
			ExpectError: wrappedScheduleError(`pipeline "no-such-pipeline" is not in project "default"`),
		}},
	})
}
