package training

import (
	"context"
	"errors"
	"sync"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/runner"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// MaxLogBytes bounds the output kept per step; beyond it the oldest is dropped.
const MaxLogBytes = 256 << 10

// observer collects step states and logs from the runner and persists them.
type observer struct {
	e     *Engine
	a     runArgs
	mu    sync.Mutex
	steps map[string]runner.StepStatus
	logs  map[string][]byte
	cut   map[string]bool // step logs that lost their beginning
	dirty map[string]bool // step logs changed since the last flush
}

func newObserver(e *Engine, a runArgs) *observer {
	return &observer{e: e, a: a, steps: map[string]runner.StepStatus{}, logs: map[string][]byte{}, cut: map[string]bool{}, dirty: map[string]bool{}}
}

// StepChanged implements runner.Observer: state changes are persisted at once.
func (o *observer) StepChanged(s runner.StepStatus) {
	o.mu.Lock()
	o.steps[s.Name] = s
	o.mu.Unlock()
	o.flush(context.Background())
}

// Log implements runner.Observer.
func (o *observer) Log(step string, _ int, p []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logs[step] = append(o.logs[step], p...)
	if buf := o.logs[step]; len(buf) > MaxLogBytes {
		o.logs[step] = append([]byte(nil), buf[len(buf)-MaxLogBytes:]...)
		o.cut[step] = true
	}
	o.dirty[step] = true
}

// snapshot merges the observed states into a run's steps.
func (o *observer) snapshot(steps []api.RunStep) []api.RunStep {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]api.RunStep, len(steps))
	for i, st := range steps {
		out[i] = st
		if s, ok := o.steps[st.Name]; ok {
			out[i] = api.RunStep{
				Name: s.Name, State: string(s.State), Attempts: s.Attempts, StartedAt: s.StartedAt,
				FinishedAt: s.FinishedAt, ExitCode: s.ExitCode, Error: s.Error, LogTail: s.LogTail,
			}
		}
	}
	return out
}

// flush writes step states (which also heartbeats the run) and changed logs.
func (o *observer) flush(ctx context.Context) {
	err := o.e.updateRun(ctx, o.a.Project, o.a.Pipeline, o.a.ID, func(r *api.PipelineRun) error {
		r.Steps = o.snapshot(r.Steps)
		return nil
	}, nil)
	if err != nil && !errors.Is(err, context.Canceled) {
		o.e.log.Warn("persisting run state", "run", runID(o.a), "err", err)
	}
	o.mu.Lock()
	pending := map[string]api.RunLog{}
	for step := range o.dirty {
		pending[step] = api.RunLog{Step: step, Text: string(o.logs[step]), Truncated: o.cut[step]}
	}
	o.dirty = map[string]bool{}
	o.mu.Unlock()
	for step, l := range pending {
		k := store.RunLogKey(o.a.Project, o.a.Pipeline, o.a.ID, step)
		obj := &store.Object{Key: k, Data: mustJSON(l)}
		err := o.e.store.Update(ctx, obj, 0)
		if errors.Is(err, store.ErrNotFound) {
			err = o.e.store.Create(ctx, obj)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			o.e.log.Warn("persisting run log", "run", runID(o.a), "step", step, "err", err)
		}
	}
}
