package training

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// River rescues a job left running by a dead process only once the job's
// timeout has passed, and run jobs have none: a run may take hours. A run's
// own heartbeat tells a dead worker from a long run, so every working
// process sweeps for run jobs whose run went silent and makes them
// available again; the next worker to take one takes the run over (work).
// The other kinds have timeouts (see the workers' Timeout), so River's
// rescuer hands them on.

const (
	// rescueInterval is how often a worker sweeps for runs of dead workers.
	rescueInterval = 10 * time.Second
	rescueBatch    = 100
)

func (e *Engine) rescueLoop(ctx context.Context) {
	tick := time.NewTicker(rescueInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := e.rescueRuns(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Warn("looking for runs of stopped workers", "err", err)
		case n > 0:
			e.log.Warn("released the runs of a stopped worker to the others", "runs", n)
		}
	}
}

// rescueRuns makes the jobs of runs whose worker stopped heartbeating
// available again, and says how many.
func (e *Engine) rescueRuns(ctx context.Context) (int, error) {
	var params riverdriver.JobRescueManyParams
	err := e.store.InTx(ctx, func(tx store.Store) error {
		params = riverdriver.JobRescueManyParams{} // a retried transaction starts afresh
		sqltx, err := sqlTx(tx)
		if err != nil {
			return err
		}
		exec := e.driver.UnwrapExecutor(sqltx)
		// A job attempted less than heartbeatStale ago cannot have a stale run
		// yet. The release too is conditional on it, so a job another sweep
		// released and a worker took since is left alone.
		horizon := time.Now().Add(-heartbeatStale)
		params.StuckHorizon = horizon
		stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: rescueBatch, StuckHorizon: horizon})
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		for _, job := range stuck {
			if job.Kind != (runArgs{}).Kind() {
				continue
			}
			stale, err := e.runStale(ctx, tx, job)
			if err != nil {
				return err
			}
			if !stale {
				continue
			}
			attemptErr, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: job.Attempt,
				Error: "the worker running this job stopped heartbeating the run; released to another worker"})
			if err != nil {
				return err
			}
			params.ID = append(params.ID, job.ID)
			params.Error = append(params.Error, attemptErr)
			params.FinalizedAt = append(params.FinalizedAt, nil)
			params.ScheduledAt = append(params.ScheduledAt, now)
			params.State = append(params.State, string(rivertype.JobStateAvailable))
		}
		if len(params.ID) == 0 {
			return nil
		}
		_, err = exec.JobRescueMany(ctx, &params)
		return err
	})
	return len(params.ID), err
}

// runStale says whether the run of a running job has no live worker: its
// heartbeat stopped, or it ended or went away while the job did not finish.
func (e *Engine) runStale(ctx context.Context, tx store.Store, job *rivertype.JobRow) (bool, error) {
	if !json.Valid(job.EncodedArgs) {
		return true, nil // the worker will discard it
	}
	var a runArgs
	if err := json.Unmarshal(job.EncodedArgs, &a); err != nil {
		return false, err
	}
	o, err := tx.Get(ctx, store.PipelineRunKey(a.Project, a.Pipeline, a.ID))
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	// Every change of a run's state, and the heartbeat, updates it.
	return e.now().Sub(o.UpdatedAt) >= heartbeatStale, nil
}
