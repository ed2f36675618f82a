package chaos_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// TestGracefulShutdown sends SIGTERM to mlopsd while clients write to it and a
// pipeline run executes a long step (sleep 30):
//   - a request whose body is still arriving when SIGTERM lands completes (201);
//   - no answer is a 5xx; clients only meet refused connections once the
//     listener is closed;
//   - the process exits by itself within --shutdown-timeout (10s), with status 0;
//   - the step's process is gone when mlopsd has exited (not orphaned);
//   - after a restart every acknowledged write is there and the run is
//     executed again and succeeds.
func TestGracefulShutdown(t *testing.T) {
	enabled(t)
	t.Parallel() // runs beside the other parallel scenarios, after the measured ones
	gracefulShutdown(t, false)
}

// TestGracefulShutdownWithLogFollower is the same with a client following the
// run's logs (GET …/logs?follow=true), a request that only ends with the run:
// the shutdown must still finish within --shutdown-timeout.
func TestGracefulShutdownWithLogFollower(t *testing.T) {
	enabled(t)
	t.Parallel() // runs beside the other parallel scenarios, after the measured ones
	gracefulShutdown(t, true)
}

func gracefulShutdown(t *testing.T, follow bool) {
	const shutdownTimeout = 10 * time.Second
	scenario := "graceful-shutdown/sqlite"
	if follow {
		scenario += "+follower"
	}
	work := t.TempDir()
	pids := filepath.Join(work, "pids")
	srv := startServer(t, serverOptions{database: databases[0].url(t), shutdownTimeout: shutdownTimeout, env: unlimited})
	ctx := context.Background()
	c := srv.Client(t, 0, nil)
	const p = api.DefaultProject
	// The step records its PID; the first execution sleeps 30s, a later one
	// (after the restart) finishes at once.
	script := fmt.Sprintf(`echo $$ >> %[1]s; if [ "$(wc -l < %[1]s)" -gt 1 ]; then echo resumed; exit 0; fi; echo sleeping; exec sleep 30`, pids)
	if _, err := c.CreatePipeline(ctx, p, api.CreatePipelineRequest{Name: "long", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{{Name: "sleep", Command: []string{"sh", "-c", script}}},
	}}); err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, p, "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	var stepPID int
	if !waitFor(ctx, 30*time.Second, func() bool {
		b, _ := os.ReadFile(pids)
		stepPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return stepPID > 0
	}) {
		t.Fatal("the run's step did not start within 30s")
	}

	var v violations
	w := newWorkload(t, srv, 8, true, &v)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(loadCtx, t) })

	followEnded := make(chan string, 1)
	if follow {
		go func() { followEnded <- followLogs(srv, run.ID) }()
	}
	time.Sleep(1500 * time.Millisecond)

	// A request in flight across the signal: headers and half the body now,
	// the rest after SIGTERM.
	inflight, err := startHalfRequest(srv, "/v1/projects/default/models", `{"name":"in-flight","description":"sent across SIGTERM"}`)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := w.failed.Load(); n > 0 {
		v.add("%d requests failed before SIGTERM", n)
	}
	sigterm := time.Now()
	w.wire.since.Store(sigterm.UnixNano())
	var exitAfter time.Duration
	var state *os.ProcessState
	exited := make(chan struct{})
	go func() {
		exitAfter, state = srv.Terminate(shutdownTimeout + 20*time.Second)
		close(exited)
	}()
	time.Sleep(500 * time.Millisecond)
	status, err := inflight.finish(15 * time.Second)
	switch {
	case err != nil:
		v.add("the request in flight at SIGTERM got no answer: %v", err)
	case status != http.StatusCreated:
		v.add("the request in flight at SIGTERM got %d, want 201", status)
	}
	<-exited
	stopLoad()
	wg.Wait()
	followResult := ""
	if follow {
		select {
		case followResult = <-followEnded:
			if !strings.Contains(followResult, "server shutting down") {
				v.add("the log follower was not told the server is shutting down: %s", followResult)
			}
		case <-time.After(5 * time.Second):
			followResult = "still open 5s after mlopsd exited"
			v.add("the log follower's request was %s", followResult)
		}
	}

	var exitProblems []string
	switch {
	case state == nil:
		exitProblems = append(exitProblems, fmt.Sprintf("mlopsd had not exited %s after SIGTERM (--shutdown-timeout %s)", exitAfter.Round(time.Millisecond), shutdownTimeout))
		srv.Kill()
	case exitAfter >= shutdownTimeout:
		exitProblems = append(exitProblems, fmt.Sprintf("mlopsd exited %s after SIGTERM, not before --shutdown-timeout %s", exitAfter.Round(time.Millisecond), shutdownTimeout))
	}
	if state != nil && !state.Success() {
		exitProblems = append(exitProblems, fmt.Sprintf("mlopsd exited with %v after SIGTERM, want status 0 (%s)", state, tail(srv.LogPath, 1)))
	}
	stepGone := waitFor(ctx, 3*time.Second, func() bool { return processGone(stepPID) })
	if !stepGone {
		v.add("the step's process %d outlived mlopsd (orphaned)", stepPID)
		_ = killPID(stepPID)
	}
	if n := w.wire.count5xx(0); n > 0 {
		v.add("%d answers were 5xx", n)
	}

	// Restart: every acknowledged write is there, and the run finishes.
	restart := time.Now()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	checked := w.verify(t)
	if _, err := c.GetModel(ctx, p, "in-flight"); err != nil && status == http.StatusCreated {
		v.add("the model created by the request in flight at SIGTERM is missing after the restart: %v", err)
	}
	for _, p := range exitProblems {
		v.add("%s", p)
	}
	if follow {
		// The run's resumption is the other test's; here only the exit matters.
		report(scenario, "requests=%d refused/lost=%d in-flight request=%d exit after %s (%v) step pid %d gone=%v objects checked=%d violations=%d",
			w.wire.requests.Load(), w.failed.Load(), status, exitAfter.Round(time.Millisecond), state, stepPID, stepGone, checked, v.count())
		report(scenario, "  log follower: %s", followResult)
		v.fail(t)
		return
	}
	final := run
	finished := waitFor(ctx, 150*time.Second, func() bool {
		r, err := c.GetRun(ctx, p, "long", run.ID)
		if err == nil {
			final = r
		}
		return err == nil && api.RunFinished(r.State)
	})
	resumedAfter := time.Since(restart)
	switch {
	case !finished:
		v.add("run %d was not finished %s after the restart (state %s)", run.ID, resumedAfter.Round(time.Second), final.State)
	case final.State != api.RunSucceeded:
		v.add("run %d ended %s after the restart, want succeeded: %s", run.ID, final.State, final.Error)
	}
	executions := 0
	if b, err := os.ReadFile(pids); err == nil {
		executions = len(strings.Fields(string(b)))
	}

	report(scenario, "requests=%d (answered after SIGTERM: slowest %s) refused/lost=%d in-flight request=%d exit after %s (%v) step pid %d gone=%v "+
		"run finished %s after restart (step executions=%d) objects checked=%d violations=%d",
		w.wire.requests.Load(), time.Duration(w.wire.slowestSince.Load()).Round(time.Millisecond), w.failed.Load(), status,
		exitAfter.Round(time.Millisecond), state, stepPID, stepGone, resumedAfter.Round(time.Second), executions, checked, v.count())
	v.fail(t)
}

// followLogs follows a run's logs until the server ends the response, and
// says how it ended.
func followLogs(srv *server, run int64) string {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/projects/default/pipelines/long/runs/%d/logs?follow=true", srv.URL, run), nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	end := fmt.Sprintf("ended after %s with %q", time.Since(start).Round(time.Millisecond), lines[len(lines)-1])
	if err != nil {
		end += " (" + err.Error() + ")"
	}
	return end
}

// halfRequest is an HTTP request whose body is only partly sent.
type halfRequest struct {
	conn net.Conn
	rest string
}

func startHalfRequest(srv *server, path, body string) (*halfRequest, error) {
	host := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	half := len(body) / 2
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Idempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s", path, host, srv.Token, randomHex(16), len(body), body[:half])
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &halfRequest{conn: conn, rest: body[half:]}, nil
}

// finish sends the rest of the body and reads the answer's status.
func (h *halfRequest) finish(timeout time.Duration) (int, error) {
	defer h.conn.Close()
	_ = h.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(h.conn, h.rest); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(h.conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
