//go:build unix

package serving

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// pipeDrain bounds how long a finished run's output is still read: a process
// that left the group (setsid) and kept stdout open must not keep the run from
// ending (the same rule as internal/executor).
const pipeDrain = 2 * time.Second

// proc is one run of a replica's command. The process leads its own process
// group (Setpgid), so its pid is also the group id and signals to -pid reach
// everything it spawned.
type proc struct {
	pid    int
	port   int
	tail   *tail         // this run's latest output, for error messages
	exited chan struct{} // closed once the leader is reaped and the output drained
	state  *os.ProcessState
	err    error // from Wait when state is nil
}

// spawn starts one run of the command with exactly env, its output appended
// to logs. The caller must eventually wait for exited (terminate does).
func spawn(path string, argv, env []string, dir string, port int, logs io.Writer) (*proc, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", argv[0], err)
	}
	cmd := &exec.Cmd{
		Path: path,
		Args: argv,
		// Never nil: a nil Env would hand the server's own environment, tokens
		// included, to the model server.
		Env: env,
		Dir: dir,
		// An *os.File is passed to the child as is: Wait returns when the
		// process exits even if a grandchild still holds the pipe.
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	pw.Close() // the child has its copy; ours would keep the reader from seeing EOF
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start %q: %w", argv[0], err)
	}
	p := &proc{pid: cmd.Process.Pid, port: port, tail: &tail{}, exited: make(chan struct{})}
	// Written before the copy starts, so it precedes this run's output.
	fmt.Fprintf(logs, "--- %s mlopsd: started pid %d on port %d\n", time.Now().UTC().Format(time.RFC3339), p.pid, port)

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(io.MultiWriter(logs, p.tail), pr) // neither writer fails
	}()
	go func() {
		p.err = cmd.Wait()
		p.state = cmd.ProcessState
		// Children the leader left behind go with it instead of living on as
		// orphans, perhaps still holding the port.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		drain := time.NewTimer(pipeDrain)
		select {
		case <-copied:
		case <-drain.C:
			pr.Close() // unblocks the reader
			<-copied
		}
		drain.Stop()
		pr.Close()
		close(p.exited)
	}()
	return p, nil
}

// done reports whether the run has ended.
func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitReason says how an ended run ended.
func (p *proc) exitReason() string {
	if p.state == nil {
		return fmt.Sprintf("wait failed: %v", p.err)
	}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exited with status %d", p.state.ExitCode())
}

// terminate asks the process group to stop with SIGTERM, SIGKILLs it after
// grace, and returns once the leader is reaped. Members still alive when the
// leader exits are killed at once (see spawn): a server that wants its workers
// to finish waits for them before exiting.
func terminate(p *proc, grace time.Duration) {
	if p.done() {
		return
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.exited
	}
}

// envList turns an environment into sorted KEY=VALUE pairs (a stable order
// from run to run). It is never nil.
func envList(env map[string]string) ([]string, error) {
	keys := make([]string, 0, len(env))
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
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

// lookPath finds argv[0] the way a shell with the replica's PATH would: the
// server's own PATH is not the replica's.
func lookPath(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			// The process starts in dir, so ./serve.sh means dir/serve.sh; made
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
		return "", fmt.Errorf("command %q not found: the environment has no PATH (set PATH or give an absolute path)", name)
	}
	for _, d := range filepath.SplitList(pathEnv) {
		// Relative entries would resolve against the working directory; like
		// exec.LookPath's ErrDot, they are not searched.
		if !filepath.IsAbs(d) {
			continue
		}
		if p := filepath.Join(d, name); executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH (%s)", name, pathEnv)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", p)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", p)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
