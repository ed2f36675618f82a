//go:build unix

package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testPath = "/usr/local/bin:/usr/bin:/bin"

func step(t *testing.T, argv ...string) Step {
	t.Helper()
	return Step{
		RunID: "run-1", Name: "s", Attempt: 1,
		Command: argv,
		Env:     map[string]string{"PATH": testPath},
		WorkDir: t.TempDir(),
	}
}

func run(ctx context.Context, l *Local, s Step) (Result, string, time.Duration) {
	var out bytes.Buffer
	start := time.Now()
	res := l.Run(ctx, s, &out)
	return res, out.String(), time.Since(start)
}

func TestLocalExitCodeAndOutput(t *testing.T) {
	l := NewLocal()
	res, out, _ := run(t.Context(), l, step(t, "sh", "-c", "echo out; echo err >&2; echo out2; exit 3"))
	if res.ExitCode != 3 || res.Err != nil || res.TimedOut {
		t.Fatalf("result = %+v, want exit code 3 and no error", res)
	}
	if out != "out\nerr\nout2\n" {
		t.Fatalf("output = %q, want stdout and stderr interleaved in write order", out)
	}

	res, out, _ = run(t.Context(), l, step(t, "echo", "hello"))
	if res.ExitCode != 0 || res.Err != nil || out != "hello\n" {
		t.Fatalf("echo: result = %+v, output %q", res, out)
	}
}

func TestLocalEnvironmentIsExactlyStepEnv(t *testing.T) {
	t.Setenv("MLOPSD_ADMIN_TOKEN", "s3cret")
	t.Setenv("HOME", "/home/tester")
	s := step(t, "env")
	s.Env["FOO"] = "bar baz"
	s.Env["EMPTY"] = ""
	res, out, _ := run(t.Context(), NewLocal(), s)
	if res.ExitCode != 0 || res.Err != nil {
		t.Fatalf("result = %+v, output %q", res, out)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{"EMPTY=", "FOO=bar baz", "PATH=" + testPath}
	if !slices.Equal(got, want) {
		t.Fatalf("environment = %q, want exactly %q", got, want)
	}

	// An empty map means an empty environment, not the executor's own.
	envBin, err := exec.LookPath("env")
	if err != nil {
		t.Skip("no env binary")
	}
	s = step(t, envBin)
	s.Env = nil
	res, out, _ = run(t.Context(), NewLocal(), s)
	if res.ExitCode != 0 || out != "" {
		t.Fatalf("empty env: result = %+v, output %q, want no variables", res, out)
	}
}

func TestLocalCommandNotFound(t *testing.T) {
	l := NewLocal()
	res, _, _ := run(t.Context(), l, step(t, "no-such-command-xyz", "--flag"))
	if !errors.Is(res.Err, ErrCommandNotFound) || res.ExitCode != -1 {
		t.Fatalf("result = %+v, want ErrCommandNotFound and exit code -1", res)
	}
	if msg := res.Err.Error(); !strings.Contains(msg, `"no-such-command-xyz"`) || !strings.Contains(msg, testPath) {
		t.Fatalf("error %q should name the command and the PATH searched", msg)
	}

	// The step's PATH is searched, not the executor's: without PATH, sh is not found.
	s := step(t, "sh", "-c", "true")
	delete(s.Env, "PATH")
	res, _, _ = run(t.Context(), l, s)
	if !errors.Is(res.Err, ErrCommandNotFound) || !strings.Contains(res.Err.Error(), "no PATH") {
		t.Fatalf("no PATH: err = %v, want command not found explaining PATH is missing", res.Err)
	}

	res, _, _ = run(t.Context(), l, step(t, "./missing.sh"))
	if !errors.Is(res.Err, ErrCommandNotFound) || !strings.Contains(res.Err.Error(), `"./missing.sh"`) {
		t.Fatalf("relative: err = %v", res.Err)
	}
}

func TestLocalRunsInWorkDir(t *testing.T) {
	s := step(t, "./show-dir.sh")
	if err := os.WriteFile(filepath.Join(s.WorkDir, "show-dir.sh"), []byte("#!/bin/sh\npwd -P\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, out, _ := run(t.Context(), NewLocal(), s)
	want, _ := filepath.EvalSymlinks(s.WorkDir)
	if res.Err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("result = %+v, output %q, want the work dir %q", res, out, want)
	}
}

func TestLocalTimeout(t *testing.T) {
	// A long grace proves a step that dies on SIGTERM is not made to wait it out.
	l := &Local{Grace: 10 * time.Second}
	s := step(t, "sleep", "30")
	s.Timeout = 300 * time.Millisecond
	res, _, took := run(t.Context(), l, s)
	if !res.TimedOut || res.ExitCode != -1 || res.Err == nil || !strings.Contains(res.Err.Error(), "timed out after 300ms") {
		t.Fatalf("result = %+v, want a timeout", res)
	}
	if took > 3*time.Second {
		t.Fatalf("took %s to stop a timed-out step", took)
	}
}

func TestLocalKillsAfterGrace(t *testing.T) {
	// The ignored SIGTERM is inherited by sleep, so only SIGKILL ends the group.
	l := &Local{Grace: 400 * time.Millisecond}
	s := step(t, "sh", "-c", `trap "" TERM; sleep 30; echo unreachable`)
	s.Timeout = 200 * time.Millisecond
	res, out, took := run(t.Context(), l, s)
	if !res.TimedOut || res.Err == nil || strings.Contains(out, "unreachable") {
		t.Fatalf("result = %+v, output %q", res, out)
	}
	if took < 600*time.Millisecond || took > 3*time.Second {
		t.Fatalf("took %s, want timeout+grace (600ms) and not much more", took)
	}
}

func TestLocalGraceCoversWholeGroup(t *testing.T) {
	// The leader (outer sh) dies on SIGTERM at once; the inner process checkpoints
	// for 500ms on SIGTERM and must get to finish instead of being SIGKILLed
	// as soon as the leader is gone.
	l := &Local{Grace: 5 * time.Second}
	inner := `trap "sleep 0.5; echo checkpoint saved; exit 0" TERM; sleep 30 & wait`
	s := step(t, "sh", "-c", "sh -c '"+inner+"'; echo unreachable")
	s.Timeout = 300 * time.Millisecond
	res, out, took := run(t.Context(), l, s)
	if !res.TimedOut || out != "checkpoint saved\n" {
		t.Fatalf("result = %+v, output %q, want the inner process's checkpoint message", res, out)
	}
	if took > 3*time.Second {
		t.Fatalf("took %s: stopping should end once the group is empty, not after the grace", took)
	}
}

func TestLocalCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	res, _, took := run(ctx, NewLocal(), step(t, "sleep", "30"))
	if !errors.Is(res.Err, context.Canceled) || res.TimedOut || res.ExitCode != -1 {
		t.Fatalf("result = %+v, want cancelled", res)
	}
	if took > 3*time.Second {
		t.Fatalf("took %s to stop a cancelled step", took)
	}
}

func TestLocalCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := step(t, "touch", "started")
	res, _, _ := run(ctx, NewLocal(), s)
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("err = %v, want cancelled", res.Err)
	}
	if _, err := os.Stat(filepath.Join(s.WorkDir, "started")); err == nil {
		t.Fatal("the command ran although ctx was already cancelled")
	}
}

func TestLocalCancelLeavesNoOrphans(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := step(t, "sh", "-c", "sleep 300 & echo $! > pidfile; sleep 300")
	done := make(chan Result)
	go func() { done <- NewLocal().Run(ctx, s, nil) }()
	pid := waitPidFile(t, filepath.Join(s.WorkDir, "pidfile"))
	cancel()
	select {
	case res := <-done:
		if !errors.Is(res.Err, context.Canceled) {
			t.Fatalf("err = %v, want cancelled", res.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	waitGone(t, pid)
}

func TestLocalExitKillsLeftoverChildren(t *testing.T) {
	// The background sleep keeps stdout open and outlives sh; Run must neither
	// hang on the pipe nor leave it running.
	s := step(t, "sh", "-c", "sleep 300 & echo $! > pidfile; echo done")
	res, out, took := run(t.Context(), NewLocal(), s)
	if res.ExitCode != 0 || res.Err != nil || out != "done\n" {
		t.Fatalf("result = %+v, output %q", res, out)
	}
	if took > pipeDrain {
		t.Fatalf("took %s: the group kill should have closed the pipe at once", took)
	}
	waitGone(t, readPid(t, filepath.Join(s.WorkDir, "pidfile")))
}

func TestLocalDoesNotHangOnEscapedProcess(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not installed")
	}
	// A process that left the group is out of reach of the group kill; Run stops
	// reading its output after pipeDrain instead of waiting for it.
	s := step(t, "sh", "-c", "setsid sh -c 'echo $$ > pidfile; exec sleep 300' & sleep 0.2; echo done")
	res, out, took := run(t.Context(), NewLocal(), s)
	pid := readPid(t, filepath.Join(s.WorkDir, "pidfile"))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if res.ExitCode != 0 || out != "done\n" {
		t.Fatalf("result = %+v, output %q", res, out)
	}
	if took > pipeDrain+2*time.Second {
		t.Fatalf("took %s, want about pipeDrain (%s)", took, pipeDrain)
	}
}

func TestLocalRejectsInvalidEnv(t *testing.T) {
	s := step(t, "true")
	s.Env["A=B"] = "x"
	if res, _, _ := run(t.Context(), NewLocal(), s); res.Err == nil || !strings.Contains(res.Err.Error(), `"A=B"`) {
		t.Fatalf("err = %v, want the invalid variable named", res.Err)
	}
}

func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return readPid(t, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s was not written", path)
	return 0
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %q: %v", b, err)
	}
	return pid
}

// waitGone fails unless pid stops existing within 2s.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if processGone(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("process %d is still running: it was orphaned", pid)
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
	// Fields after the parenthesised command name: "<state> <ppid> ...".
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
