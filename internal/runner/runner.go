// Package runner executes one pipeline run: it walks the steps' DAG, starts each
// step once its dependencies have succeeded, retries failed attempts, and reports
// every status change to an Observer. How a step's process runs is the
// executor's business (internal/executor).
//
// Failure policy: a step that finally fails fails the run and skips its
// dependants (transitively), but steps already running are left to finish and
// independent branches keep being scheduled, as Argo and Kubeflow do; a run
// thus does as much useful work as it can and reports every failure at once.
// Cancelling ctx cancels the run: running steps are stopped through the
// executor and steps not yet started become cancelled.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
)

// Variables the runner adds to every step's environment; they override
// same-named variables of the run and the step.
const (
	EnvStepName    = "MLOPS_STEP_NAME"
	EnvStepAttempt = "MLOPS_STEP_ATTEMPT" // 1-based
	EnvOutputDir   = "MLOPS_OUTPUT_DIR"   // absolute
)

// Run is one pipeline run to execute.
type Run struct {
	ID    string
	Steps []api.Step
	// Env is the base environment of every step (PATH, HOME, MLOPS_RUN_ID,
	// MLOPS_PARAM_<NAME>, dataset URIs ...); nothing else is inherited.
	Env map[string]string
	// WorkDir is the run directory every step runs in; created if missing.
	WorkDir string
	// OutputDir is exported to steps as MLOPS_OUTPUT_DIR; created if missing.
	// Empty means WorkDir/outputs.
	OutputDir string
}

// StepState is where a step is in its life.
type StepState string

// Step states. pending and running are transient; the others are final.
const (
	StatePending   StepState = "pending"
	StateRunning   StepState = "running"
	StateSucceeded StepState = "succeeded"
	StateFailed    StepState = "failed"
	StateSkipped   StepState = "skipped"   // a dependency failed or was skipped
	StateCancelled StepState = "cancelled" // the run was cancelled
)

// StepStatus is a step's status as the Observer sees it.
type StepStatus struct {
	Name     string
	State    StepState
	Attempts int // attempts started so far
	// StartedAt is the start of the first attempt; FinishedAt is set with the final state.
	StartedAt, FinishedAt *time.Time
	// ExitCode is the last attempt's exit code; nil until a process has exited normally.
	ExitCode *int
	// Error says why the step failed, was skipped or cancelled; while running,
	// it describes the previous attempt's failure and the coming retry.
	Error string
	// LogTail holds the last bytes of the current (or last) attempt's output.
	LogTail string
}

// Observer receives a run's progress. StepChanged calls are serialized, and so
// are Log calls; a StepChanged may overlap a Log, so a slow persisting
// StepChanged does not hold up the steps' output.
type Observer interface {
	// StepChanged is called whenever a step's status changes: pending (initially,
	// for all steps), running (again for each retry, with Attempts+1), then the
	// final state. The observer persists it.
	StepChanged(s StepStatus)
	// Log receives every chunk of a step's output, in order per step and
	// attempt. p is the observer's to keep. The observer stores it, bounded.
	Log(step string, attempt int, p []byte)
}

// Options tune Execute; the zero value is usable.
type Options struct {
	// Concurrency is the most steps running at once in this run; values below 1 mean 1.
	Concurrency int
	// Backoff is the delay before attempt n+1 after attempt n failed; nil means DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Now is the clock for StartedAt and FinishedAt; nil means time.Now.
	Now func() time.Time
	// LogTailBytes is the size of StepStatus.LogTail; values below 1 mean 4096.
	LogTailBytes int
}

// Run states.
const (
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Result is how a run ended.
type Result struct {
	State string // RunSucceeded, RunFailed or RunCancelled
	Steps []StepStatus
	Error string // why the run failed or was cancelled
}

// DefaultBackoff waits 1s before the second attempt and doubles each time, up to 30s.
func DefaultBackoff(attempt int) time.Duration {
	const limit = 30 * time.Second
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 6 { // 1s<<5 = 32s is past the cap already; avoids overflow
		return limit
	}
	return min(time.Second<<(attempt-1), limit)
}

// Execute runs the run's DAG to completion and returns once no step is running.
// The steps are expected to have passed api.PipelineSpec.Validate; a run the
// runner cannot execute (unknown dependency, cycle, bad timeout, unusable
// directories) fails before any step starts, with every step skipped.
func Execute(ctx context.Context, run Run, ex executor.Executor, obs Observer, opts Options) Result {
	e := newExecution(run, ex, obs, opts)
	e.mu.Lock()
	for _, st := range e.steps {
		e.notify(st)
	}
	e.mu.Unlock()

	if err := e.prepare(); err != nil {
		e.mu.Lock()
		for _, st := range e.steps {
			e.finish(st, StateSkipped, "not run: "+err.Error())
		}
		e.mu.Unlock()
		return Result{State: RunFailed, Steps: e.snapshots(), Error: "cannot execute the run: " + err.Error()}
	}
	e.schedule(ctx)
	return e.result(ctx)
}

type stepRun struct {
	spec       api.Step
	timeout    time.Duration
	deps       []*stepRun
	dependants []*stepRun
	status     StepStatus
	tail       []byte // last LogTailBytes of the current attempt
	truncated  bool   // tail lost its beginning
}

type execution struct {
	run  Run
	ex   executor.Executor
	obs  Observer
	opts Options

	// mu guards every stepRun's status and tail and serializes StepChanged.
	mu sync.Mutex
	// logMu serializes Observer.Log.
	logMu sync.Mutex
	steps []*stepRun
}

func newExecution(run Run, ex executor.Executor, obs Observer, opts Options) *execution {
	if obs == nil {
		obs = nopObserver{}
	}
	opts.Concurrency = max(opts.Concurrency, 1)
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogTailBytes < 1 {
		opts.LogTailBytes = 4096
	}
	e := &execution{run: run, ex: ex, obs: obs, opts: opts}
	for _, s := range run.Steps {
		e.steps = append(e.steps, &stepRun{spec: s, status: StepStatus{Name: s.Name, State: StatePending}})
	}
	return e
}

// prepare checks what Execute relies on (a DAG, so scheduling terminates) and
// creates the directories. Run fields it resolves are stored back in e.run.
func (e *execution) prepare() error {
	if e.ex == nil {
		return errors.New("no executor")
	}
	byName := map[string]*stepRun{}
	for _, st := range e.steps {
		name := st.spec.Name
		if name == "" {
			return errors.New("a step has no name")
		}
		if byName[name] != nil {
			return fmt.Errorf("step %q is declared twice", name)
		}
		byName[name] = st
		if len(st.spec.Command) == 0 || st.spec.Command[0] == "" {
			return fmt.Errorf("step %q has no command", name)
		}
		if st.spec.Timeout != "" {
			d, err := api.ParseDuration(st.spec.Timeout)
			if err != nil || d < 0 {
				return fmt.Errorf("step %q: timeout %q is not a duration such as 30s, 10m or 1d", name, st.spec.Timeout)
			}
			st.timeout = d
		}
	}
	for _, st := range e.steps {
		for _, d := range st.spec.DependsOn {
			dep := byName[d]
			if dep == nil {
				return fmt.Errorf("step %q depends on unknown step %q", st.spec.Name, d)
			}
			if !slices.Contains(st.deps, dep) {
				st.deps = append(st.deps, dep)
				dep.dependants = append(dep.dependants, st)
			}
		}
	}
	if cyclic := e.cyclicSteps(); len(cyclic) > 0 {
		return fmt.Errorf("steps form a cycle through %s", strings.Join(cyclic, ", "))
	}
	if c, ok := e.ex.(executor.Checker); ok {
		for _, st := range e.steps {
			if err := c.Check(executor.Step{Name: st.spec.Name, Command: st.spec.Command, Image: st.spec.Image}); err != nil {
				return err
			}
		}
	}

	if e.run.WorkDir == "" {
		return errors.New("the run has no work directory")
	}
	if e.run.OutputDir == "" {
		e.run.OutputDir = filepath.Join(e.run.WorkDir, "outputs")
	}
	// Absolute, because steps run inside WorkDir: a relative OutputDir would
	// resolve against it a second time.
	for _, dir := range []*string{&e.run.WorkDir, &e.run.OutputDir} {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		*dir = abs
	}
	return nil
}

// cyclicSteps names the steps Kahn's algorithm cannot order.
func (e *execution) cyclicSteps() []string {
	indegree := map[*stepRun]int{}
	var ready []*stepRun
	for _, st := range e.steps {
		indegree[st] = len(st.deps)
		if len(st.deps) == 0 {
			ready = append(ready, st)
		}
	}
	for len(ready) > 0 {
		st := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		for _, d := range st.dependants {
			if indegree[d]--; indegree[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	var cyclic []string
	for _, st := range e.steps {
		if indegree[st] > 0 {
			cyclic = append(cyclic, st.spec.Name)
		}
	}
	return cyclic
}

// schedule starts ready steps (in declaration order) while slots are free and
// returns once nothing runs and nothing more can start.
func (e *execution) schedule(ctx context.Context) {
	done := make(chan *stepRun)
	running := 0
	cancelled := false
	ctxDone := ctx.Done()
	for {
		if !cancelled && ctx.Err() != nil {
			cancelled = true
			e.cancelPending()
		}
		if !cancelled {
			e.mu.Lock()
			for _, st := range e.steps {
				if running >= e.opts.Concurrency {
					break
				}
				if st.status.State == StatePending && depsSucceeded(st) {
					// Marked running here, not in the goroutine, so the next
					// pass cannot start it twice.
					e.startAttempt(st, 1)
					running++
					go func() {
						e.runStep(ctx, st)
						done <- st
					}()
				}
			}
			e.mu.Unlock()
		}
		// In a DAG, nothing running means every pending step either became
		// startable (and was started above) or was skipped or cancelled.
		if running == 0 {
			break
		}
		select {
		case st := <-done:
			running--
			e.mu.Lock()
			if st.status.State == StateFailed {
				e.skipDependants(st)
			}
			e.mu.Unlock()
		case <-ctxDone:
			ctxDone = nil
		}
	}
	// Defensive: nothing may stay pending in a finished run.
	e.cancelPending()
}

func depsSucceeded(st *stepRun) bool {
	for _, d := range st.deps {
		if d.status.State != StateSucceeded {
			return false
		}
	}
	return true
}

// skipDependants skips every step downstream of failed; e.mu is held.
func (e *execution) skipDependants(failed *stepRun) {
	queue := slices.Clone(failed.dependants)
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		if st.status.State != StatePending {
			continue
		}
		e.finish(st, StateSkipped, fmt.Sprintf("skipped: upstream step %q failed", failed.spec.Name))
		queue = append(queue, st.dependants...)
	}
}

func (e *execution) cancelPending() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.steps {
		if st.status.State == StatePending {
			e.finish(st, StateCancelled, "cancelled before it started")
		}
	}
}

// runStep runs st's attempts until one succeeds, retries are used up, or ctx is
// cancelled. Attempt 1 has been marked running by the scheduler. The step holds
// its concurrency slot through backoffs, so a retrying step is never overtaken
// by its own retry being queued behind newly ready steps.
func (e *execution) runStep(ctx context.Context, st *stepRun) {
	retries := max(st.spec.Retries, 0)
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			e.mu.Lock()
			e.startAttempt(st, attempt)
			e.mu.Unlock()
		}
		res := e.attempt(ctx, st, attempt)
		failure := e.describe(st, res)

		e.mu.Lock()
		if res.ExitCode >= 0 {
			code := res.ExitCode
			st.status.ExitCode = &code
		}
		switch {
		case failure == "":
			e.finish(st, StateSucceeded, "")
		case ctx.Err() != nil:
			e.finish(st, StateCancelled, "cancelled while running: "+failure)
		case attempt > retries:
			if attempt > 1 {
				failure = fmt.Sprintf("%s (attempt %d of %d)", failure, attempt, retries+1)
			}
			e.finish(st, StateFailed, failure)
		}
		if isFinal(st.status.State) {
			e.mu.Unlock()
			return
		}
		delay := max(e.opts.Backoff(attempt), 0)
		st.status.Error = fmt.Sprintf("attempt %d of %d failed: %s; retrying in %s", attempt, retries+1, failure, delay)
		e.notify(st)
		e.mu.Unlock()

		if !sleep(ctx, delay) {
			e.mu.Lock()
			e.finish(st, StateCancelled, fmt.Sprintf("cancelled while waiting to retry (attempt %d failed: %s)", attempt, failure))
			e.mu.Unlock()
			return
		}
	}
}

// attempt runs one attempt through the executor, turning a panic into a failed
// attempt so one bad step cannot take the whole server down.
func (e *execution) attempt(ctx context.Context, st *stepRun, attempt int) (res executor.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = executor.Result{ExitCode: -1, Err: fmt.Errorf("executor panicked: %v", p)}
		}
	}()
	env := make(map[string]string, len(e.run.Env)+len(st.spec.Env)+3)
	for k, v := range e.run.Env {
		env[k] = v
	}
	for k, v := range st.spec.Env {
		env[k] = v
	}
	env[EnvStepName] = st.spec.Name
	env[EnvStepAttempt] = strconv.Itoa(attempt)
	env[EnvOutputDir] = e.run.OutputDir
	return e.ex.Run(ctx, executor.Step{
		RunID:   e.run.ID,
		Name:    st.spec.Name,
		Attempt: attempt,
		Command: slices.Clone(st.spec.Command),
		Image:   st.spec.Image,
		Env:     env,
		WorkDir: e.run.WorkDir,
		Timeout: st.timeout,
	}, &stepLog{e: e, st: st, attempt: attempt})
}

// describe says why an attempt failed, or "" when it succeeded.
func (e *execution) describe(st *stepRun, res executor.Result) string {
	switch {
	case res.TimedOut && st.spec.Timeout != "":
		return "timed out after " + st.spec.Timeout // as the user wrote it, e.g. 1d
	case res.TimedOut && res.Err != nil:
		return res.Err.Error()
	case res.TimedOut:
		return "timed out"
	case res.Err != nil:
		return res.Err.Error()
	case res.ExitCode != 0:
		return "exit code " + strconv.Itoa(res.ExitCode)
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func isFinal(s StepState) bool { return s != StatePending && s != StateRunning }

// startAttempt marks st running its attempt-th attempt; e.mu is held.
func (e *execution) startAttempt(st *stepRun, attempt int) {
	s := &st.status
	s.State = StateRunning
	s.Attempts = attempt
	if s.StartedAt == nil {
		now := e.opts.Now()
		s.StartedAt = &now
	}
	s.ExitCode = nil
	if attempt == 1 {
		s.Error = "" // later attempts keep the retry message until they end
	}
	st.tail, st.truncated = st.tail[:0], false
	e.notify(st)
}

// finish puts st in a final state; e.mu is held.
func (e *execution) finish(st *stepRun, state StepState, msg string) {
	now := e.opts.Now()
	st.status.State = state
	st.status.Error = msg
	st.status.FinishedAt = &now
	e.notify(st)
}

// notify hands the observer a copy of st's status; e.mu is held.
func (e *execution) notify(st *stepRun) { e.obs.StepChanged(e.snapshot(st)) }

// snapshot copies st's status so neither the observer nor the caller shares
// memory with the runner; e.mu is held.
func (e *execution) snapshot(st *stepRun) StepStatus {
	s := st.status
	s.StartedAt = clonePtr(s.StartedAt)
	s.FinishedAt = clonePtr(s.FinishedAt)
	s.ExitCode = clonePtr(s.ExitCode)
	tail := st.tail
	if st.truncated {
		// Cut at a rune boundary rather than hand out half a character.
		for i := 0; i < utf8.UTFMax && len(tail) > 0 && !utf8.RuneStart(tail[0]); i++ {
			tail = tail[1:]
		}
	}
	s.LogTail = string(tail)
	return s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func (e *execution) snapshots() []StepStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]StepStatus, len(e.steps))
	for i, st := range e.steps {
		out[i] = e.snapshot(st)
	}
	return out
}

func (e *execution) result(ctx context.Context) Result {
	r := Result{State: RunSucceeded, Steps: e.snapshots()}
	var failures []string
	cancelled := false
	for _, s := range r.Steps {
		switch s.State {
		case StateFailed:
			failures = append(failures, fmt.Sprintf("step %q failed: %s", s.Name, s.Error))
		case StateCancelled:
			cancelled = true
		}
	}
	switch {
	case cancelled:
		r.State = RunCancelled
		r.Error = "cancelled"
		if cause := context.Cause(ctx); cause != nil {
			r.Error += ": " + cause.Error()
		}
		if len(failures) > 0 {
			r.Error += "; before that, " + strings.Join(failures, "; ")
		}
	case len(failures) > 0:
		r.State = RunFailed
		r.Error = strings.Join(failures, "; ")
	}
	return r
}

// stepLog feeds one attempt's output to the observer and the step's log tail.
type stepLog struct {
	e       *execution
	st      *stepRun
	attempt int
}

func (w *stepLog) Write(p []byte) (int, error) {
	e, st := w.e, w.st
	e.mu.Lock()
	// Output arriving after its attempt ended (a misbehaving executor) is still
	// logged under its attempt but must not pollute the next attempt's tail.
	if st.status.State == StateRunning && st.status.Attempts == w.attempt {
		n := e.opts.LogTailBytes
		if len(p) >= n {
			st.truncated = st.truncated || len(st.tail) > 0 || len(p) > n
			st.tail = append(st.tail[:0], p[len(p)-n:]...)
		} else {
			st.tail = append(st.tail, p...)
			if over := len(st.tail) - n; over > 0 {
				st.tail = append(st.tail[:0], st.tail[over:]...)
				st.truncated = true
			}
		}
	}
	e.mu.Unlock()
	e.logMu.Lock()
	defer e.logMu.Unlock()
	e.obs.Log(st.spec.Name, w.attempt, bytes.Clone(p))
	return len(p), nil
}

type nopObserver struct{}

func (nopObserver) StepChanged(StepStatus)  {}
func (nopObserver) Log(string, int, []byte) {}
