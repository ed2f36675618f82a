package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/schedule"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// fireArgs is the durable job of one due time of one schedule. River's
// uniqueness on the arguments makes each due time fire once, whichever
// replica or restart gets to it; Incarnation tells a schedule apart from an
// earlier one of the same name.
type fireArgs struct {
	Project     string    `json:"project"`
	Schedule    string    `json:"schedule"`
	Incarnation int64     `json:"incarnation"`
	Due         time.Time `json:"due"`
}

func (fireArgs) Kind() string { return "schedule_fire" }

// MaxCatchup bounds the missed firings a catchup schedule runs after downtime.
const MaxCatchup = 50

type fireWorker struct {
	river.WorkerDefaults[fireArgs]
	e *Engine
}

// Timeout bounds a firing, so that River hands the job of a dead worker to
// another once it has passed: the schedule fires late, but fires.
func (w *fireWorker) Timeout(*river.Job[fireArgs]) time.Duration { return time.Minute }

func (w *fireWorker) Work(ctx context.Context, job *river.Job[fireArgs]) error {
	return w.e.fire(ctx, job.Args)
}

// SyncSchedule queues the next firing of a schedule after it was created or
// changed; it runs inside the transaction of that write, so the two commit together.
func (e *Engine) SyncSchedule(ctx context.Context, tx store.Store, project, name string) error {
	sc, so, err := loadSchedule(ctx, tx, project, name)
	if err != nil {
		return err
	}
	st, _ := loadScheduleState(ctx, tx, project, name)
	st.ForGeneration = so.Generation
	st.NextFireAt = nil
	timing, err := schedule.Parse(sc.ScheduleSpec)
	if err != nil {
		return err
	}
	if next, ok := timing.Next(e.now(), so.CreatedAt); ok {
		st.NextFireAt = &next
		if err := e.enqueueFire(ctx, tx, project, name, so.CreatedAt, next); err != nil {
			return err
		}
	}
	return saveScheduleState(ctx, tx, project, name, st)
}

func (e *Engine) enqueueFire(ctx context.Context, tx store.Store, project, name string, incarnation, due time.Time) error {
	sqltx, err := sqlTx(tx)
	if err != nil {
		return err
	}
	_, err = e.river.InsertTx(ctx, sqltx, fireArgs{Project: project, Schedule: name, Incarnation: incarnation.UnixMicro(), Due: due.UTC()},
		&river.InsertOpts{Queue: queueSchedules, ScheduledAt: due, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return fmt.Errorf("enqueue schedule firing: %w", err)
	}
	return nil
}

// dueTimes lists the firings owed at now for a job due at due: all missed
// times (at most MaxCatchup, the latest) with catchup, else only the latest.
func dueTimes(timing *schedule.Timing, due, now, anchor time.Time, catchup bool) []time.Time {
	if now.Before(due) {
		return nil
	}
	missed := []time.Time{due}
	for t := due; ; {
		next, ok := timing.Next(t, anchor)
		if !ok || next.After(now) {
			break
		}
		missed = append(missed, next)
		if len(missed) > MaxCatchup {
			missed = missed[1:]
		}
		t = next
	}
	if !catchup {
		return missed[len(missed)-1:]
	}
	return missed
}

// fire starts the runs a due time owes, honouring the concurrency policy,
// and queues the next firing, all in one transaction.
func (e *Engine) fire(ctx context.Context, a fireArgs) error {
	err := e.store.InTx(ctx, func(tx store.Store) error {
		sc, so, err := loadSchedule(ctx, tx, a.Project, a.Schedule)
		if err != nil {
			return err
		}
		st, _ := loadScheduleState(ctx, tx, a.Project, a.Schedule)
		if so.CreatedAt.UnixMicro() != a.Incarnation || st.NextFireAt == nil || !st.NextFireAt.Equal(a.Due) {
			return nil // the schedule changed since this firing was queued; its new one is queued
		}
		timing, err := schedule.Parse(sc.ScheduleSpec)
		if err != nil {
			return err
		}
		now := e.now()
		if now.Before(a.Due) {
			// The queue found the job due before our clock does: River rounds
			// scheduled_at to the millisecond on SQLite and uses the database's
			// clock on PostgreSQL. Firing nothing here would re-queue this same
			// due time, which its unique job makes a no-op, and stall the schedule.
			now = a.Due
		}
		if sc.EndAt != nil && a.Due.After(*sc.EndAt) || sc.Paused {
			st.NextFireAt = nil
			return saveScheduleState(ctx, tx, a.Project, a.Schedule, st)
		}
		for _, due := range dueTimes(timing, a.Due, now, so.CreatedAt, sc.Catchup) {
			if err := e.fireOnce(ctx, tx, sc, &st, due); err != nil {
				return err
			}
		}
		t := now.UTC()
		st.LastFiredAt = &t
		st.NextFireAt = nil
		if next, ok := timing.Next(now, so.CreatedAt); ok {
			st.NextFireAt = &next
			if err := e.enqueueFire(ctx, tx, a.Project, a.Schedule, so.CreatedAt, next); err != nil {
				return err
			}
		}
		return saveScheduleState(ctx, tx, a.Project, a.Schedule, st)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // the schedule or its pipeline is gone
	}
	return err
}

// fireOnce applies the concurrency policy for one due time and starts a run.
func (e *Engine) fireOnce(ctx context.Context, tx store.Store, sc *api.Schedule, st *api.ScheduleState, due time.Time) error {
	trigger := "schedule:" + sc.Name
	active, err := activeRuns(ctx, tx, sc.Project, sc.Pipeline, trigger)
	if err != nil {
		return err
	}
	if len(active) > 0 {
		switch sc.ConcurrencyPolicy {
		case "forbid", "":
			st.LastSkip = fmt.Sprintf("skipped the firing due %s: run %d is still %s (concurrency_policy forbid)",
				due.UTC().Format(time.RFC3339), active[0].ID, active[0].State)
			e.log.Info("schedule firing skipped", "project", sc.Project, "schedule", sc.Name, "due", due, "active_run", active[0].ID)
			return nil
		case "replace":
			for _, r := range active {
				if err := cancelInTx(ctx, tx, sc.Project, sc.Pipeline, r.ID, e.now()); err != nil {
					return err
				}
			}
		}
	}
	run, err := e.createRunTx(ctx, tx, sc.Project, sc.Pipeline, sc.Parameters, trigger, 0)
	if err != nil {
		return err
	}
	st.LastRunID, st.LastRunPipeline, st.LastSkip = run.ID, run.Pipeline, ""
	return nil
}

// activeRuns returns the unfinished runs of a pipeline with the trigger, newest first.
func activeRuns(ctx context.Context, tx store.Store, project, pipeline, trigger string) ([]api.PipelineRun, error) {
	objs, _, err := tx.List(ctx, store.ListQuery{Kind: store.KindPipelineRun, Project: project, Parent: pipeline, Desc: true, Limit: 50})
	if err != nil {
		return nil, err
	}
	var out []api.PipelineRun
	for _, o := range objs {
		var r api.PipelineRun
		if err := json.Unmarshal(o.Data, &r); err != nil {
			return nil, err
		}
		if r.Trigger == trigger && !api.RunFinished(r.State) {
			out = append(out, r)
		}
	}
	return out, nil
}

func cancelInTx(ctx context.Context, tx store.Store, project, pipeline string, id int64, now time.Time) error {
	o, err := tx.Get(ctx, store.PipelineRunKey(project, pipeline, id))
	if err != nil {
		return err
	}
	var r api.PipelineRun
	if err := json.Unmarshal(o.Data, &r); err != nil {
		return err
	}
	r.CancelRequested = true
	if r.State == api.RunQueued {
		finishRun(&r, api.RunCancelled, "replaced by a newer scheduled run", now)
	}
	r.Meta = api.Meta{}
	o.Data = mustJSON(&r)
	return tx.Update(ctx, o, 0)
}

func loadSchedule(ctx context.Context, st store.Store, project, name string) (*api.Schedule, *store.Object, error) {
	o, err := st.Get(ctx, store.ScheduleKey(project, name))
	if err != nil {
		return nil, nil, err
	}
	var sc api.Schedule
	if err := json.Unmarshal(o.Data, &sc); err != nil {
		return nil, nil, err
	}
	return &sc, o, nil
}

// LoadScheduleState reads what the engine keeps about a schedule (zero when nothing yet).
func LoadScheduleState(ctx context.Context, st store.Store, project, name string) (api.ScheduleState, error) {
	return loadScheduleState(ctx, st, project, name)
}

func loadScheduleState(ctx context.Context, st store.Store, project, name string) (api.ScheduleState, error) {
	var s api.ScheduleState
	o, err := st.Get(ctx, store.ScheduleStateKey(project, name))
	if err != nil {
		return s, err
	}
	err = json.Unmarshal(o.Data, &s)
	return s, err
}

func saveScheduleState(ctx context.Context, tx store.Store, project, name string, s api.ScheduleState) error {
	o := &store.Object{Key: store.ScheduleStateKey(project, name), Data: mustJSON(s)}
	err := tx.Update(ctx, o, 0)
	if errors.Is(err, store.ErrNotFound) {
		return tx.Create(ctx, o)
	}
	return err
}

// reconcileSchedules makes sure every schedule's next firing is queued: after
// an upgrade, or when a firing's job was lost with a database restore.
// Queueing is idempotent (unique jobs), so running it on every start is safe.
func (e *Engine) reconcileSchedules(ctx context.Context) error {
	return e.eachObject(ctx, store.KindSchedule, func(project string, o *store.Object) error {
		return e.store.InTx(ctx, func(tx store.Store) error {
			st, err := loadScheduleState(ctx, tx, project, o.Name)
			if err != nil || st.ForGeneration != o.Generation || st.NextFireAt == nil {
				return e.SyncSchedule(ctx, tx, project, o.Name)
			}
			return e.enqueueFire(ctx, tx, project, o.Name, o.CreatedAt, *st.NextFireAt)
		})
	})
}
