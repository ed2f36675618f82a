package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/webhook"
)

// EventMonitorDrifting is the event of a monitor's alert webhook.
const EventMonitorDrifting = "monitor.drifting"

// notifyArgs is the durable job that delivers one alert's webhook. Each job
// attempt makes one HTTP attempt, so a slow or failing receiver holds up
// nothing but its own retries.
type notifyArgs struct {
	Project     string `json:"project"`
	Monitor     string `json:"monitor"`
	Incarnation int64  `json:"incarnation"`
	Evaluation  int64  `json:"evaluation"`
}

func (notifyArgs) Kind() string { return "monitor_notify" }

type notifyWorker struct {
	river.WorkerDefaults[notifyArgs]
	e *Engine
}

// Timeout bounds one delivery attempt, so that River hands the job of a
// dead worker to another once it has passed.
func (w *notifyWorker) Timeout(*river.Job[notifyArgs]) time.Duration { return time.Minute }

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[notifyArgs]) error {
	return w.e.notify(ctx, job.Args, job.Attempt)
}

// NextRetry spaces the attempts by the engine's backoff rather than River's
// default (attempt⁴ seconds), so receivers back up quickly get the alert soon.
func (w *notifyWorker) NextRetry(job *river.Job[notifyArgs]) time.Time {
	return time.Now().Add(webhook.Backoff(job.Attempt, w.e.cfg.NotifyBackoff, w.e.cfg.NotifyBackoffMax))
}

func (e *Engine) enqueueNotify(ctx context.Context, tx store.Store, m *api.Monitor, evaluation int64) error {
	sqltx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	_, mo, err := loadMonitor(ctx, tx, m.Project, m.Name)
	if err != nil {
		return err
	}
	_, err = e.river.InsertTx(ctx, sqltx, notifyArgs{Project: m.Project, Monitor: m.Name, Incarnation: mo.CreatedAt.UnixMicro(), Evaluation: evaluation},
		&river.InsertOpts{Queue: queueNotifications, MaxAttempts: webhook.MaxAttempts})
	if err != nil {
		return fmt.Errorf("enqueue alert webhook: %w", err)
	}
	return nil
}

// AlertPayload is the JSON body of an alert webhook.
type AlertPayload struct {
	Event      string                 `json:"event"`
	Project    string                 `json:"project"`
	Monitor    string                 `json:"monitor"`
	Model      string                 `json:"model"`
	Evaluation *api.MonitorEvaluation `json:"evaluation"`
}

// notify makes one delivery attempt and records its outcome on the evaluation.
func (e *Engine) notify(ctx context.Context, a notifyArgs, attempt int) error {
	m, mo, err := loadMonitor(ctx, e.store, a.Project, a.Monitor)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if mo.CreatedAt.UnixMicro() != a.Incarnation || m.Notification == nil {
		return nil // the monitor was replaced or no longer notifies
	}
	ev, _, err := loadEvaluation(ctx, e.store, a.Project, a.Monitor, a.Evaluation)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	sent := *ev
	sent.Notification = nil // its delivery state is not part of the alert
	body, err := json.Marshal(AlertPayload{Event: EventMonitorDrifting, Project: a.Project, Monitor: a.Monitor, Model: m.Model, Evaluation: &sent})
	if err != nil {
		return err
	}
	res := e.webhooks.Send(ctx, webhook.Delivery{
		ID:    fmt.Sprintf("%s/%s/%d", a.Project, a.Monitor, a.Evaluation),
		Event: EventMonitorDrifting, URL: m.Notification.URL, Secret: m.Notification.Secret, Body: body,
	}, e.now())

	now := e.now().UTC()
	d := api.NotificationDelivery{URL: m.Notification.URL, Attempts: attempt, StatusCode: res.StatusCode, LastTryAt: &now}
	switch {
	case res.Err == nil:
		d.State = api.DeliveryDelivered
	case res.Retryable && attempt < webhook.MaxAttempts:
		d.State, d.LastError = api.DeliveryPending, res.Err.Error()
	default:
		d.State, d.LastError = api.DeliveryFailed, res.Err.Error()
	}
	if err := e.updateEvaluation(ctx, a.Project, a.Monitor, a.Evaluation, func(ev *api.MonitorEvaluation) { ev.Notification = &d }); err != nil {
		return err
	}
	if d.State == api.DeliveryPending {
		e.log.Warn("alert webhook failed; will retry", "project", a.Project, "monitor", a.Monitor, "evaluation", a.Evaluation,
			"attempt", attempt, "err", res.Err)
		return res.Err
	}
	if d.State == api.DeliveryFailed {
		e.log.Warn("alert webhook failed for good", "project", a.Project, "monitor", a.Monitor, "evaluation", a.Evaluation,
			"attempt", attempt, "err", res.Err)
	}
	return nil
}

func loadEvaluation(ctx context.Context, st store.Store, project, monitor string, id int64) (*api.MonitorEvaluation, *store.Object, error) {
	o, err := st.Get(ctx, store.MonitorEvaluationKey(project, monitor, id))
	if err != nil {
		return nil, nil, err
	}
	var ev api.MonitorEvaluation
	if err := json.Unmarshal(o.Data, &ev); err != nil {
		return nil, nil, err
	}
	return &ev, o, nil
}

func (e *Engine) updateEvaluation(ctx context.Context, project, monitor string, id int64, fn func(*api.MonitorEvaluation)) error {
	return e.store.InTx(ctx, func(tx store.Store) error {
		ev, o, err := loadEvaluation(ctx, tx, project, monitor, id)
		if err != nil {
			return err
		}
		fn(ev)
		o.Data = mustJSON(ev)
		return tx.Update(ctx, o, o.Generation)
	})
}
