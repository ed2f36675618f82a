package runner

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
)

// execFunc is a fake executor for the scheduling logic.
type execFunc func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result

func (f execFunc) Run(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
	return f(ctx, s, logs)
}

func ok() executor.Result           { return executor.Result{} }
func exit(code int) executor.Result { return executor.Result{ExitCode: code} }

// recorder is an Observer that keeps everything and checks that StepChanged
// calls never overlap each other, nor Log calls each other.
type recorder struct {
	mu               sync.Mutex
	inChanged, inLog atomic.Int32
	overlaps         atomic.Int32
	changes          []StepStatus
	logs             map[string][]byte // "step#attempt" -> output
	onChange         func(StepStatus)
}

func (r *recorder) enter(in *atomic.Int32) func() {
	if in.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	return func() { in.Add(-1) }
}

func (r *recorder) StepChanged(s StepStatus) {
	defer r.enter(&r.inChanged)()
	time.Sleep(time.Microsecond) // widen the window for overlapping calls
	r.mu.Lock()
	r.changes = append(r.changes, s)
	f := r.onChange
	r.mu.Unlock()
	if f != nil {
		f(s)
	}
}

func (r *recorder) Log(step string, attempt int, p []byte) {
	defer r.enter(&r.inLog)()
	time.Sleep(time.Microsecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logs == nil {
		r.logs = map[string][]byte{}
	}
	k := fmt.Sprintf("%s#%d", step, attempt)
	r.logs[k] = append(r.logs[k], p...)
}

// history lists a step's states as "state" or, while running, "running#attempt".
func (r *recorder) history(step string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var h []string
	for _, c := range r.changes {
		if c.Name != step {
			continue
		}
		if c.State == StateRunning {
			h = append(h, fmt.Sprintf("running#%d", c.Attempts))
		} else {
			h = append(h, string(c.State))
		}
	}
	return h
}

func (r *recorder) log(step string, attempt int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.logs[fmt.Sprintf("%s#%d", step, attempt)])
}

func (r *recorder) checkSerialized(t *testing.T) {
	t.Helper()
	if n := r.overlaps.Load(); n > 0 {
		t.Errorf("the observer was called concurrently %d times", n)
	}
}

func newRun(t *testing.T, steps ...api.Step) Run {
	return Run{ID: "run-1", Steps: steps, Env: map[string]string{"PATH": "/usr/bin:/bin"}, WorkDir: t.TempDir()}
}

func st(name string, deps ...string) api.Step {
	return api.Step{Name: name, Command: []string{"true"}, DependsOn: deps}
}

func byName(res Result) map[string]StepStatus {
	m := map[string]StepStatus{}
	for _, s := range res.Steps {
		m[s.Name] = s
	}
	return m
}

func noBackoff(int) time.Duration { return 0 }

func TestDAGOrder(t *testing.T) {
	// Declared out of order on purpose: order comes from depends_on only.
	steps := []api.Step{
		st("report", "evaluate"),
		st("evaluate", "train-a", "train-b"),
		st("train-a", "prepare"),
		st("train-b", "prepare"),
		st("prepare"),
		st("lint"),
	}
	var mu sync.Mutex
	var clock int // a logical clock: no reliance on timer resolution
	started, finished := map[string]int{}, map[string]int{}
	ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		mu.Lock()
		clock++
		started[s.Name] = clock
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		clock++
		finished[s.Name] = clock
		mu.Unlock()
		return ok()
	})
	rec := &recorder{}
	res := Execute(t.Context(), newRun(t, steps...), ex, rec, Options{Concurrency: 4})
	if res.State != RunSucceeded || res.Error != "" {
		t.Fatalf("run = %s (%s), want succeeded", res.State, res.Error)
	}
	for _, s := range steps {
		if _, ran := started[s.Name]; !ran {
			t.Fatalf("step %s never ran", s.Name)
		}
		for _, d := range s.DependsOn {
			if started[s.Name] < finished[d] {
				t.Errorf("%s started (t=%d) before its dependency %s finished (t=%d)", s.Name, started[s.Name], d, finished[d])
			}
		}
	}
	// Independent siblings overlap rather than run one after the other.
	if started["train-b"] > finished["train-a"] && started["train-a"] > finished["train-b"] {
		t.Errorf("train-a and train-b did not run in parallel")
	}
	for _, s := range res.Steps {
		if s.State != StateSucceeded || s.Attempts != 1 || s.StartedAt == nil || s.FinishedAt == nil || s.ExitCode == nil || *s.ExitCode != 0 {
			t.Errorf("status %+v, want succeeded after one attempt with times and exit code 0", s)
		}
	}
	rec.checkSerialized(t)
}

func TestConcurrencyIsBounded(t *testing.T) {
	for _, tc := range []struct{ concurrency, want int }{{2, 2}, {4, 4}, {0, 1}} {
		t.Run(fmt.Sprint(tc.concurrency), func(t *testing.T) {
			var cur, peak atomic.Int32
			ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
				n := cur.Add(1)
				defer cur.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				// Hold the slot until the expected number run together, so an
				// unbounded runner is caught and a bounded one reaches its bound.
				deadline := time.Now().Add(time.Second)
				for cur.Load() < int32(tc.want) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(10 * time.Millisecond)
				return ok()
			})
			run := newRun(t, st("a"), st("b"), st("c"), st("d"))
			res := Execute(t.Context(), run, ex, nil, Options{Concurrency: tc.concurrency})
			if res.State != RunSucceeded {
				t.Fatalf("run = %s (%s)", res.State, res.Error)
			}
			if got := peak.Load(); got != int32(tc.want) {
				t.Fatalf("at most %d steps ran at once, want %d", got, tc.want)
			}
		})
	}
}

// flaky fails its first `failures` attempts with exit code 1, printing the attempt.
func flaky(failures int, seen *[]executor.Step, mu *sync.Mutex) execFunc {
	return func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		mu.Lock()
		*seen = append(*seen, s)
		mu.Unlock()
		fmt.Fprintf(logs, "attempt %d\n", s.Attempt)
		if s.Attempt <= failures {
			return exit(1)
		}
		return ok()
	}
}

func TestRetries(t *testing.T) {
	t.Run("succeeds on the last retry", func(t *testing.T) {
		var mu sync.Mutex
		var seen []executor.Step
		var backoffs []int
		s := st("train")
		s.Retries = 2
		rec := &recorder{}
		res := Execute(t.Context(), newRun(t, s), flaky(2, &seen, &mu), rec, Options{
			Backoff: func(n int) time.Duration { backoffs = append(backoffs, n); return time.Millisecond },
		})
		got := byName(res)["train"]
		if res.State != RunSucceeded || got.State != StateSucceeded || got.Attempts != 3 {
			t.Fatalf("run %s, step %+v: want succeeded after 3 attempts", res.State, got)
		}
		if got.Error != "" || *got.ExitCode != 0 || got.LogTail != "attempt 3\n" {
			t.Fatalf("step %+v: want no error, exit code 0 and only the last attempt's log tail", got)
		}
		wantHistory := []string{"pending", "running#1", "running#1", "running#2", "running#2", "running#3", "succeeded"}
		if h := rec.history("train"); !slices.Equal(h, wantHistory) {
			t.Fatalf("observed %v, want %v", h, wantHistory)
		}
		// The status between attempts says what failed and that a retry comes.
		rec.mu.Lock()
		between := rec.changes[2]
		rec.mu.Unlock()
		if !strings.Contains(between.Error, "attempt 1 of 3 failed: exit code 1; retrying in 1ms") || *between.ExitCode != 1 {
			t.Fatalf("status between attempts = %+v", between)
		}
		if !slices.Equal(backoffs, []int{1, 2}) {
			t.Fatalf("Backoff called with %v, want [1 2]", backoffs)
		}
		for i, s := range seen {
			if s.Attempt != i+1 || s.Env[EnvStepAttempt] != fmt.Sprint(i+1) {
				t.Fatalf("attempt %d ran as Attempt=%d %s=%q", i+1, s.Attempt, EnvStepAttempt, s.Env[EnvStepAttempt])
			}
		}
		for a := 1; a <= 3; a++ {
			if l := rec.log("train", a); l != fmt.Sprintf("attempt %d\n", a) {
				t.Fatalf("log of attempt %d = %q", a, l)
			}
		}
	})
	t.Run("fails when retries are used up", func(t *testing.T) {
		var mu sync.Mutex
		var seen []executor.Step
		s := st("train")
		s.Retries = 1
		res := Execute(t.Context(), newRun(t, s), flaky(2, &seen, &mu), nil, Options{Backoff: noBackoff})
		got := byName(res)["train"]
		if res.State != RunFailed || got.State != StateFailed || got.Attempts != 2 || len(seen) != 2 {
			t.Fatalf("run %s, step %+v after %d calls: want failed after 2 attempts", res.State, got, len(seen))
		}
		if got.Error != "exit code 1 (attempt 2 of 2)" || !strings.Contains(res.Error, `step "train" failed: exit code 1`) {
			t.Fatalf("step error %q, run error %q", got.Error, res.Error)
		}
	})
	t.Run("start errors and timeouts are retried", func(t *testing.T) {
		calls := 0
		ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
			calls++
			switch calls {
			case 1:
				return executor.Result{ExitCode: -1, Err: fmt.Errorf("%w: \"x\"", executor.ErrCommandNotFound)}
			case 2:
				return executor.Result{ExitCode: -1, TimedOut: true, Err: fmt.Errorf("timed out after 1s")}
			}
			return ok()
		})
		s := st("x")
		s.Retries = 2
		res := Execute(t.Context(), newRun(t, s), ex, nil, Options{Backoff: noBackoff})
		if res.State != RunSucceeded || calls != 3 {
			t.Fatalf("run %s after %d attempts, want succeeded after 3", res.State, calls)
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := DefaultBackoff(i + 1); got != w {
			t.Errorf("DefaultBackoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := DefaultBackoff(1000); got != 30*time.Second {
		t.Errorf("DefaultBackoff(1000) = %s, want the 30s cap", got)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := &recorder{onChange: func(s StepStatus) {
		if strings.Contains(s.Error, "retrying in") {
			cancel()
		}
	}}
	s := st("train")
	s.Retries = 3
	next := st("next", "train")
	start := time.Now()
	res := Execute(ctx, newRun(t, s, next), execFunc(func(context.Context, executor.Step, io.Writer) executor.Result { return exit(2) }),
		rec, Options{Backoff: func(int) time.Duration { return time.Hour }})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Execute took %s: the backoff wait should end on cancel", took)
	}
	got := byName(res)
	if res.State != RunCancelled || got["train"].State != StateCancelled || got["next"].State != StateCancelled {
		t.Fatalf("run %s, steps %+v: want everything cancelled", res.State, res.Steps)
	}
	if !strings.Contains(got["train"].Error, "waiting to retry") || got["train"].Attempts != 1 {
		t.Fatalf("train = %+v", got["train"])
	}
}

func TestFailurePropagation(t *testing.T) {
	// a -> b -> c -> e, with b failing; d is independent of all of them.
	steps := []api.Step{st("a"), st("b", "a"), st("c", "b"), st("e", "c"), st("d")}

	t.Run("independent branches still run", func(t *testing.T) {
		var mu sync.Mutex
		var order []string
		ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
			mu.Lock()
			order = append(order, s.Name)
			mu.Unlock()
			if s.Name == "b" {
				return exit(1)
			}
			return ok()
		})
		// Concurrency 1 with d declared last: d can only start after b has failed.
		res := Execute(t.Context(), newRun(t, steps...), ex, nil, Options{Concurrency: 1})
		if !slices.Equal(order, []string{"a", "b", "d"}) {
			t.Fatalf("ran %v, want [a b d]: c and e must not run, d must still run after b failed", order)
		}
		got := byName(res)
		want := map[string]StepState{"a": StateSucceeded, "b": StateFailed, "c": StateSkipped, "e": StateSkipped, "d": StateSucceeded}
		for name, state := range want {
			if got[name].State != state {
				t.Errorf("%s is %s, want %s", name, got[name].State, state)
			}
		}
		if got["c"].Error != `skipped: upstream step "b" failed` || got["e"].Error != `skipped: upstream step "b" failed` || got["c"].Attempts != 0 {
			t.Errorf("c = %+v, e = %+v", got["c"], got["e"])
		}
		if res.State != RunFailed || res.Error != `step "b" failed: exit code 1` {
			t.Fatalf("run = %s (%q), want failed naming b", res.State, res.Error)
		}
	})

	t.Run("running siblings are not cancelled", func(t *testing.T) {
		bFailed := make(chan struct{})
		rec := &recorder{onChange: func(s StepStatus) {
			if s.Name == "b" && s.State == StateFailed {
				close(bFailed)
			}
		}}
		var dCtxErr error
		ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
			switch s.Name {
			case "b":
				return exit(1)
			case "d":
				// d is still running when b fails; it must be let to finish.
				select {
				case <-bFailed:
				case <-time.After(2 * time.Second):
					return exit(99)
				}
				time.Sleep(20 * time.Millisecond)
				dCtxErr = ctx.Err()
			}
			return ok()
		})
		res := Execute(t.Context(), newRun(t, steps...), ex, rec, Options{Concurrency: 2})
		got := byName(res)
		if got["d"].State != StateSucceeded || dCtxErr != nil {
			t.Fatalf("d = %+v (ctx err %v), want succeeded without being cancelled", got["d"], dCtxErr)
		}
		if res.State != RunFailed || got["c"].State != StateSkipped {
			t.Fatalf("run = %s, c = %s", res.State, got["c"].State)
		}
		rec.checkSerialized(t)
	})
}

func TestObserverSequence(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ticks atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Second) }
	rec := &recorder{}
	ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		for range 50 { // concurrent output from parallel steps must still reach the observer serialized
			fmt.Fprintf(logs, "%s\n", s.Name)
		}
		return ok()
	})
	run := newRun(t, st("a"), st("b", "a"), st("p1", "a"), st("p2", "a"), st("p3", "a"))
	res := Execute(t.Context(), run, ex, rec, Options{Concurrency: 4, Now: now})
	if res.State != RunSucceeded {
		t.Fatalf("run = %s (%s)", res.State, res.Error)
	}
	rec.mu.Lock()
	first := rec.changes[:len(run.Steps)]
	rec.mu.Unlock()
	for i, c := range first {
		if c.Name != run.Steps[i].Name || c.State != StatePending || c.StartedAt != nil {
			t.Fatalf("notification %d = %+v, want every step reported pending first", i, c)
		}
	}
	for _, s := range run.Steps {
		if h := rec.history(s.Name); !slices.Equal(h, []string{"pending", "running#1", "succeeded"}) {
			t.Errorf("%s: observed %v", s.Name, h)
		}
	}
	a := byName(res)["a"]
	if !a.StartedAt.After(base) || !a.FinishedAt.After(*a.StartedAt) {
		t.Errorf("a: started %v finished %v, want times from Options.Now", a.StartedAt, a.FinishedAt)
	}
	rec.checkSerialized(t)
}

func TestStepEnvironmentAndParameters(t *testing.T) {
	root := t.TempDir()
	var got executor.Step
	ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		got = s
		return ok()
	})
	s := api.Step{
		Name: "train", Command: []string{"python", "train.py"}, Image: "python:3.12", Timeout: "1d",
		Env: map[string]string{"B": "step", "C": "step", EnvOutputDir: "/spoofed"},
	}
	run := Run{
		ID: "run-42", Steps: []api.Step{s},
		Env:     map[string]string{"PATH": "/usr/bin", "A": "run", "B": "run", EnvStepName: "spoofed"},
		WorkDir: filepath.Join(root, "runs", "42"), // nested and missing: created
	}
	res := Execute(t.Context(), run, ex, nil, Options{})
	if res.State != RunSucceeded {
		t.Fatalf("run = %s (%s)", res.State, res.Error)
	}
	outDir := filepath.Join(root, "runs", "42", "outputs")
	want := map[string]string{
		"PATH": "/usr/bin", "A": "run", "B": "step", "C": "step",
		EnvStepName: "train", EnvStepAttempt: "1", EnvOutputDir: outDir,
	}
	if !maps.Equal(got.Env, want) {
		t.Fatalf("env = %v, want %v", got.Env, want)
	}
	if got.RunID != "run-42" || got.Name != "train" || got.Attempt != 1 || got.Image != "python:3.12" ||
		!slices.Equal(got.Command, s.Command) || got.WorkDir != run.WorkDir || got.Timeout != 24*time.Hour {
		t.Fatalf("executor got %+v", got)
	}
	for _, dir := range []string{run.WorkDir, outDir} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("%s was not created: %v", dir, err)
		}
	}

	// A relative OutputDir is made absolute: steps run in WorkDir, not here.
	t.Chdir(root)
	run.OutputDir = "out"
	Execute(t.Context(), run, ex, nil, Options{})
	if got.Env[EnvOutputDir] != filepath.Join(root, "out") {
		t.Fatalf("%s = %q, want it absolute", EnvOutputDir, got.Env[EnvOutputDir])
	}
}

func TestLogTail(t *testing.T) {
	chunks := []string{"héllo ", "wörld\n", strings.Repeat("x", 10), "end\n"}
	ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		for _, c := range chunks {
			_, _ = io.WriteString(logs, c)
		}
		return ok()
	})
	rec := &recorder{}
	res := Execute(t.Context(), newRun(t, st("a")), ex, rec, Options{LogTailBytes: 8})
	all := strings.Join(chunks, "")
	if l := rec.log("a", 1); l != all {
		t.Fatalf("observer got %q, want every chunk in order %q", l, all)
	}
	if tail := byName(res)["a"].LogTail; tail != all[len(all)-8:] {
		t.Fatalf("LogTail = %q, want the last 8 bytes %q", tail, all[len(all)-8:])
	}

	// The tail never starts in the middle of a character.
	ex = execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		_, _ = io.WriteString(logs, "aaaaaaaa€€") // € is 3 bytes: the last 5 bytes start mid-rune
		return ok()
	})
	res = Execute(t.Context(), newRun(t, st("a")), ex, nil, Options{LogTailBytes: 5})
	if tail := byName(res)["a"].LogTail; tail != "€" {
		t.Fatalf("LogTail = %q, want %q", tail, "€")
	}
}

func TestInvalidRunFailsBeforeStarting(t *testing.T) {
	bad := func(s api.Step, f func(*api.Step)) api.Step { f(&s); return s }
	for name, tc := range map[string]struct {
		steps []api.Step
		want  string
	}{
		"unknown dependency": {[]api.Step{st("a", "ghost")}, `step "a" depends on unknown step "ghost"`},
		"cycle":              {[]api.Step{st("ok"), st("a", "b"), st("b", "a")}, "steps form a cycle through a, b"},
		"duplicate":          {[]api.Step{st("a"), st("a")}, `step "a" is declared twice`},
		"bad timeout":        {[]api.Step{bad(st("a"), func(s *api.Step) { s.Timeout = "soon" })}, `step "a": timeout "soon"`},
		"no command":         {[]api.Step{bad(st("a"), func(s *api.Step) { s.Command = nil })}, `step "a" has no command`},
	} {
		t.Run(name, func(t *testing.T) {
			ran := false
			ex := execFunc(func(context.Context, executor.Step, io.Writer) executor.Result { ran = true; return ok() })
			rec := &recorder{}
			res := Execute(t.Context(), newRun(t, tc.steps...), ex, rec, Options{})
			if ran || res.State != RunFailed || !strings.Contains(res.Error, tc.want) {
				t.Fatalf("ran=%v, run = %s (%q), want failed with %q before any step runs", ran, res.State, res.Error, tc.want)
			}
			for _, s := range res.Steps {
				if s.State != StateSkipped || !strings.Contains(s.Error, tc.want) {
					t.Fatalf("step %+v, want skipped with the reason", s)
				}
			}
			if h := rec.history(tc.steps[0].Name); h[0] != "pending" || h[len(h)-1] != "skipped" {
				t.Fatalf("observed %v", h)
			}
		})
	}
}

// checkingExec refuses steps without an image, as the Kubernetes executor does.
type checkingExec struct{ execFunc }

func (checkingExec) Check(s executor.Step) error {
	if s.Image == "" {
		return fmt.Errorf("step %q has no image", s.Name)
	}
	return nil
}

func TestExecutorCheckFailsTheRunBeforeAnyStep(t *testing.T) {
	ran := false
	ex := checkingExec{func(context.Context, executor.Step, io.Writer) executor.Result { ran = true; return ok() }}
	first := st("first")
	first.Image = "busybox"
	res := Execute(t.Context(), newRun(t, first, st("second", "first")), ex, nil, Options{})
	want := `step "second" has no image`
	if ran || res.State != RunFailed || !strings.Contains(res.Error, want) {
		t.Fatalf("ran=%v, run = %s (%q), want failed with %q before the first step runs", ran, res.State, res.Error, want)
	}
	for _, s := range res.Steps {
		if s.State != StateSkipped {
			t.Fatalf("step %+v, want skipped", s)
		}
	}
}

func TestExecutorPanicFailsTheStep(t *testing.T) {
	ex := execFunc(func(ctx context.Context, s executor.Step, logs io.Writer) executor.Result {
		if s.Name == "bad" {
			panic("boom")
		}
		return ok()
	})
	res := Execute(t.Context(), newRun(t, st("bad"), st("good")), ex, nil, Options{Concurrency: 2})
	got := byName(res)
	if got["bad"].State != StateFailed || !strings.Contains(got["bad"].Error, "executor panicked: boom") || got["good"].State != StateSucceeded {
		t.Fatalf("steps = %+v", res.Steps)
	}
}
