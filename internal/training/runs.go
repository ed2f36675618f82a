package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/runner"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// runArgs is the durable job that executes one run.
type runArgs struct {
	Project  string `json:"project"`
	Pipeline string `json:"pipeline"`
	ID       int64  `json:"id"`
}

func (runArgs) Kind() string { return "pipeline_run" }

// CreateRun records a queued run of the pipeline's current revision and
// enqueues its job in the same transaction.
func (e *Engine) CreateRun(ctx context.Context, project, pipeline string, params map[string]string, trigger string) (*api.PipelineRun, error) {
	var run *api.PipelineRun
	err := e.store.InTx(ctx, func(tx store.Store) error {
		var err error
		run, err = e.createRunTx(ctx, tx, project, pipeline, params, trigger, 0)
		return err
	})
	return run, err
}

// createRunTx records a queued run inside tx; evaluation is the monitor
// evaluation that caused it (0 for none).
func (e *Engine) createRunTx(ctx context.Context, tx store.Store, project, pipeline string, params map[string]string, trigger string, evaluation int64) (*api.PipelineRun, error) {
	po, err := tx.Get(ctx, store.PipelineKey(project, pipeline))
	if err != nil {
		return nil, err
	}
	var p api.Pipeline
	if err := json.Unmarshal(po.Data, &p); err != nil {
		return nil, err
	}
	merged := maps.Clone(p.Parameters)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range params {
		if _, ok := p.Parameters[k]; !ok {
			return nil, fmt.Errorf("%w %q: pipeline %q declares %s", api.ErrUnknownParameter, k, pipeline, declared(p.Parameters))
		}
		merged[k] = v
	}
	id, err := tx.NextSequence(ctx, store.PipelineRunScope(project, pipeline))
	if err != nil {
		return nil, err
	}
	run := &api.PipelineRun{
		Project: project, Pipeline: pipeline, ID: id, Revision: p.Revision, Trigger: trigger, TriggerEvaluation: evaluation,
		Parameters: merged, State: api.RunQueued,
	}
	for _, st := range p.Steps {
		run.Steps = append(run.Steps, api.RunStep{Name: st.Name, State: string(runner.StatePending)})
	}
	o := &store.Object{Key: store.PipelineRunKey(project, pipeline, id), Ordinal: id, Data: mustJSON(run)}
	if err := tx.Create(ctx, o); err != nil {
		return nil, err
	}
	sqltx, err := sqlTx(tx)
	if err != nil {
		return nil, err
	}
	if _, err := e.river.InsertTx(ctx, sqltx, runArgs{Project: project, Pipeline: pipeline, ID: id}, &river.InsertOpts{Queue: queueRuns}); err != nil {
		return nil, fmt.Errorf("enqueue run: %w", err)
	}
	run.Meta = api.Meta{Generation: o.Generation, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	return run, nil
}

func declared(params map[string]string) string {
	if len(params) == 0 {
		return "no parameters"
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	return "only " + strings.Join(names, ", ")
}

// CancelRun asks a run to stop: a queued run is cancelled at once, a running
// one by its worker within a second or two.
func (e *Engine) CancelRun(ctx context.Context, project, pipeline string, id int64) (*api.PipelineRun, error) {
	var run api.PipelineRun
	err := e.updateRun(ctx, project, pipeline, id, func(r *api.PipelineRun) error {
		if api.RunFinished(r.State) {
			return nil
		}
		r.CancelRequested = true
		if r.State == api.RunQueued {
			finishRun(r, api.RunCancelled, "cancelled before it started", e.now())
		}
		return nil
	}, &run)
	return &run, err
}

// updateRun applies fn to a run in a transaction and returns the result in out.
func (e *Engine) updateRun(ctx context.Context, project, pipeline string, id int64, fn func(*api.PipelineRun) error, out *api.PipelineRun) error {
	k := store.PipelineRunKey(project, pipeline, id)
	return e.store.InTx(ctx, func(tx store.Store) error {
		o, err := tx.Get(ctx, k)
		if err != nil {
			return err
		}
		var r api.PipelineRun
		if err := json.Unmarshal(o.Data, &r); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		r.Meta = api.Meta{}
		o.Data = mustJSON(&r)
		if err := tx.Update(ctx, o, 0); err != nil {
			return err
		}
		if out != nil {
			*out = r
			out.Meta = api.Meta{Generation: o.Generation, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
		}
		return nil
	})
}

func finishRun(r *api.PipelineRun, state, msg string, now time.Time) {
	t := now.UTC()
	r.State, r.FinishedAt = state, &t
	if msg != "" {
		r.Error = msg
	}
	for i := range r.Steps {
		if r.Steps[i].State == string(runner.StatePending) {
			r.Steps[i].State = string(runner.StateCancelled)
		}
	}
}

// heartbeatEvery is how often a running run proves its worker is alive;
// a run silent for heartbeatStale is taken over by another worker.
const (
	heartbeatEvery = 5 * time.Second
	heartbeatStale = 30 * time.Second
)

type runWorker struct {
	river.WorkerDefaults[runArgs]
	e *Engine
}

func (w *runWorker) Work(ctx context.Context, job *river.Job[runArgs]) error {
	return w.e.work(ctx, job.Args)
}

// work executes one run to its end. Step failures are the run's outcome, not
// the job's: the job only errs when the database does.
func (e *Engine) work(ctx context.Context, a runArgs) error {
	k := store.PipelineRunKey(a.Project, a.Pipeline, a.ID)
	var run api.PipelineRun
	var rev api.PipelineRevision
	takeover := false
	err := e.store.InTx(ctx, func(tx store.Store) error {
		o, err := tx.Get(ctx, k)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(o.Data, &run); err != nil {
			return err
		}
		if run.State == api.RunRunning && e.now().Sub(o.UpdatedAt) < heartbeatStale {
			return errBusy
		}
		takeover = run.State == api.RunRunning
		if api.RunFinished(run.State) {
			return nil
		}
		ro, err := tx.Get(ctx, store.PipelineRevisionKey(a.Project, a.Pipeline, run.Revision))
		if err != nil {
			return err
		}
		return json.Unmarshal(ro.Data, &rev)
	})
	switch {
	case errors.Is(err, errBusy):
		return river.JobSnooze(heartbeatStale)
	case errors.Is(err, store.ErrNotFound):
		return nil // the run or its pipeline was deleted
	case err != nil:
		return err
	case api.RunFinished(run.State):
		return nil
	}
	if takeover {
		e.log.Warn("taking over a run whose worker stopped", "project", a.Project, "pipeline", a.Pipeline, "run", a.ID)
	}
	if e.cfg.Executor == nil {
		return e.updateRun(ctx, a.Project, a.Pipeline, a.ID, func(r *api.PipelineRun) error {
			finishRun(r, api.RunFailed, "this server runs no executor (mlopsd serve --executor none); start a worker with --executor local or kubernetes", e.now())
			return nil
		}, nil)
	}
	return e.execute(ctx, a, rev)
}

var errBusy = errors.New("run is being worked elsewhere")

// execute runs the revision's DAG, persisting step states and logs as they change.
func (e *Engine) execute(ctx context.Context, a runArgs, rev api.PipelineRevision) error {
	dir := filepath.Join(e.cfg.DataDir, a.Project, a.Pipeline, strconv.FormatInt(a.ID, 10))
	// A taken-over run starts afresh.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	outDir := filepath.Join(dir, "outputs")
	now := e.now().UTC()
	var params map[string]string
	if err := e.updateRun(ctx, a.Project, a.Pipeline, a.ID, func(r *api.PipelineRun) error {
		r.State, r.StartedAt, r.Error = api.RunRunning, &now, ""
		for i := range r.Steps {
			r.Steps[i] = api.RunStep{Name: r.Steps[i].Name, State: string(runner.StatePending)}
		}
		params = r.Parameters
		return nil
	}, nil); err != nil {
		return err
	}
	env, inputs, err := e.stepEnv(ctx, a, rev, params)
	if err == nil {
		err = e.updateRun(ctx, a.Project, a.Pipeline, a.ID, func(r *api.PipelineRun) error {
			r.InputVersions = inputs
			return nil
		}, nil)
	}
	if err != nil {
		return e.updateRun(ctx, a.Project, a.Pipeline, a.ID, func(r *api.PipelineRun) error {
			finishRun(r, api.RunFailed, err.Error(), e.now())
			return nil
		}, nil)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	obs := newObserver(e, a)
	stopWatch := e.watch(runCtx, a, cancel, obs)
	res := runner.Execute(runCtx, runner.Run{
		ID: runID(a), Steps: rev.Steps, Env: env, WorkDir: filepath.Join(dir, "work"), OutputDir: outDir,
	}, e.cfg.Executor, obs, runner.Options{Concurrency: e.cfg.StepConcurrency})
	stopWatch()
	obs.flush(context.WithoutCancel(ctx))

	if ctx.Err() != nil {
		// The worker is stopping: leave the run to be taken over after a restart.
		return ctx.Err()
	}
	final := res.State
	var registered *registration
	if final == api.RunSucceeded {
		registered, err = e.registerOutputs(context.WithoutCancel(ctx), a, rev, outDir)
		if err != nil {
			final, res.Error = api.RunFailed, "registering outputs: "+err.Error()
		}
	}
	return e.updateRun(context.WithoutCancel(ctx), a.Project, a.Pipeline, a.ID, func(r *api.PipelineRun) error {
		r.Steps = obs.snapshot(r.Steps)
		if registered != nil {
			r.Model, r.ModelVersion, r.Promotion = registered.model, registered.version, registered.promotion
		}
		if r.CancelRequested && final != api.RunSucceeded {
			final = api.RunCancelled
		}
		finishRun(r, final, res.Error, e.now())
		return nil
	}, nil)
}

func runID(a runArgs) string {
	return a.Project + "/" + a.Pipeline + "/" + strconv.FormatInt(a.ID, 10)
}

// stepEnv is the clean environment of every step: the engine's base, run
// metadata, parameters and input dataset URIs. Nothing else of the server's
// environment (its admin token, its database URL) reaches a step.
func (e *Engine) stepEnv(ctx context.Context, a runArgs, rev api.PipelineRevision, params map[string]string) (map[string]string, map[string]int64, error) {
	env := map[string]string{}
	inputs := map[string]int64{}
	maps.Copy(env, e.cfg.Env)
	env["MLOPS_RUN_ID"] = runID(a)
	env["MLOPS_PROJECT"] = a.Project
	env["MLOPS_PIPELINE"] = a.Pipeline
	env["MLOPS_PIPELINE_REVISION"] = strconv.FormatInt(rev.Revision, 10)
	for k, v := range params {
		env["MLOPS_PARAM_"+envName(k)] = v
	}
	for _, name := range rev.Datasets {
		o, err := e.store.Get(ctx, store.DatasetKey(a.Project, name))
		if err != nil {
			return nil, nil, fmt.Errorf("input dataset %q: %w", name, err)
		}
		var d api.Dataset
		if err := json.Unmarshal(o.Data, &d); err != nil {
			return nil, nil, err
		}
		inputs[name] = d.Version
		env["MLOPS_DATASET_"+envName(name)+"_URI"] = d.URI
		env["MLOPS_DATASET_"+envName(name)+"_VERSION"] = strconv.FormatInt(d.Version, 10)
	}
	return env, inputs, nil
}

func envName(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(s))
}

// watch heartbeats the run and cancels it when someone asked to.
func (e *Engine) watch(ctx context.Context, a runArgs, cancel context.CancelFunc, obs *observer) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		poll := time.NewTicker(time.Second)
		defer poll.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-poll.C:
			}
			o, err := e.store.Get(ctx, store.PipelineRunKey(a.Project, a.Pipeline, a.ID))
			if errors.Is(err, store.ErrNotFound) {
				cancel()
				return
			}
			if err == nil {
				var r api.PipelineRun
				if json.Unmarshal(o.Data, &r) == nil && r.CancelRequested {
					cancel()
				}
			}
			if time.Since(last) >= heartbeatEvery {
				last = time.Now()
				obs.flush(ctx) // persisting step states is the heartbeat
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
