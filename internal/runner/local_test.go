//go:build unix

package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
)

// These tests run real processes through the Local executor.

func sh(name, script string, deps ...string) api.Step {
	return api.Step{Name: name, Command: []string{"sh", "-c", script}, DependsOn: deps}
}

func TestLocalCleanEnvironment(t *testing.T) {
	t.Setenv("MLOPSD_ADMIN_TOKEN", "s3cret")
	t.Setenv("HOME", "/home/mlopsd")
	run := newRun(t, api.Step{Name: "show-env", Command: []string{"env"}, Env: map[string]string{"STEP_VAR": "x"}})
	run.Env["MLOPS_RUN_ID"] = "run-1"
	run.Env["MLOPS_PARAM_LR"] = "0.01"
	rec := &recorder{}
	res := Execute(t.Context(), run, executor.NewLocal(), rec, Options{})
	if res.State != RunSucceeded {
		t.Fatalf("run = %s (%s)", res.State, res.Error)
	}
	got := strings.Split(strings.TrimSpace(rec.log("show-env", 1)), "\n")
	want := []string{
		"MLOPS_OUTPUT_DIR=" + filepath.Join(run.WorkDir, "outputs"),
		"MLOPS_PARAM_LR=0.01",
		"MLOPS_RUN_ID=run-1",
		"MLOPS_STEP_ATTEMPT=1",
		"MLOPS_STEP_NAME=show-env",
		"PATH=/usr/bin:/bin",
		"STEP_VAR=x",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the step saw\n%s\nwant exactly\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLocalLogs(t *testing.T) {
	run := newRun(t, sh("count", "seq 1 2000; echo done >&2"))
	rec := &recorder{}
	res := Execute(t.Context(), run, executor.NewLocal(), rec, Options{LogTailBytes: 64})
	var want strings.Builder
	for i := 1; i <= 2000; i++ {
		fmt.Fprintln(&want, i)
	}
	want.WriteString("done\n")
	if got := rec.log("count", 1); got != want.String() {
		t.Fatalf("observer got %d bytes ending %q, want %d bytes (stdout then stderr)", len(got), got[max(0, len(got)-40):], want.Len())
	}
	w := want.String()
	if tail := byName(res)["count"].LogTail; tail != w[len(w)-64:] {
		t.Fatalf("LogTail = %q, want the last 64 bytes %q", tail, w[len(w)-64:])
	}
}

func TestLocalExitCode(t *testing.T) {
	res := Execute(t.Context(), newRun(t, sh("fail", "echo bye; exit 3")), executor.NewLocal(), nil, Options{})
	got := byName(res)["fail"]
	if res.State != RunFailed || got.State != StateFailed || got.ExitCode == nil || *got.ExitCode != 3 {
		t.Fatalf("run %s, step %+v: want failed with exit code 3", res.State, got)
	}
	if got.Error != "exit code 3" || got.LogTail != "bye\n" || res.Error != `step "fail" failed: exit code 3` {
		t.Fatalf("step error %q, tail %q, run error %q", got.Error, got.LogTail, res.Error)
	}
}

func TestLocalCommandNotFound(t *testing.T) {
	run := newRun(t, api.Step{Name: "typo", Command: []string{"pyhton", "train.py"}})
	res := Execute(t.Context(), run, executor.NewLocal(), nil, Options{})
	got := byName(res)["typo"]
	if got.State != StateFailed || got.ExitCode != nil {
		t.Fatalf("step %+v: want failed without exit code", got)
	}
	if !strings.Contains(got.Error, "command not found") || !strings.Contains(got.Error, `"pyhton"`) || !strings.Contains(got.Error, "/usr/bin:/bin") {
		t.Fatalf("error %q should say the command and the PATH searched", got.Error)
	}
}

func TestLocalTimeout(t *testing.T) {
	s := api.Step{Name: "slow", Command: []string{"sleep", "30"}, Timeout: "1s"}
	start := time.Now()
	res := Execute(t.Context(), newRun(t, s, st("after", "slow")), executor.NewLocal(), nil, Options{})
	took := time.Since(start)
	got := byName(res)
	if res.State != RunFailed || got["slow"].State != StateFailed || got["slow"].Error != "timed out after 1s" {
		t.Fatalf("run %s, slow = %+v: want failed by timeout", res.State, got["slow"])
	}
	if got["after"].State != StateSkipped {
		t.Fatalf("after = %s, want skipped", got["after"].State)
	}
	if took > 4*time.Second {
		t.Fatalf("took %s for a 1s timeout", took)
	}
}

// waitRunning returns a recorder whose channel is closed once step is running.
func waitRunning(step string) (*recorder, <-chan struct{}) {
	ch := make(chan struct{})
	return &recorder{onChange: func(s StepStatus) {
		if s.Name == step && s.State == StateRunning {
			close(ch)
		}
	}}, ch
}

func TestLocalCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec, running := waitRunning("train")
	run := newRun(t, api.Step{Name: "train", Command: []string{"sleep", "30"}}, st("evaluate", "train"), st("other"))
	cancelledAt := make(chan time.Time, 1)
	go func() {
		<-running
		time.Sleep(100 * time.Millisecond)
		cancelledAt <- time.Now()
		cancel()
	}()
	// Concurrency 1 keeps "other" pending while train runs.
	res := Execute(ctx, run, executor.NewLocal(), rec, Options{Concurrency: 1})
	if took := time.Since(<-cancelledAt); took > 3*time.Second {
		t.Fatalf("Execute returned %s after cancel", took)
	}
	got := byName(res)
	if res.State != RunCancelled || res.Error != "cancelled: context canceled" {
		t.Fatalf("run = %s (%q), want cancelled", res.State, res.Error)
	}
	if got["train"].State != StateCancelled || !strings.Contains(got["train"].Error, "cancelled while running") {
		t.Fatalf("train = %+v", got["train"])
	}
	for _, name := range []string{"evaluate", "other"} {
		if got[name].State != StateCancelled || got[name].Error != "cancelled before it started" || got[name].Attempts != 0 {
			t.Fatalf("%s = %+v, want cancelled before it started", name, got[name])
		}
	}
}

func TestLocalCancelLeavesNoOrphans(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	run := newRun(t, sh("spawn", "sleep 300 & echo $! > pidfile; sleep 300"))
	pidfile := filepath.Join(run.WorkDir, "pidfile")
	done := make(chan Result)
	go func() { done <- Execute(ctx, run, executor.NewLocal(), nil, Options{}) }()

	var pid int
	for deadline := time.Now().Add(5 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pidfile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if pid == 0 {
		t.Fatal("the step never wrote its grandchild's pid")
	}
	if processGone(pid) {
		t.Fatalf("grandchild %d is not running before the cancel", pid)
	}
	cancel()
	select {
	case res := <-done:
		if res.State != RunCancelled {
			t.Fatalf("run = %s, want cancelled", res.State)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Execute did not return after cancel")
	}
	for deadline := time.Now().Add(2 * time.Second); !processGone(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the cancelled run", pid)
		}
	}
}

// processGone reports whether pid no longer runs: it does not exist, or it is a
// zombie (dead, waiting for an init that may never reap it in a container).
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
