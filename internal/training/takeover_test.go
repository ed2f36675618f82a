package training_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// The worker of a run is killed (SIGKILL: no chance to hand the job back):
// another worker on the database takes the run over once its heartbeat has
// stopped, and the run finishes. The killed worker runs in a child process.
func TestKilledWorkersRunIsTakenOver(t *testing.T) {
	if url := os.Getenv("MLOPS_TEST_CHILD_WORKER"); url != "" {
		childWorker(t, url, os.Getenv("MLOPS_TEST_CHILD_MARKER"))
		return
	}
	t.Parallel()
	url, marker := storetest.DatabaseURL(t), filepath.Join(t.TempDir(), "started")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWorkersRunIsTakenOver$", "-test.v")
	cmd.Env = append(os.Environ(), "MLOPS_TEST_CHILD_WORKER="+url, "MLOPS_TEST_CHILD_MARKER="+marker)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The child prints the run's id once its step is running.
	var id int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RUNNING "); ok {
			id, _ = strconv.ParseInt(v, 10, 64)
			break
		}
	}
	if id == 0 {
		t.Fatal("the child worker never reported a running run")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()

	n := startNode(t, url, nodeOptions{})
	var last api.PipelineRun
	// Heartbeat staleness (30s), a sweep (every 10s) and the step itself.
	until(t, killed.Add(90*time.Second), "the run is taken over and succeeds", func() (bool, string) {
		r, err := n.Client.GetRun(context.Background(), "default", "p", id)
		if err != nil {
			return false, err.Error()
		}
		last = *r
		return r.State == api.RunSucceeded, fmt.Sprintf("state %s, attempts of s: %d", r.State, stepState(r, "s").Attempts)
	})
	t.Logf("taken over and finished %s after the kill", time.Since(killed).Round(time.Second))
	if last.State != api.RunSucceeded {
		t.Fatalf("run %d: %s", id, last.State)
	}
}

// childWorker is the worker that gets killed: it starts a run whose step
// waits (the first time; a takeover finds the marker and succeeds at once)
// and reports it once the step runs, then waits for its end.
func childWorker(t *testing.T, url, marker string) {
	n := startNode(t, url, nodeOptions{})
	ctx := context.Background()
	script := fmt.Sprintf("if [ -e %[1]s ]; then exit 0; fi; touch %[1]s; sleep 60", marker)
	if _, err := n.Client.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "p", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{sh("s", script)},
	}}); err != nil {
		t.Fatal(err)
	}
	run, err := n.Client.CreateRun(ctx, "default", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(marker); err == nil {
			fmt.Printf("RUNNING %d\n", run.ID)
			time.Sleep(2 * time.Minute) // killed meanwhile
			return
		}
	}
	t.Fatal("the step never started")
}
