package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeShutdownEndsLogFollowers: on SIGTERM a client following a run's
// logs (a response that would last as long as the run) is ended at once,
// while a request whose body is still arriving completes; mlopsd then exits
// 0 long before --shutdown-timeout.
func TestServeShutdownEndsLogFollowers(t *testing.T) {
	bin := buildMlopsd(t)
	dir := t.TempDir()
	const admin = "bootstrap-admin-token-0123456789"
	const shutdownTimeout = 30 * time.Second
	cmd, base, logs := startServe(t, bin, []string{"MLOPSD_ADMIN_TOKEN=" + admin, "MLOPSD_DATABASE=sqlite://" + filepath.Join(dir, "mlops.db")},
		"--data-dir", filepath.Join(dir, "data"), "--shutdown-timeout", shutdownTimeout.String(), "--rate-limit", "0")

	post := func(path, body string) []byte {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	post("/v1/projects/default/pipelines", `{"name":"long","steps":[{"name":"sleep","command":["sh","-c","echo sleeping; exec sleep 60"]}]}`)
	var run struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(post("/v1/projects/default/pipelines/long/runs", `{}`), &run); err != nil {
		t.Fatal(err)
	}

	// The follower: its response has begun once Do returns.
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/projects/default/pipelines/long/runs/%d/logs?follow=true", base, run.ID), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type ending struct {
		at   time.Time
		text string
		err  error
	}
	followEnded := make(chan ending, 1)
	go func() {
		b, err := io.ReadAll(resp.Body)
		followEnded <- ending{time.Now(), string(b), err}
	}()

	// A request in flight across the signal: headers and half the body now.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"in-flight","description":"sent across SIGTERM"}`
	fmt.Fprintf(conn, "POST /v1/projects/default/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Idempotency-Key: in-flight-1\r\nContent-Length: %d\r\n\r\n%s", admin, len(body), body[:len(body)/2])
	time.Sleep(200 * time.Millisecond)

	sigterm := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	select {
	case e := <-followEnded:
		if took := e.at.Sub(sigterm); took > 3*time.Second {
			t.Errorf("the log follower ended %s after SIGTERM, want at once", took)
		}
		if e.err != nil || !strings.HasSuffix(e.text, "server shutting down; follow again to continue\n") {
			t.Errorf("the log follower ended with %q (%v), want the shutdown notice", e.text, e.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the log follower was still open 10s after SIGTERM")
	}

	// The in-flight request still completes.
	time.Sleep(300 * time.Millisecond)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatalf("sending the rest of the in-flight request: %v", err)
	}
	inflight, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v", err)
	}
	b, _ := io.ReadAll(inflight.Body)
	inflight.Body.Close()
	if inflight.StatusCode != http.StatusCreated || !bytes.Contains(b, []byte(`"in-flight"`)) {
		t.Fatalf("the request in flight at SIGTERM got %d %s, want 201", inflight.StatusCode, b)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
		if took := time.Since(sigterm); took > shutdownTimeout/2 {
			t.Fatalf("mlopsd exited %s after SIGTERM, want well within --shutdown-timeout %s", took, shutdownTimeout)
		}
	case <-time.After(shutdownTimeout):
		t.Fatalf("mlopsd had not exited %s after SIGTERM\n%s", shutdownTimeout, logs.String())
	}
}
