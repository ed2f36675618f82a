// Package executor runs the process of one attempt of one pipeline step.
//
// The runner (internal/runner) decides what runs when; an Executor only knows
// how to run a single attempt to completion and stop it on request.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrCommandNotFound is wrapped by Result.Err when argv[0] cannot be found.
var ErrCommandNotFound = errors.New("command not found")

// Step is one attempt of a step to run.
type Step struct {
	RunID   string
	Name    string            // step name
	Attempt int               // 1-based
	Command []string          // argv
	Image   string            // for container executors; the local executor ignores it
	Env     map[string]string // the COMPLETE environment of the process (no inheritance)
	WorkDir string            // created by the caller
	Timeout time.Duration     // 0 = none
}

// Result is how an attempt ended.
type Result struct {
	ExitCode int // -1 when the process did not exit normally
	TimedOut bool
	// Err says why the attempt did not run to a normal exit: could not start,
	// killed, timed out, cancelled (ctx). It is nil on exit code 0 and also on a
	// non-zero exit (ExitCode says it).
	Err error
}

// Executor runs steps; implementations: Local (processes on this machine) and
// Kubernetes (a Job per attempt). Run blocks until the step ends; cancelling ctx stops it (for Local: the
// whole process group is killed, no orphans). Everything the step prints goes
// to logs, and Run does not return before the last write to logs.
type Executor interface {
	Run(ctx context.Context, s Step, logs io.Writer) Result
}

// Checker is implemented by executors that can tell before a run starts that
// they cannot run a step (Kubernetes: a step without an image), so the run
// fails up front instead of after its earlier steps did their work.
type Checker interface {
	// Check looks only at Name, Command and Image.
	Check(s Step) error
}

func cancelErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, err) {
		return fmt.Errorf("cancelled: %w (%w)", err, cause)
	}
	return fmt.Errorf("cancelled: %w", err)
}
