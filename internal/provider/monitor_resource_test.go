package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	"github.com/mlopsplane/terraform-provider-mlops/internal/webhook"
)

// monitorDataFiles copies the committed monitor CSVs (500 rows of age,
// income, plan; the drifted one older, richer and with a new plan) where the
// test server may read them, and returns their absolute paths.
func monitorDataFiles(t *testing.T) (baseline, drifted string) {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for _, name := range []string{"monitor_baseline.csv", "monitor_drifted.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = filepath.Join(dir, name)
		if err := os.WriteFile(out[name], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out["monitor_baseline.csv"], out["monitor_drifted.csv"]
}

// monitorStackConfig declares what a monitor refers to: a baseline and a
// current dataset, a model, and a retraining schedule (firing once a year, so
// only the monitor starts runs) of a pipeline whose one step succeeds.
func monitorStackConfig(baselinePath, currentPath string) string {
	return fmt.Sprintf(`
resource "mlops_dataset" "baseline" {
  name   = "customers-train"
  uri    = %[1]q
  format = "csv"
  schema = [
    { name = "age", type = "integer" },
    { name = "income", type = "number" },
    { name = "plan", type = "string" },
  ]
}

resource "mlops_dataset" "current" {
  name   = "customers-live"
  uri    = %[2]q
  format = "csv"
}

resource "mlops_model" "churn" {
  name = "churn"
}

resource "mlops_pipeline" "retrain" {
  name  = "retrain"
  steps = [{ name = "train", command = ["true"] }]
}

resource "mlops_retraining_schedule" "on_drift" {
  name     = "on-drift"
  pipeline = mlops_pipeline.retrain.name
  cron     = "0 3 1 1 *"
}
`, baselinePath, currentPath)
}

// monitorConfig declares the monitor under test on the stack; attrs are extra attribute lines.
func monitorConfig(name, attrs string) string {
	return fmt.Sprintf(`
resource "mlops_monitor" "test" {
  name             = %[1]q
  model            = mlops_model.churn.name
  baseline_dataset = mlops_dataset.baseline.name
  current_dataset  = mlops_dataset.current.name
%[2]s
}
`, name, attrs)
}

// hookCall is one request the webhook receiver got.
type hookCall struct {
	signature string
	body      []byte
}

// hookReceiver is an HTTP endpoint recording the alerts it receives.
type hookReceiver struct {
	URL   string
	mu    sync.Mutex
	calls []hookCall
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.calls = append(h.calls, hookCall{signature: r.Header.Get(webhook.SignatureHeader), body: body})
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/alerts"
	return h
}

func (h *hookReceiver) Calls() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// waitForMonitor polls the monitor until ok says it is done.
func waitForMonitor(c *client.Client, name string, timeout time.Duration, ok func(*api.Monitor) bool) (*api.Monitor, error) {
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var last *api.Monitor
	for time.Now().Before(deadline) {
		m, err := c.GetMonitor(ctx, api.DefaultProject, name)
		if err != nil {
			return nil, err
		}
		if ok(m) {
			return m, nil
		}
		last = m
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("monitor %s not there within %s; last seen status %q, error %q", name, timeout, last.Status, last.LastError)
}

// editMonitorOnServer edits the server's copy of a monitor outside Terraform.
func editMonitorOnServer(t *testing.T, srv *acctest.Server, name string, edit func(*api.MonitorSpec)) {
	t.Helper()
	ctx := context.Background()
	m, err := srv.Client.GetMonitor(ctx, api.DefaultProject, name)
	if err != nil {
		t.Fatal(err)
	}
	edit(&m.MonitorSpec)
	if _, err := srv.Client.UpdateMonitor(ctx, api.DefaultProject, name, m.MonitorSpec, 0); err != nil {
		t.Fatal(err)
	}
}

func monitorGone(srv *acctest.Server, names ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		for _, n := range names {
			if _, err := srv.Client.GetMonitor(context.Background(), api.DefaultProject, n); !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("monitor %s still exists after destroy (err=%v)", n, err)
			}
		}
		return nil
	}
}

func TestAccMonitorResource(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	hooks := newHookReceiver(t)
	// Current holds the same rows as the baseline: no drift.
	baseline, _ := monitorDataFiles(t)
	current := filepath.Join(filepath.Dir(baseline), "current.csv")
	if b, err := os.ReadFile(baseline); err != nil || os.WriteFile(current, b, 0o600) != nil {
		t.Fatal("copy baseline", err)
	}
	stack := monitorStackConfig(baseline, current)
	const addr = "mlops_monitor.test"
	notification := fmt.Sprintf(`
  retrain_schedule = mlops_retraining_schedule.on_drift.name
  notification = {
    url    = %q
    secret = "lifecycle-secret"
  }
`, hooks.URL)
	created := notification + `  labels = { team = "risk" }`
	updated := notification + `
  features           = ["age", "income", "plan"]
  metric             = "wasserstein"
  categorical_metric = "psi"
  threshold          = 0.2
  feature_thresholds = { income = 0.3 }
  drift_share        = 0.75
  min_samples        = 50
  interval           = "30m"
  cooldown           = "6h"
  paused             = true
  description        = "Live customers against the training data"
  labels             = { team = "risk", tier = "gold" }
`
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             monitorGone(srv, "churn-inputs", "churn-inputs-v2"),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(stack + monitorConfig("churn-inputs", created)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						// Defaults are known at plan time, so the plan shows them.
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("metric"), knownvalue.StringExact("psi")),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("interval"), knownvalue.StringExact("1h")),
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("status")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/churn-inputs")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("project"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("metric"), knownvalue.StringExact("psi")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("categorical_metric"), knownvalue.StringExact("jensen_shannon")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("threshold"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("features"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("drift_share"), knownvalue.Float64Exact(0.5)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("min_samples"), knownvalue.Int64Exact(30)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("interval"), knownvalue.StringExact("1h")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("cooldown"), knownvalue.StringExact("1h")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("paused"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("retrain_schedule"), knownvalue.StringExact("on-drift")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("notification").AtMapKey("url"), knownvalue.StringExact(hooks.URL)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("notification").AtMapKey("secret"), knownvalue.StringExact("lifecycle-secret")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringRegexp(regexp.MustCompile(`^(pending|ok)$`))),
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetMonitor(ctx, api.DefaultProject, "churn-inputs")
					if err != nil || m.Model != "churn" || m.BaselineDataset != "customers-train" || m.CurrentDataset != "customers-live" ||
						m.RetrainSchedule != "on-drift" || m.Labels["team"] != "risk" || m.Notification == nil ||
						m.Notification.URL != hooks.URL || !m.Notification.SecretSet || m.Notification.Secret != "" {
						return fmt.Errorf("server holds %+v, %v", m, err)
					}
					// Identical data does not drift.
					_, err = waitForMonitor(srv.Client, "churn-inputs", 30*time.Second, func(m *api.Monitor) bool { return m.Status == api.MonitorOK })
					return err
				},
			},
			{
				ResourceName:      addr,
				ImportState:       true,
				ImportStateVerify: true,
				// The secret is never read back; the rest moves with evaluations.
				ImportStateVerifyIgnore: []string{"notification.secret", "status", "last_evaluated_at", "last_evaluation_id", "last_error"},
			},
			{
				// Config-driven import: the secret is not imported, so the first plan sends it again.
				Config:             srv.Config(stack + monitorConfig("churn-inputs", created)),
				ResourceName:       addr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ExpectNonEmptyPlan: true,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
			},
			{
				// Every setting updates in place.
				Config: srv.Config(stack + monitorConfig("churn-inputs", updated)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						// The update evaluates again, so the plan cannot know the outcome.
						plancheck.ExpectUnknownValue(addr, tfjsonpath.New("status")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("metric"), knownvalue.StringExact("wasserstein")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("categorical_metric"), knownvalue.StringExact("psi")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("threshold"), knownvalue.Float64Exact(0.2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("feature_thresholds"), knownvalue.MapExact(map[string]knownvalue.Check{"income": knownvalue.Float64Exact(0.3)})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("drift_share"), knownvalue.Float64Exact(0.75)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("min_samples"), knownvalue.Int64Exact(50)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("interval"), knownvalue.StringExact("30m")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("paused"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("labels"), knownvalue.MapSizeExact(2)),
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetMonitor(ctx, api.DefaultProject, "churn-inputs")
					if err != nil || m.Metric != "wasserstein" || m.Threshold == nil || *m.Threshold != 0.2 || m.FeatureThresholds["income"] != 0.3 ||
						m.DriftShareOrDefault() != 0.75 || m.MinSamplesOrDefault() != 50 || m.Interval != "30m" || m.Cooldown != "6h" ||
						!m.Paused || len(m.Features) != 3 || m.Labels["tier"] != "gold" || m.Notification == nil || !m.Notification.SecretSet {
						return fmt.Errorf("server holds %+v, %v", m, err)
					}
					return nil
				},
			},
			{
				// Drift: someone loosens the threshold, resumes the monitor and
				// drops the secret; the plan puts all of it back.
				PreConfig: func() {
					editMonitorOnServer(t, srv, "churn-inputs", func(s *api.MonitorSpec) {
						loose := 0.9
						s.Threshold, s.Paused = &loose, false
						s.Notification = &api.MonitorNotification{URL: hooks.URL}
					})
				},
				Config: srv.Config(stack + monitorConfig("churn-inputs", updated)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					m, err := srv.Client.GetMonitor(ctx, api.DefaultProject, "churn-inputs")
					if err != nil || m.Threshold == nil || *m.Threshold != 0.2 || !m.Paused || m.Notification == nil || !m.Notification.SecretSet {
						return fmt.Errorf("drift not repaired: server holds %+v, %v", m, err)
					}
					return nil
				},
			},
			{
				// Deleted outside Terraform: planned for re-creation, not an error.
				PreConfig: func() {
					if err := srv.Client.DeleteMonitor(ctx, api.DefaultProject, "churn-inputs", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(stack + monitorConfig("churn-inputs", updated)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
				},
			},
			{
				// Renaming replaces.
				Config: srv.Config(stack + monitorConfig("churn-inputs-v2", updated)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/churn-inputs-v2")),
				},
			},
			{
				Config:   srv.Config(stack + monitorConfig("churn-inputs-v2", updated)),
				PlanOnly: true, // the second plan is empty
			},
		},
	})
	if n := len(hooks.Calls()); n != 0 {
		t.Errorf("the receiver got %d alerts from a monitor that never drifted", n)
	}
}

// TestAccMonitor_driftAlertsAndRetrains is the product scenario: current data
// drifts from the training data, so the monitor turns drifting, sends one
// signed alert, and starts one retraining run of the schedule's pipeline.
func TestAccMonitor_driftAlertsAndRetrains(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	ctx := context.Background()
	hooks := newHookReceiver(t)
	baseline, drifted := monitorDataFiles(t)
	const name, secret = "churn-inputs", "whsec-0f9e8d7c6b5a"
	settings := fmt.Sprintf(`
  retrain_schedule = mlops_retraining_schedule.on_drift.name
  notification = {
    url    = %q
    secret = %q
  }
`, hooks.URL, secret)
	config := srv.Config(monitorStackConfig(baseline, drifted) + monitorConfig(name, settings))
	relabelled := srv.Config(monitorStackConfig(baseline, drifted) + monitorConfig(name, settings+`  labels = { team = "risk" }`))
	var alertID int64
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             monitorGone(srv, name),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					m, err := waitForMonitor(srv.Client, name, 30*time.Second, func(m *api.Monitor) bool { return m.Status == api.MonitorDrifting })
					if err != nil {
						return err
					}
					alert, err := monitorAlertEvaluation(srv.Client, name)
					if err != nil {
						return err
					}
					alertID = alert.ID
					if alert.DriftedFeatures < 2 || alert.DriftShare < 0.5 {
						return fmt.Errorf("alerting evaluation %d judged too little drift: %+v", alert.ID, alert)
					}
					// Another evaluation while drifting is no new transition: no second alert.
					again, err := srv.Client.EvaluateMonitor(ctx, api.DefaultProject, name)
					if err != nil {
						return err
					}
					if again.Status != api.MonitorDrifting || again.Alert || again.ID <= alert.ID {
						return fmt.Errorf("evaluating again gave %+v", again)
					}
					if err := oneSignedAlert(hooks, secret, name); err != nil {
						return err
					}
					if err := oneRetrainRun(srv.Client, name, alert.ID); err != nil {
						return err
					}
					// The evaluation records what became of both.
					if alert, err = srv.Client.GetMonitorEvaluation(ctx, api.DefaultProject, name, alert.ID); err != nil {
						return err
					}
					if alert.RetrainRun == nil || alert.RetrainRun.Pipeline != "retrain" || alert.Notification == nil || alert.Notification.State != api.DeliveryDelivered {
						return fmt.Errorf("alerting evaluation records retrain run %+v, notification %+v", alert.RetrainRun, alert.Notification)
					}
					if m.LastEvaluationID < alert.ID {
						return fmt.Errorf("monitor's last_evaluation_id %d is before the alert %d", m.LastEvaluationID, alert.ID)
					}
					return nil
				},
			},
			{
				// Evaluations changed status and last_evaluation_*; that is no diff.
				Config:   config,
				PlanOnly: true,
			},
			{
				// An update evaluates again; still drifting is no new transition,
				// so there is no second alert and no second run.
				Config: relabelled,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("mlops_monitor.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					m, err := waitForMonitor(srv.Client, name, 30*time.Second, func(m *api.Monitor) bool {
						return m.LastEvaluationID > alertID+1 && m.Status == api.MonitorDrifting
					})
					if err != nil {
						return err
					}
					if _, err := monitorAlertEvaluation(srv.Client, name); err != nil {
						return err
					}
					if err := oneSignedAlert(hooks, secret, name); err != nil {
						return err
					}
					if m.LastRetrainAt == nil {
						return fmt.Errorf("monitor does not record its retraining: %+v", m)
					}
					return oneRetrainRun(srv.Client, name, alertID)
				},
			},
			{
				Config: relabelled,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("mlops_monitor.test", tfjsonpath.New("status"), knownvalue.StringExact("drifting")),
					statecheck.ExpectKnownValue("mlops_monitor.test", tfjsonpath.New("last_evaluation_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue("mlops_monitor.test", tfjsonpath.New("last_evaluated_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
					statecheck.ExpectKnownValue("mlops_monitor.test", tfjsonpath.New("last_error"), knownvalue.Null()),
				},
			},
		},
	})
}

// monitorAlertEvaluation returns the one evaluation that moved the monitor into drifting.
func monitorAlertEvaluation(c *client.Client, name string) (*api.MonitorEvaluation, error) {
	evals, err := c.ListMonitorEvaluations(context.Background(), api.DefaultProject, name)
	if err != nil {
		return nil, err
	}
	var alerts []api.MonitorEvaluation
	for _, e := range evals {
		if e.Alert {
			alerts = append(alerts, e)
		}
	}
	if len(alerts) != 1 {
		return nil, fmt.Errorf("want one alerting evaluation, got %d of %d evaluations: %+v", len(alerts), len(evals), evals)
	}
	return c.GetMonitorEvaluation(context.Background(), api.DefaultProject, name, alerts[0].ID)
}

// oneSignedAlert waits for the receiver's alert and checks there is exactly
// one, signed with secret and naming the monitor.
func oneSignedAlert(hooks *hookReceiver, secret, monitor string) error {
	deadline := time.Now().Add(15 * time.Second)
	for len(hooks.Calls()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // room for a duplicate to show up
	calls := hooks.Calls()
	if len(calls) != 1 {
		return fmt.Errorf("the receiver got %d alerts, want 1", len(calls))
	}
	c := calls[0]
	if err := webhook.Verify(secret, c.signature, c.body, time.Now(), 5*time.Minute); err != nil {
		return fmt.Errorf("alert signature %q: %v", c.signature, err)
	}
	if err := webhook.Verify("another-secret", c.signature, c.body, time.Now(), 5*time.Minute); err == nil {
		return errors.New("the alert verifies with the wrong secret too")
	}
	var body any
	if err := json.Unmarshal(c.body, &body); err != nil {
		return fmt.Errorf("alert body is not JSON: %v: %s", err, c.body)
	}
	if !jsonMentions(body, monitor) {
		return fmt.Errorf("alert body does not name monitor %s: %s", monitor, c.body)
	}
	return nil
}

// jsonMentions says whether a decoded JSON value holds the string s anywhere.
func jsonMentions(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return v == s
	case []any:
		for _, e := range v {
			if jsonMentions(e, s) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if jsonMentions(e, s) {
				return true
			}
		}
	}
	return false
}

// oneRetrainRun waits for the run the monitor started and checks there is
// exactly one, tied to the alerting evaluation, and that it succeeds.
func oneRetrainRun(c *client.Client, monitor string, evaluation int64) error {
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		runs, err := c.ListRuns(ctx, api.DefaultProject, "retrain")
		if err != nil {
			return err
		}
		var mine []api.PipelineRun
		for _, r := range runs {
			if r.Trigger == "monitor:"+monitor {
				mine = append(mine, r)
			}
		}
		if len(mine) > 1 || len(mine) < len(runs) {
			return fmt.Errorf("want one run, started by the monitor; got %+v", runs)
		}
		if len(mine) == 1 {
			r := mine[0]
			if r.TriggerEvaluation != evaluation {
				return fmt.Errorf("run %d has trigger_evaluation %d, want %d", r.ID, r.TriggerEvaluation, evaluation)
			}
			if r.State == api.RunSucceeded {
				return nil
			}
			last = fmt.Sprintf("run %d is %s %s", r.ID, r.State, r.Error)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no retraining run by monitor %s succeeded within 30s (%s)", monitor, last)
}

// monitorError matches a diagnostic naming field, whose detail says want
// (Terraform may wrap it across lines).
func monitorError(field, want string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + regexp.QuoteMeta(field) + `.*` + strings.ReplaceAll(want, " ", `\s+`))
}

func TestAccMonitorResource_invalidConfig(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	step := func(attrs string, want *regexp.Regexp) resource.TestStep {
		return resource.TestStep{
			Config: srv.Config(fmt.Sprintf(`
resource "mlops_monitor" "test" {
  name             = "churn-inputs"
  model            = "churn"
  baseline_dataset = "customers-train"
  current_dataset  = "customers-live"
%s
}
`, attrs)),
			ExpectError: want,
			PlanOnly:    true,
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			step(`metric = "euclidean"`, monitorError("metric", `value must be one of: \["psi" "ks" "wasserstein" "jensen_shannon"\]`)),
			step(`categorical_metric = "ks"`, monitorError("categorical_metric", `value must be one of`)),
			step(`drift_share = 1.5`, monitorError("Invalid drift_share", "must be greater than 0 and at most 1")),
			step(`drift_share = 0`, monitorError("Invalid drift_share", "must be greater than 0 and at most 1")),
			step(`interval = "hourly"`, monitorError("Invalid interval", `"hourly" is not a duration`)),
			step(`interval = "5s"`, monitorError("Invalid interval", `"5s" is shorter than the minimum of 10s`)),
			step(`cooldown = "a while"`, monitorError("Invalid cooldown", `"a while" is not a duration`)),
			step(`notification = { url = "ftp://x" }`, monitorError("Invalid notification.url", `scheme "ftp" is not allowed; use http or https`)),
			step(`notification = { url = "https://user:pw@hooks.example.com/x" }`, monitorError("Invalid notification.url", `must not carry credentials`)),
			step(`
  metric    = "ks"
  threshold = 2`, monitorError("Invalid threshold", "is a p-value for ks and must be between 0 and 1")),
			step(`threshold = -1`, monitorError("Invalid threshold", "must be a finite number of at least 0")),
			step(`
  features           = ["age", "income"]
  feature_thresholds = { plan = 0.2 }`, monitorError("Invalid feature_thresholds.plan", "names a feature that is not in features")),
			step(`features = ["age", "age"]`, monitorError("Invalid features[1]", `"age" is listed twice`)),
			step(`min_samples = 0`, monitorError("Invalid min_samples", "must be at least 1")),
			step(`retrain_schedule = "Nightly Retrain"`, monitorError("Invalid retrain_schedule", `"Nightly Retrain" is not a valid name`)),
		},
	})
}

// The server's refusal of a missing object lands on the attribute naming it.
func TestAccMonitorResource_unknownReferences(t *testing.T) {
	srv := acctest.StartParallelServer(t)
	baseline, drifted := monitorDataFiles(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      srv.Config(monitorStackConfig(baseline, drifted) + monitorConfig("churn-inputs", `retrain_schedule = "no-such-schedule"`)),
			ExpectError: monitorError("retrain_schedule", `schedule "no-such-schedule" is not in project "default"`),
		}},
	})
}
