//go:build unix

package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultGrace is how long a stopped step gets between SIGTERM and SIGKILL.
const DefaultGrace = 5 * time.Second

// pipeDrain bounds how long Run keeps reading output once the process group is
// gone: a process that left the group (setsid) and kept stdout open is out of
// reach of the group kill and must not hold Run forever.
const pipeDrain = 2 * time.Second

// groupPoll is how often a stopping step's process group is checked for being empty.
const groupPoll = 50 * time.Millisecond

// Local runs each step as a process on this machine, in its own process group so
// that stopping a step stops everything it spawned.
type Local struct {
	// Grace is how long the process group gets between SIGTERM and SIGKILL when a
	// step is stopped (cancel or timeout); 0 means DefaultGrace.
	Grace time.Duration
}

// NewLocal returns a Local executor with the default grace period.
func NewLocal() *Local { return &Local{Grace: DefaultGrace} }

var _ Executor = (*Local)(nil)

// Run starts s.Command with exactly s.Env in s.WorkDir and waits for it. Stdout
// and stderr share one pipe, so logs receives them interleaved in the order the
// process wrote them, from a single goroutine (no concurrent writes to logs).
func (l *Local) Run(ctx context.Context, s Step, logs io.Writer) Result {
	if logs == nil {
		logs = io.Discard
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return Result{ExitCode: -1, Err: errors.New("step has no command")}
	}
	if ctx.Err() != nil {
		return Result{ExitCode: -1, Err: cancelErr(ctx)}
	}
	env, err := envList(s.Env)
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	// Resolve argv[0] against the step's PATH, not ours: exec.Command would use
	// this process's PATH, which the step does not inherit.
	path, err := lookPath(s.Command[0], s.Env["PATH"], s.WorkDir)
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{ExitCode: -1, Err: fmt.Errorf("start %q: %w", s.Command[0], err)}
	}
	cmd := &exec.Cmd{
		Path: path,
		Args: s.Command,
		// Never nil: a nil Env would make the child inherit this process's environment.
		Env: env,
		Dir: s.WorkDir,
		// Handing *os.File (not an io.Writer) keeps os/exec from copying: Wait then
		// returns when the process exits, even if a grandchild holds the pipe open.
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	pw.Close() // the child has its copy; ours would keep the reader from seeing EOF
	if err != nil {
		pr.Close()
		return Result{ExitCode: -1, Err: fmt.Errorf("start %q: %w", s.Command[0], err)}
	}
	pgid := cmd.Process.Pid // Setpgid with Pgid 0: the group is named after the leader

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyOutput(logs, pr)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var waitErr, stopErr error
	timedOut := false
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		stopErr = cancelErr(ctx)
		waitErr = l.stop(pgid, exited)
	case <-timeout:
		timedOut = true
		stopErr = fmt.Errorf("timed out after %s", s.Timeout)
		waitErr = l.stop(pgid, exited)
	}
	// The leader is gone; children it left behind in its group go too, rather
	// than living on as orphans of init.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)

	drain := time.NewTimer(pipeDrain)
	select {
	case <-copied:
	case <-drain.C:
		pr.Close() // unblocks the reader
		<-copied
	}
	drain.Stop()
	pr.Close()

	res := Result{ExitCode: cmd.ProcessState.ExitCode(), TimedOut: timedOut}
	var exitErr *exec.ExitError
	switch {
	case stopErr != nil:
		res.Err = stopErr
	case cmd.ProcessState == nil:
		res.Err = fmt.Errorf("wait for %q: %w", s.Command[0], waitErr)
	case res.ExitCode == -1:
		// Killed by a signal nobody here sent (OOM killer, an operator's kill).
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Err = fmt.Errorf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		} else {
			res.Err = fmt.Errorf("process did not exit normally: %v", cmd.ProcessState)
		}
	case waitErr != nil && !errors.As(waitErr, &exitErr):
		res.Err = waitErr
	}
	return res
}

// stop asks the process group to end with SIGTERM and SIGKILLs it after the grace
// period. It returns as soon as the leader has exited and the group is empty, so
// a step that shuts down promptly does not wait out the grace. It returns the
// leader's Wait error.
func (l *Local) stop(pgid int, exited <-chan error) error {
	grace := l.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	var waitErr error
	leaderDone := false
	for {
		select {
		case waitErr = <-exited:
			leaderDone = true
			exited = nil
			if groupGone(pgid) {
				return waitErr
			}
		case <-tick.C:
			if leaderDone && groupGone(pgid) {
				return waitErr
			}
		case <-deadline.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			if !leaderDone {
				waitErr = <-exited
			}
			return waitErr
		}
	}
}

// groupGone reports whether no live process is left in the group.
func groupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	// kill(2) still finds members that died but are not reaped yet: orphans
	// wait for init, which may reap late or never (a container whose PID 1 does
	// not reap). On Linux, look for a live member instead of waiting out the grace.
	live, ok := liveGroupMember(pgid)
	return ok && !live
}

// liveGroupMember scans /proc for a process of the group that is not a zombie;
// ok is false where /proc cannot answer.
func liveGroupMember(pgid int) (live, ok bool) {
	if runtime.GOOS != "linux" {
		return false, false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false, false
	}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true, true
		}
	}
	return false, true
}

// copyOutput copies the step's output to logs until EOF. It keeps reading after
// logs fails, so a broken log sink never blocks the process on a full pipe.
func copyOutput(logs io.Writer, r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 && logs != nil {
			if _, werr := logs.Write(buf[:n]); werr != nil {
				logs = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// envList turns the step's environment into sorted KEY=VALUE pairs (sorted so a
// step sees the same environ order every run). It is never nil.
func envList(env map[string]string) ([]string, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(env[k], "\x00") {
			return nil, fmt.Errorf("invalid environment variable %q", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := make([]string, 0, len(keys))
	for _, k := range keys {
		list = append(list, k+"="+env[k])
	}
	return list, nil
}

// lookPath finds argv[0] the way a shell with the step's PATH would.
func lookPath(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			// The process starts in dir, so ./train.sh means dir/train.sh; made
			// absolute because exec would resolve a relative Path against Dir again.
			abs, err := filepath.Abs(filepath.Join(dir, p))
			if err != nil {
				return "", fmt.Errorf("command %q: %w", name, err)
			}
			p = abs
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("command %q: %w", name, err)
		}
		return p, nil
	}
	if pathEnv == "" {
		return "", fmt.Errorf("%w: %q (the step's environment has no PATH; set PATH or give an absolute path)", ErrCommandNotFound, name)
	}
	for _, d := range filepath.SplitList(pathEnv) {
		// Relative entries (including "") would resolve against the work dir;
		// like exec.LookPath's ErrDot, they are not searched.
		if !filepath.IsAbs(d) {
			continue
		}
		if p := filepath.Join(d, name); executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q is not in the step's PATH (%s)", ErrCommandNotFound, name, pathEnv)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist", ErrCommandNotFound, p)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", p)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
