package training_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
	"github.com/mlopsplane/terraform-provider-mlops/internal/training"
	"github.com/mlopsplane/terraform-provider-mlops/internal/webhook"
)

// writeData writes a CSV of 300 rows: x ~ normal(mean, 1), plan from plans.
func writeData(t *testing.T, path string, seed uint64, mean float64, plans ...string) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("x,plan\n")
	for i := range 300 {
		fmt.Fprintf(&b, "%.4f,%s\n", mean+r.NormFloat64(), plans[i%len(plans)])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// receiver is a webhook endpoint that answers the first fail calls with 500.
type receiver struct {
	mu    sync.Mutex
	fail  int
	calls []call
	*httptest.Server
}

type call struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.calls = append(rc.calls, call{header: r.Header.Clone(), body: body, at: time.Now()})
		if len(rc.calls) <= rc.fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) snapshot() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]call(nil), rc.calls...)
}

// monitorFixture creates datasets base and cur, a model, a retrain pipeline
// and schedule; it returns the path of the current data file.
func monitorFixture(t *testing.T, c *client.Client) (curPath string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	basePath, curPath := filepath.Join(dir, "base.csv"), filepath.Join(dir, "cur.csv")
	writeData(t, basePath, 1, 0, "basic", "pro")
	writeData(t, curPath, 2, 0, "basic", "pro")
	for name, path := range map[string]string{"base": basePath, "cur": curPath} {
		if _, err := c.CreateDataset(ctx, "default", api.CreateDatasetRequest{Name: name, DatasetSpec: api.DatasetSpec{URI: path, Format: "csv"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "retrain", PipelineSpec: api.PipelineSpec{
		Parameters: map[string]string{"reason": "schedule"},
		Steps:      []api.Step{sh("fit", "true")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSchedule(ctx, "default", api.CreateScheduleRequest{Name: "nightly", ScheduleSpec: api.ScheduleSpec{
		Pipeline: "retrain", Cron: "0 3 * * *", Parameters: map[string]string{"reason": "drift-or-night"},
	}}); err != nil {
		t.Fatal(err)
	}
	return curPath
}

func waitStatus(t *testing.T, c *client.Client, name, want string) *api.Monitor {
	t.Helper()
	var m *api.Monitor
	until(t, time.Now().Add(20*time.Second), "monitor "+name+" "+want, func() (bool, string) {
		var err error
		if m, err = c.GetMonitor(context.Background(), "default", name); err != nil {
			t.Fatal(err)
		}
		return m.Status == want, m.Status + " " + m.LastError
	})
	return m
}

func TestMonitorAlertsOnceSignedAndRetrains(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	curPath := monitorFixture(t, c)
	rc := newReceiver(t, 2) // two 500s before it accepts
	const secret = "whsec-monitor-test-0123456789"
	m, err := c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "churn-drift", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "base", CurrentDataset: "cur", RetrainSchedule: "nightly",
		Notification: &api.MonitorNotification{URL: rc.URL + "/hook", Secret: secret},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Notification.Secret != "" || !m.Notification.SecretSet {
		t.Fatalf("the create response must hide the secret and say one is set: %+v", m.Notification)
	}
	if m.Metric != "psi" || m.CategoricalMetric != "jensen_shannon" || m.Interval != "1h" || m.Cooldown != "1h" ||
		*m.DriftShare != 0.5 || *m.MinSamples != 30 {
		t.Fatalf("defaults are stored explicitly: %+v", m.MonitorSpec)
	}

	// Created: evaluated at once, same distribution.
	m = waitStatus(t, c, "churn-drift", api.MonitorOK)
	if m.LastEvaluationID != 1 || m.NextEvaluationAt == nil || time.Until(*m.NextEvaluationAt) < 50*time.Minute {
		t.Fatalf("after the first evaluation: %+v", m)
	}

	// The current data drifts: one manual evaluation alerts and retrains.
	writeData(t, curPath, 3, 1.5, "basic", "pro", "enterprise")
	ev, err := c.EvaluateMonitor(ctx, "default", "churn-drift")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != api.MonitorDrifting || !ev.Alert || ev.Trigger != "manual" || ev.DriftedFeatures != 2 || ev.JudgedFeatures != 2 {
		t.Fatalf("drifted evaluation: %+v", ev)
	}
	if ev.RetrainRun == nil || ev.RetrainRun.Pipeline != "retrain" {
		t.Fatalf("no retraining run: %+v (skipped: %s)", ev.RetrainRun, ev.RetrainSkipped)
	}
	run, err := c.GetRun(ctx, "default", "retrain", ev.RetrainRun.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Trigger != "monitor:churn-drift" || run.TriggerEvaluation != ev.ID || run.Parameters["reason"] != "drift-or-night" {
		t.Fatalf("retraining run lineage: trigger %s evaluation %d params %v", run.Trigger, run.TriggerEvaluation, run.Parameters)
	}
	waitRun(t, c, "default", "retrain", run.ID, 30*time.Second)

	// The webhook is retried until the receiver accepts, signed each time.
	until(t, time.Now().Add(20*time.Second), "webhook delivered", func() (bool, string) {
		got, err := c.GetMonitorEvaluation(ctx, "default", "churn-drift", ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Notification != nil && got.Notification.State == api.DeliveryDelivered, fmt.Sprintf("%+v", got.Notification)
	})
	calls := rc.snapshot()
	if len(calls) != 3 {
		t.Fatalf("receiver got %d calls, want 2 failures and 1 success", len(calls))
	}
	for i, cl := range calls {
		if err := webhook.Verify(secret, cl.header.Get(webhook.SignatureHeader), cl.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("call %d: signature: %v", i, err)
		}
		if cl.header.Get(webhook.DeliveryHeader) != calls[0].header.Get(webhook.DeliveryHeader) || cl.header.Get(webhook.EventHeader) != training.EventMonitorDrifting {
			t.Errorf("call %d: delivery %q event %q", i, cl.header.Get(webhook.DeliveryHeader), cl.header.Get(webhook.EventHeader))
		}
		if strings.Contains(string(cl.body), secret) {
			t.Errorf("call %d: the body carries the secret", i)
		}
	}
	var payload training.AlertPayload
	if err := json.Unmarshal(calls[2].body, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Monitor != "churn-drift" || payload.Model != "churn" || payload.Evaluation.ID != ev.ID || payload.Evaluation.Status != api.MonitorDrifting {
		t.Fatalf("payload: %+v", payload)
	}
	got, _ := c.GetMonitorEvaluation(ctx, "default", "churn-drift", ev.ID)
	if got.Notification.Attempts != 3 || got.Notification.StatusCode != http.StatusNoContent {
		t.Fatalf("delivery record: %+v", got.Notification)
	}

	// Still drifting: no second alert, no second run.
	ev2, err := c.EvaluateMonitor(ctx, "default", "churn-drift")
	if err != nil {
		t.Fatal(err)
	}
	if ev2.Status != api.MonitorDrifting || ev2.Alert || ev2.RetrainRun != nil || ev2.Notification != nil {
		t.Fatalf("second drifting evaluation must not alert: %+v", ev2)
	}

	// Back to normal, then drifting again inside the cooldown: the webhook
	// fires, the retraining does not.
	writeData(t, curPath, 4, 0, "basic", "pro")
	if ev3, err := c.EvaluateMonitor(ctx, "default", "churn-drift"); err != nil || ev3.Status != api.MonitorOK {
		t.Fatalf("recovered: %v %+v", err, ev3)
	}
	writeData(t, curPath, 5, 2, "basic", "pro", "enterprise")
	ev4, err := c.EvaluateMonitor(ctx, "default", "churn-drift")
	if err != nil {
		t.Fatal(err)
	}
	if !ev4.Alert || ev4.RetrainRun != nil || !strings.Contains(ev4.RetrainSkipped, "cooldown") {
		t.Fatalf("drift within the cooldown: alert %v run %+v skipped %q", ev4.Alert, ev4.RetrainRun, ev4.RetrainSkipped)
	}
	runs, err := c.ListRuns(ctx, "default", "retrain")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d retraining runs, want 1: %s", len(runs), runStates(runs))
	}
	until(t, time.Now().Add(20*time.Second), "second webhook", func() (bool, string) {
		return len(rc.snapshot()) == 4, fmt.Sprintf("%d calls", len(rc.snapshot()))
	})

	evs, err := c.ListMonitorEvaluations(ctx, "default", "churn-drift")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 || evs[0].ID != 5 || evs[4].Trigger != "interval" {
		t.Fatalf("history newest first: %d evaluations, first id %d", len(evs), evs[0].ID)
	}

	// The secret is stored but never served.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/projects/default/monitors/churn-drift", nil)
	req.Header.Set("Authorization", "Bearer "+ts.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(raw), secret) || !strings.Contains(string(raw), `"secret_set":true`) {
		t.Fatalf("GET monitor: %s", raw)
	}
}

func TestMonitorWebhookGivesUpOnRefusal(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	curPath := monitorFixture(t, c)
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusGone)
	}))
	t.Cleanup(srv.Close)
	writeData(t, curPath, 3, 3, "enterprise")
	if _, err := c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "m", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "base", CurrentDataset: "cur",
		Notification: &api.MonitorNotification{URL: srv.URL},
	}}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, c, "m", api.MonitorDrifting)
	until(t, time.Now().Add(20*time.Second), "delivery recorded as failed", func() (bool, string) {
		ev, err := c.GetMonitorEvaluation(ctx, "default", "m", m.LastEvaluationID)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Notification != nil && ev.Notification.State == api.DeliveryFailed, fmt.Sprintf("%+v", ev.Notification)
	})
	ev, _ := c.GetMonitorEvaluation(ctx, "default", "m", m.LastEvaluationID)
	if ev.Notification.Attempts != 1 || ev.Notification.StatusCode != http.StatusGone || ev.Notification.LastError == "" {
		t.Fatalf("a 410 is not retried: %+v", ev.Notification)
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("receiver got %d calls, want 1", calls)
	}
}

func TestMonitorErrorsNameTheCause(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	curPath := monitorFixture(t, c)
	if _, err := c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "m", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "base", CurrentDataset: "cur", RetrainSchedule: "nightly",
	}}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "m", api.MonitorOK)
	if err := os.Remove(curPath); err != nil {
		t.Fatal(err)
	}
	ev, err := c.EvaluateMonitor(ctx, "default", "m")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != api.MonitorError || !strings.Contains(ev.Error, "current_dataset") || ev.Alert {
		t.Fatalf("missing current file: %+v", ev)
	}
	m, _ := c.GetMonitor(ctx, "default", "m")
	if m.Status != api.MonitorError || m.LastError != ev.Error {
		t.Fatalf("monitor after the error: %s %q", m.Status, m.LastError)
	}
	// An error between two drifting verdicts does not re-alert.
	writeData(t, curPath, 9, 3, "enterprise")
	if ev, _ = c.EvaluateMonitor(ctx, "default", "m"); !ev.Alert {
		t.Fatalf("first drift after ok must alert: %+v", ev)
	}
	if err := os.Remove(curPath); err != nil {
		t.Fatal(err)
	}
	if ev, _ = c.EvaluateMonitor(ctx, "default", "m"); ev.Status != api.MonitorError {
		t.Fatalf("%+v", ev)
	}
	writeData(t, curPath, 10, 3, "enterprise")
	if ev, _ = c.EvaluateMonitor(ctx, "default", "m"); ev.Status != api.MonitorDrifting || ev.Alert {
		t.Fatalf("drifting again after an error must not re-alert: %+v", ev)
	}
}

func TestMonitorEvaluatesOnItsInterval(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	monitorFixture(t, c)
	created := time.Now()
	if _, err := c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "m", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "base", CurrentDataset: "cur", Interval: "10s",
	}}); err != nil {
		t.Fatal(err)
	}
	var evs []api.MonitorEvaluation
	until(t, created.Add(25*time.Second), "two interval evaluations", func() (bool, string) {
		var err error
		if evs, err = c.ListMonitorEvaluations(ctx, "default", "m"); err != nil {
			t.Fatal(err)
		}
		return len(evs) >= 2, fmt.Sprintf("%d evaluations", len(evs))
	})
	first, second := evs[len(evs)-1], evs[len(evs)-2]
	if first.Trigger != "interval" || second.Trigger != "interval" || first.DueAt == nil || second.DueAt == nil {
		t.Fatalf("evaluations %+v and %+v", first, second)
	}
	if gap := second.DueAt.Sub(*first.DueAt); gap != 10*time.Second {
		t.Fatalf("evaluations due %s and %s (%s apart), want 10s apart", first.DueAt, second.DueAt, gap)
	}
	if late := second.StartedAt.Sub(*second.DueAt); late < 0 || late > 3*time.Second {
		t.Fatalf("evaluation due %s started %s", second.DueAt, second.StartedAt)
	}

	// Paused: no more interval evaluations; the manual one still works.
	m, _ := c.GetMonitor(ctx, "default", "m")
	spec := m.MonitorSpec
	spec.Paused = true
	if m, err := c.UpdateMonitor(ctx, "default", "m", spec, 0); err != nil || m.NextEvaluationAt != nil {
		t.Fatalf("pause: %v %+v", err, m)
	}
	n := len(evs)
	time.Sleep(11 * time.Second)
	if evs, _ = c.ListMonitorEvaluations(ctx, "default", "m"); len(evs) != n {
		t.Fatalf("a paused monitor evaluated on its own: %d evaluations, had %d", len(evs), n)
	}
	if _, err := c.EvaluateMonitor(ctx, "default", "m"); err != nil {
		t.Fatal(err)
	}
}
