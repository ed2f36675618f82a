package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/monitoring"
	"github.com/mlopsplane/terraform-provider-mlops/internal/predlog"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// evalArgs is the durable job of one interval evaluation of a monitor; like
// a schedule firing, uniqueness on the arguments makes each due time run once.
type evalArgs struct {
	Project     string    `json:"project"`
	Monitor     string    `json:"monitor"`
	Incarnation int64     `json:"incarnation"`
	Due         time.Time `json:"due"`
}

func (evalArgs) Kind() string { return "monitor_evaluate" }

type evalWorker struct {
	river.WorkerDefaults[evalArgs]
	e *Engine
}

// Timeout bounds an evaluation (reading both datasets included), so that
// River hands the job of a dead worker to another once it has passed.
func (w *evalWorker) Timeout(*river.Job[evalArgs]) time.Duration { return 30 * time.Minute }

func (w *evalWorker) Work(ctx context.Context, job *river.Job[evalArgs]) error {
	return w.e.evaluateDue(ctx, job.Args)
}

// Evaluation triggers.
const (
	triggerInterval = "interval"
	triggerManual   = "manual"
)

// SyncMonitor queues a monitor's first evaluation after it was created or
// changed (at once: the user wants to see the verdict on the new spec); it
// runs inside the transaction of that write.
func (e *Engine) SyncMonitor(ctx context.Context, tx store.Store, project, name string) error {
	m, mo, err := loadMonitor(ctx, tx, project, name)
	if err != nil {
		return err
	}
	st, _ := loadMonitorState(ctx, tx, project, name)
	st.ForGeneration = mo.Generation
	st.NextEvaluationAt = nil
	if !m.Paused {
		next := e.now().UTC()
		st.NextEvaluationAt = &next
		if err := e.enqueueEvaluation(ctx, tx, project, name, mo.CreatedAt, next); err != nil {
			return err
		}
	}
	return saveMonitorState(ctx, tx, project, name, st)
}

func (e *Engine) enqueueEvaluation(ctx context.Context, tx store.Store, project, name string, incarnation, due time.Time) error {
	sqltx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	_, err = e.river.InsertTx(ctx, sqltx, evalArgs{Project: project, Monitor: name, Incarnation: incarnation.UnixMicro(), Due: due.UTC()},
		insertAt(&river.InsertOpts{Queue: queueMonitors, UniqueOpts: river.UniqueOpts{ByArgs: true}}, due, e.now()))
	if err != nil {
		return fmt.Errorf("enqueue monitor evaluation: %w", err)
	}
	return nil
}

// evaluateDue works one interval evaluation and queues the next.
func (e *Engine) evaluateDue(ctx context.Context, a evalArgs) error {
	m, mo, err := loadMonitor(ctx, e.store, a.Project, a.Monitor)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, _ := loadMonitorState(ctx, e.store, a.Project, a.Monitor)
	if mo.CreatedAt.UnixMicro() != a.Incarnation || st.NextEvaluationAt == nil || !st.NextEvaluationAt.Equal(a.Due) || m.Paused {
		return nil // changed since this evaluation was queued; its new one is queued
	}
	_, err = e.evaluate(ctx, m, mo, triggerInterval, &a.Due)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// EvaluateMonitor runs one evaluation now and returns it; the interval
// evaluations carry on as queued.
func (e *Engine) EvaluateMonitor(ctx context.Context, project, name string) (*api.MonitorEvaluation, error) {
	m, mo, err := loadMonitor(ctx, e.store, project, name)
	if err != nil {
		return nil, err
	}
	return e.evaluate(ctx, m, mo, triggerManual, nil)
}

// evaluate compares the monitor's datasets (outside any transaction: reading
// files takes a while), then records the evaluation and acts on a transition
// into drifting in one transaction. due is the interval due time, nil for a
// manual evaluation.
func (e *Engine) evaluate(ctx context.Context, m *api.Monitor, mo *store.Object, trigger string, due *time.Time) (*api.MonitorEvaluation, error) {
	ev := &api.MonitorEvaluation{
		Project: m.Project, Monitor: m.Name, Trigger: trigger, StartedAt: e.now().UTC(),
		BaselineDataset: m.BaselineDataset, CurrentDataset: m.CurrentDataset, Deployment: m.Deployment,
		DriftShareThreshold: m.DriftShareOrDefault(), Features: []api.FeatureDrift{}, DueAt: due,
	}
	if err := e.judge(ctx, m, ev); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ev.Status, ev.Error = api.MonitorError, err.Error()
	}
	ev.FinishedAt = e.now().UTC()

	err := e.store.InTx(ctx, func(tx store.Store) error {
		cur, co, err := loadMonitor(ctx, tx, m.Project, m.Name)
		if err != nil {
			return err
		}
		if !co.CreatedAt.Equal(mo.CreatedAt) {
			return store.ErrNotFound // deleted and created anew meanwhile
		}
		id, err := tx.NextSequence(ctx, store.MonitorEvaluationScope(m.Project, m.Name))
		if err != nil {
			return err
		}
		ev.ID = id
		st, _ := loadMonitorState(ctx, tx, m.Project, m.Name)
		if ev.Status == api.MonitorDrifting && st.LastVerdict != api.MonitorDrifting {
			if err := e.alert(ctx, tx, cur, ev, &st); err != nil {
				return err
			}
		}
		if ev.Status == api.MonitorOK || ev.Status == api.MonitorDrifting {
			st.LastVerdict = ev.Status
		}
		st.Status, st.LastError, st.LastEvaluationID = ev.Status, ev.Error, ev.ID
		st.LastEvaluatedAt = &ev.FinishedAt
		if due != nil && st.NextEvaluationAt != nil && st.NextEvaluationAt.Equal(*due) {
			// The next due time follows this one; times missed while the
			// server was down are not owed: one evaluation sees the same data.
			interval := cur.IntervalOrDefault()
			next := due.Add(interval)
			if now := e.now(); !next.After(now) {
				next = now.Add(interval)
			}
			next = next.UTC()
			st.NextEvaluationAt = &next
			if err := e.enqueueEvaluation(ctx, tx, m.Project, m.Name, co.CreatedAt, next); err != nil {
				return err
			}
		}
		o := &store.Object{Key: store.MonitorEvaluationKey(m.Project, m.Name, id), Ordinal: id, Data: mustJSON(ev)}
		if err := tx.Create(ctx, o); err != nil {
			return err
		}
		return saveMonitorState(ctx, tx, m.Project, m.Name, st)
	})
	if err != nil {
		return nil, err
	}
	e.log.Info("monitor evaluated", "project", m.Project, "monitor", m.Name, "evaluation", ev.ID, "status", ev.Status,
		"drift_share", ev.DriftShare, "alert", ev.Alert)
	return ev, nil
}

// judge reads both datasets and fills the verdict into ev.
func (e *Engine) judge(ctx context.Context, m *api.Monitor, ev *api.MonitorEvaluation) error {
	base, baseRows, baseVersion, err := e.readDataset(ctx, m.Project, m.BaselineDataset, "baseline_dataset")
	if err != nil {
		return err
	}
	var cur []dataset.Values
	var curRows, curVersion int64
	if m.Deployment != "" {
		// Live traffic: the newest rows the deployment's gateway logged.
		if _, err := e.store.Get(ctx, store.DeploymentKey(m.Project, m.Deployment)); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deployment: deployment %q does not exist in project %q", m.Deployment, m.Project)
		}
		window := m.CurrentWindow
		if window <= 0 {
			window = api.DefaultCurrentWindow
		}
		cur, curRows, err = predlog.Columns(ctx, e.store, m.Project, m.Deployment, window)
		// A feature the clients did not send is missing in every row: too few
		// samples to judge, not a broken spec.
		cur = withAbsentAsMissing(cur, base, curRows)
	} else {
		cur, curRows, curVersion, err = e.readDataset(ctx, m.Project, m.CurrentDataset, "current_dataset")
	}
	if err != nil {
		return err
	}
	ev.BaselineRows, ev.BaselineVersion, ev.CurrentRows, ev.CurrentVersion = baseRows, baseVersion, curRows, curVersion
	v, err := monitoring.Judge(&m.MonitorSpec, base, cur)
	if err != nil {
		return err
	}
	ev.Status, ev.Features = v.Status, v.Features
	ev.DriftShare, ev.DriftedFeatures, ev.JudgedFeatures = v.DriftShare, v.DriftedFeatures, v.JudgedFeatures
	return nil
}

// readDataset reads a dataset's file as it is now, under the data roots.
func (e *Engine) readDataset(ctx context.Context, project, name, field string) ([]dataset.Values, int64, int64, error) {
	o, err := e.store.Get(ctx, store.DatasetKey(project, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, 0, fmt.Errorf("%s: dataset %q does not exist in project %q", field, name, project)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	var d api.Dataset
	if err := json.Unmarshal(o.Data, &d); err != nil {
		return nil, 0, 0, err
	}
	path, ok := dataset.LocalPath(d.URI)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%s: dataset %q is at %s, which this server cannot read; monitors compare files the server can read", field, name, d.URI)
	}
	path, err = e.cfg.DataRoots.Allow(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: dataset %q: %w", field, name, err)
	}
	cols, _, rows, err := dataset.Columns(ctx, path, d.Format, d.Schema)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: dataset %q: %w", field, name, err)
	}
	return cols, rows, d.Version, nil
}

// alert acts on a transition into drifting: it queues the signed webhook and
// starts one retraining run unless the cooldown forbids it.
func (e *Engine) alert(ctx context.Context, tx store.Store, m *api.Monitor, ev *api.MonitorEvaluation, st *api.MonitorState) error {
	ev.Alert = true
	if m.Notification != nil {
		ev.Notification = &api.NotificationDelivery{URL: m.Notification.URL, State: api.DeliveryPending}
		if err := e.enqueueNotify(ctx, tx, m, ev.ID); err != nil {
			return err
		}
	}
	if m.RetrainSchedule == "" {
		return nil
	}
	now := e.now().UTC()
	if st.LastRetrainAt != nil {
		if until := st.LastRetrainAt.Add(m.CooldownOrDefault()); now.Before(until) {
			ev.RetrainSkipped = fmt.Sprintf("cooldown: the last retraining started at %s; the next may start after %s",
				st.LastRetrainAt.Format(time.RFC3339), until.Format(time.RFC3339))
			return nil
		}
	}
	sc, _, err := loadSchedule(ctx, tx, m.Project, m.RetrainSchedule)
	if errors.Is(err, store.ErrNotFound) {
		ev.RetrainSkipped = fmt.Sprintf("retrain_schedule %q does not exist in project %q", m.RetrainSchedule, m.Project)
		return nil
	}
	if err != nil {
		return err
	}
	run, err := e.createRunTx(ctx, tx, m.Project, sc.Pipeline, sc.Parameters, "monitor:"+m.Name, ev.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ev.RetrainSkipped = fmt.Sprintf("the pipeline %q of retrain_schedule %q does not exist", sc.Pipeline, sc.Name)
		return nil
	case errors.Is(err, api.ErrUnknownParameter):
		ev.RetrainSkipped = fmt.Sprintf("retrain_schedule %q: %v", sc.Name, err)
		return nil
	case err != nil:
		return err
	}
	ev.RetrainRun = &api.RunRef{Pipeline: run.Pipeline, ID: run.ID}
	st.LastRetrainAt = &now
	return nil
}

func loadMonitor(ctx context.Context, st store.Store, project, name string) (*api.Monitor, *store.Object, error) {
	o, err := st.Get(ctx, store.MonitorKey(project, name))
	if err != nil {
		return nil, nil, err
	}
	var m api.Monitor
	if err := json.Unmarshal(o.Data, &m); err != nil {
		return nil, nil, err
	}
	m.Project, m.Name = project, name
	return &m, o, nil
}

// LoadMonitorState reads what the engine keeps about a monitor (zero when nothing yet).
func LoadMonitorState(ctx context.Context, st store.Store, project, name string) (api.MonitorState, error) {
	return loadMonitorState(ctx, st, project, name)
}

func loadMonitorState(ctx context.Context, st store.Store, project, name string) (api.MonitorState, error) {
	var s api.MonitorState
	o, err := st.Get(ctx, store.MonitorStateKey(project, name))
	if err != nil {
		return s, err
	}
	err = json.Unmarshal(o.Data, &s)
	return s, err
}

func saveMonitorState(ctx context.Context, tx store.Store, project, name string, s api.MonitorState) error {
	o := &store.Object{Key: store.MonitorStateKey(project, name), Data: mustJSON(s)}
	err := tx.Update(ctx, o, 0)
	if errors.Is(err, store.ErrNotFound) {
		return tx.Create(ctx, o)
	}
	return err
}

// reconcileMonitors makes sure every monitor's next evaluation is queued (see
// reconcileSchedules).
func (e *Engine) reconcileMonitors(ctx context.Context) error {
	return e.eachObject(ctx, store.KindMonitor, func(project string, o *store.Object) error {
		return e.store.InTx(ctx, func(tx store.Store) error {
			st, err := loadMonitorState(ctx, tx, project, o.Name)
			if err != nil || st.ForGeneration != o.Generation {
				return e.SyncMonitor(ctx, tx, project, o.Name)
			}
			if st.NextEvaluationAt == nil {
				return nil // paused
			}
			return e.enqueueEvaluation(ctx, tx, project, o.Name, o.CreatedAt, *st.NextEvaluationAt)
		})
	})
}

// eachObject calls fn for every object of a kind in every project.
func (e *Engine) eachObject(ctx context.Context, kind store.Kind, fn func(project string, o *store.Object) error) error {
	projects, _, err := e.store.List(ctx, store.ListQuery{Kind: store.KindProject})
	if err != nil {
		return err
	}
	for _, p := range projects {
		err := store.Each(ctx, e.store, store.ListQuery{Kind: kind, Project: p.Name}, func(o *store.Object) error {
			if err := fn(p.Name, o); err != nil {
				return fmt.Errorf("%s %s/%s: %w", kind, p.Name, o.Name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func withAbsentAsMissing(cur, base []dataset.Values, rows int64) []dataset.Values {
	have := make(map[string]bool, len(cur))
	for _, c := range cur {
		have[c.Name] = true
	}
	for _, b := range base {
		if !have[b.Name] {
			cur = append(cur, dataset.Values{Name: b.Name, Type: b.Type, Numeric: b.Numeric, Missing: rows, Counts: map[string]int64{}})
		}
	}
	return cur
}
