//go:build unix

package serving

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, started as a replica, act as a model
// server instead of running tests (see TestMain and helperMain).
const helperEnv = "SERVING_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperMain(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperMain is a replica. Modes:
//
//	serve       answers /healthz, /env (its environment) and /pid
//	exit        prints an error and exits 3 at once
//	sleep       never listens
//	port-taken  first start: fails like a server whose port was taken; then serves
//	crashloop   first start: serves; every later start exits 1
//	stubborn    serves and ignores SIGTERM
//	child       starts a child (in sleep mode), writes its pid to child.pid, serves
func helperMain(mode string) {
	fmt.Printf("helper %s pid %d port %s\n", mode, os.Getpid(), os.Getenv("PORT"))
	first := func() bool {
		// The working directory is the deployment's Dir: a marker there
		// remembers earlier starts.
		f, err := os.OpenFile("started-"+mode, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
		}
		return err == nil
	}
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "loading model: open /nope/model.bin.json: no such file or directory")
		os.Exit(3)
	case "sleep":
		fmt.Println("warming up")
		time.Sleep(time.Hour) // not select{}: the runtime would call that a deadlock
	case "port-taken":
		if first() {
			fmt.Fprintf(os.Stderr, "listen tcp 127.0.0.1:%s: bind: address already in use\n", os.Getenv("PORT"))
			os.Exit(1)
		}
	case "crashloop":
		if !first() {
			fmt.Fprintln(os.Stderr, "panic: corrupt model")
			os.Exit(1)
		}
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
	case "child":
		exe, _ := os.Executable()
		c := exec.Command(exe)
		c.Env = []string{helperEnv + "=sleep"}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = os.WriteFile("child.pid", []byte(strconv.Itoa(c.Process.Pid)+"\n"), 0o644)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Join(os.Environ(), "\n"))
	})
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, os.Getpid()) })
	err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux)
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

const testPath = "/usr/local/bin:/usr/bin:/bin"

func helperSpec(t *testing.T, mode string, replicas int) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{
		Command:      []string{exe},
		Env:          map[string]string{"PATH": testPath, helperEnv: mode},
		Replicas:     replicas,
		HealthPath:   "/healthz",
		ArtifactURI:  "file:///models/churn/3/model.bin.json",
		Model:        "churn",
		Version:      3,
		Dir:          t.TempDir(),
		StartTimeout: 10 * time.Second,
	}
}

func newManager(t *testing.T) *Manager {
	t.Helper()
	m := NewManager(slog.New(slog.NewTextHandler(t.Output(), nil)))
	m.Grace = 2 * time.Second
	t.Cleanup(m.StopAll) // no replica outlives its test
	return m
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	return string(b)
}

func TestStartServesReplicas(t *testing.T) {
	// Not to be handed to replicas: they get Spec.Env and nothing else.
	t.Setenv("MLOPSD_ADMIN_TOKEN", "s3cret-token")
	m := newManager(t)
	spec := helperSpec(t, "serve", 2)
	spec.Env["HOME"] = "/home/model"
	spec.Env["PORT"] = "1" // overridden per replica

	reps, err := m.Start(t.Context(), "proj/churn-prod", spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("replicas = %+v, want 2", reps)
	}
	ports := map[string]bool{}
	for i, r := range reps {
		if !r.Healthy || r.PID == 0 || r.URL == nil || r.Restarts != 0 || r.Error != "" {
			t.Fatalf("replica %d = %+v, want healthy and running", i, r)
		}
		host, port, _ := net.SplitHostPort(r.URL.Host)
		if r.URL.Scheme != "http" || host != "127.0.0.1" {
			t.Errorf("replica %d URL = %s, want http://127.0.0.1:<port>", i, r.URL)
		}
		ports[port] = true
		if pid := get(t, r.URL.String()+"/pid"); pid != strconv.Itoa(r.PID) {
			t.Errorf("replica %d: pid %d answers as %s", i, r.PID, pid)
		}
		env := strings.Split(get(t, r.URL.String()+"/env"), "\n")
		slices.Sort(env)
		want := []string{
			"HOME=/home/model",
			"MLOPS_ARTIFACT_URI=file:///models/churn/3/model.bin.json",
			"MLOPS_MODEL=churn",
			"MLOPS_MODEL_VERSION=3",
			"PATH=" + testPath,
			"PORT=" + port,
			helperEnv + "=serve",
		}
		if !slices.Equal(env, want) {
			t.Errorf("replica %d environment = %q, want exactly %q", i, env, want)
		}
		b, err := os.ReadFile(filepath.Join(spec.Dir, fmt.Sprintf("replica-%d.log", i)))
		if err != nil || !strings.Contains(string(b), fmt.Sprintf("helper serve pid %d port %s", r.PID, port)) {
			t.Errorf("replica %d log = %q (%v), want its output", i, b, err)
		}
	}
	if len(ports) != 2 {
		t.Errorf("replicas share a port: %v", reps)
	}

	// Idempotent: the same spec keeps the same processes.
	again, err := m.Start(t.Context(), "proj/churn-prod", spec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reps {
		if again[i].PID != reps[i].PID || again[i].URL.String() != reps[i].URL.String() {
			t.Errorf("second Start: replica %d = %+v, want the running %+v", i, again[i], reps[i])
		}
	}
	if got := m.Replicas("proj/churn-prod", 3); len(got) != 2 || got[0].PID != reps[0].PID || got[1].PID != reps[1].PID {
		t.Errorf("Replicas = %+v, want %+v", got, reps)
	}
	if got := m.Replicas("proj/churn-prod", 4); got != nil {
		t.Errorf("Replicas of another version = %+v, want nil", got)
	}

	if err := m.Stop("proj/churn-prod", 3); err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if !processGone(r.PID) {
			t.Errorf("pid %d still runs after Stop", r.PID)
		}
		if c, err := net.DialTimeout("tcp", r.URL.Host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", r.URL.Host)
		}
	}
	if got := m.Replicas("proj/churn-prod", 3); got != nil {
		t.Errorf("Replicas after Stop = %+v, want nil", got)
	}
	if err := m.Stop("proj/churn-prod", 3); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}
}

func TestStartFailsWhenCommandExits(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "exit", 2)
	start := time.Now()
	_, err := m.Start(t.Context(), "churn", spec)
	if err == nil {
		t.Fatal("Start succeeded with a command that exits")
	}
	for _, want := range []string{"serving churn version 3", "exited with status 3 before answering GET /healthz",
		"loading model: open /nope/model.bin.json: no such file or directory", "replica-"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s: an exited replica should fail Start at once, not after StartTimeout", took)
	}
	if got := m.Replicas("churn", 3); got != nil {
		t.Errorf("Replicas after a failed Start = %+v, want nil", got)
	}
}

func TestStartTimesOutWhenNeverHealthy(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "sleep", 1)
	spec.StartTimeout = 500 * time.Millisecond
	_, err := m.Start(t.Context(), "churn", spec)
	if err == nil {
		t.Fatal("Start succeeded with a command that never listens")
	}
	for _, want := range []string{"not healthy within 500ms", "connection refused", "warming up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The process that never became healthy is stopped, not left behind.
	pid := logPID(t, filepath.Join(spec.Dir, "replica-0.log"))
	if !processGone(pid) {
		t.Errorf("pid %d still runs after the failed Start", pid)
	}
}

func TestCrashedReplicaIsRestarted(t *testing.T) {
	m := newManager(t)
	reps, err := m.Start(t.Context(), "churn", helperSpec(t, "serve", 1))
	if err != nil {
		t.Fatal(err)
	}
	old := reps[0]
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := waitReplica(t, m, "churn", 3, 10*time.Second, func(r Replica) bool { return r.Restarts == 1 && r.Healthy })
	if r.PID == old.PID || r.PID == 0 || r.Error != "" {
		t.Fatalf("after the crash: %+v, want a new healthy process", r)
	}
	if pid := get(t, r.URL.String()+"/pid"); pid != strconv.Itoa(r.PID) {
		t.Errorf("restarted replica at %s answers as pid %s, want %d", r.URL, pid, r.PID)
	}
}

func TestCrashLoopGivesUp(t *testing.T) {
	m := newManager(t)
	m.t.backoffMin, m.t.backoffMax, m.t.maxFailures = 10*time.Millisecond, 40*time.Millisecond, 3
	spec := helperSpec(t, "crashloop", 1)
	reps, err := m.Start(t.Context(), "churn", spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(reps[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The crash and two failed restarts make three consecutive failures.
	r := waitReplica(t, m, "churn", 3, 10*time.Second, func(r Replica) bool { return r.Error != "" })
	if r.Healthy || r.PID != 0 || r.Restarts != 2 || !strings.Contains(r.Error, "gave up after 3 consecutive failures") {
		t.Fatalf("replica = %+v, want down for good after 2 restarts", r)
	}
	time.Sleep(100 * time.Millisecond)
	if got := m.Replicas("churn", 3)[0]; got.Restarts != 2 || got.PID != 0 {
		t.Fatalf("replica = %+v, want it left down", got)
	}

	// Start relaunches a replica supervision gave up on (here it fails again).
	if _, err := m.Start(t.Context(), "churn", spec); err == nil || !strings.Contains(err.Error(), "panic: corrupt model") {
		t.Fatalf("Start after giving up = %v, want a fresh launch that fails", err)
	}
}

func TestStartRetriesWhenPortIsTaken(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "port-taken", 1)
	reps, err := m.Start(t.Context(), "churn", spec)
	if err != nil {
		t.Fatal(err)
	}
	if !reps[0].Healthy || reps[0].Restarts != 0 {
		t.Fatalf("replica = %+v, want healthy (a lost port is not a crash)", reps[0])
	}
	b, _ := os.ReadFile(filepath.Join(spec.Dir, "replica-0.log"))
	if strings.Count(string(b), "helper port-taken pid") != 2 || !strings.Contains(string(b), "address already in use") {
		t.Errorf("log = %q, want a failed start, then a good one", b)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	m := newManager(t)
	m.Grace = 300 * time.Millisecond
	reps, err := m.Start(t.Context(), "churn", helperSpec(t, "stubborn", 1))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Stop("churn", 3); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < m.Grace {
		t.Errorf("Stop took %s: a process ignoring SIGTERM should get the %s grace", took, m.Grace)
	}
	if !processGone(reps[0].PID) {
		t.Errorf("pid %d survived SIGKILL", reps[0].PID)
	}
}

func TestStopPromptWhenProcessExits(t *testing.T) {
	m := newManager(t)
	m.Grace = 10 * time.Second
	if _, err := m.Start(t.Context(), "churn", helperSpec(t, "serve", 1)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Stop("churn", 3); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Stop took %s for a process that exits on SIGTERM", took)
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "child", 1)
	if _, err := m.Start(t.Context(), "churn", spec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(spec.Dir, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if child == 0 || processGone(child) {
		t.Fatalf("child %q is not running", b)
	}
	if err := m.Stop("churn", 3); err != nil {
		t.Fatal(err)
	}
	waitGone(t, child)
}

func TestStartWithOtherSpecReplaces(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "serve", 1)
	first, err := m.Start(t.Context(), "churn", spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Replicas = 2
	second, err := m.Start(t.Context(), "churn", spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 2 || second[0].PID == first[0].PID || second[1].PID == first[0].PID {
		t.Fatalf("replicas = %+v, want 2 new ones replacing %+v", second, first)
	}
	if !processGone(first[0].PID) {
		t.Errorf("replaced pid %d still runs", first[0].PID)
	}
}

func TestVersionsAreIndependent(t *testing.T) {
	m := newManager(t)
	v3 := helperSpec(t, "serve", 1)
	v4 := helperSpec(t, "serve", 1)
	v4.Version = 4
	r3, err := m.Start(t.Context(), "churn", v3)
	if err != nil {
		t.Fatal(err)
	}
	r4, err := m.Start(t.Context(), "churn", v4)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Stop("churn", 3); err != nil {
		t.Fatal(err)
	}
	if !processGone(r3[0].PID) || processGone(r4[0].PID) {
		t.Fatal("stopping version 3 must stop it and only it")
	}
	get(t, r4[0].URL.String()+"/healthz")

	m.StopAll()
	if !processGone(r4[0].PID) {
		t.Error("StopAll left version 4 running")
	}
	if _, err := m.Start(t.Context(), "churn", v4); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after StopAll = %v, want ErrClosed", err)
	}
}

func TestConcurrentStartsShareReplicas(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "serve", 2)
	var wg sync.WaitGroup
	results := make([][]Replica, 6)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = m.Start(t.Context(), "churn", spec)
			_ = m.Replicas("churn", 3)
		})
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i][0].PID != results[0][0].PID || results[i][1].PID != results[0][1].PID {
			t.Fatalf("concurrent Starts got different replicas: %+v and %+v", results[i], results[0])
		}
	}
}

func TestStartCancelledStopsReplicas(t *testing.T) {
	m := newManager(t)
	spec := helperSpec(t, "sleep", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := m.Start(ctx, "churn", spec); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want the context's error", err)
	}
	if pid := logPID(t, filepath.Join(spec.Dir, "replica-0.log")); !processGone(pid) {
		t.Errorf("pid %d still runs after Start gave up", pid)
	}
	if got := m.Replicas("churn", 3); got != nil {
		t.Errorf("Replicas = %+v, want nil", got)
	}
}

func TestStartValidates(t *testing.T) {
	m := newManager(t)
	for _, tc := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Command = nil }, "no command"},
		{func(s *Spec) { s.Replicas = 0 }, "replicas must be at least 1"},
		{func(s *Spec) { s.Dir = "" }, "no working directory"},
		{func(s *Spec) { s.HealthPath = "healthz" }, "does not start with /"},
		{func(s *Spec) { s.Command = []string{"no-such-model-server"} }, `"no-such-model-server" not found in PATH`},
		{func(s *Spec) { delete(s.Env, "PATH"); s.Command = []string{"sh"} }, "has no PATH"},
		{func(s *Spec) { s.Env["A=B"] = "x" }, `invalid environment variable "A=B"`},
	} {
		spec := helperSpec(t, "serve", 1)
		tc.edit(&spec)
		if _, err := m.Start(t.Context(), "churn", spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// TestServesModelServer deploys examples/modelserver, the server the
// quickstart uses, and scores a row through it.
func TestServesModelServer(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build examples/modelserver")
	}
	bin := filepath.Join(t.TempDir(), "modelserver")
	if out, err := exec.Command(goBin, "build", "-o", bin, "../../examples/modelserver").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	artifact := filepath.Join(t.TempDir(), "model.bin.json")
	if err := os.WriteFile(artifact, []byte(`{"kind": "logistic-regression", "label": "churned",
		"features": ["tenure_months"], "mean": [0], "std": [1], "weights": [1], "bias": 0, "threshold": 0.5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t)
	reps, err := m.Start(t.Context(), "churn", Spec{
		Command: []string{bin}, Env: map[string]string{"PATH": testPath}, Replicas: 1,
		ArtifactURI: "file://" + artifact, Model: "churn-classifier", Version: 2, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(reps[0].URL.String()+"/predict", "application/json", strings.NewReader(`{"instances": [{"tenure_months": 0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"predictions":[{"churned":true,"probability":0.5}],"model":"churn-classifier","version":2}`; strings.TrimSpace(string(b)) != want {
		t.Errorf("predict = %s, want %s", b, want)
	}
	if err := m.Stop("churn", 2); err != nil {
		t.Fatal(err)
	}
	if !processGone(reps[0].PID) {
		t.Errorf("modelserver pid %d still runs", reps[0].PID)
	}
}

func TestLogFileRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replica-0.log")
	l, err := openLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 30 {
		fmt.Fprintf(l, "line %02d\n", i) // 8 bytes each
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) > 100 || len(old) > 100 || len(old) == 0 {
		t.Fatalf("sizes %d and %d, want both at most 100 and a rotated file", len(cur), len(old))
	}
	if !strings.HasSuffix(string(cur), "line 29\n") || !strings.HasSuffix(string(old), "line 23\n") {
		t.Errorf("current %q, rotated %q: want the latest lines in the current file", cur, old)
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	var tl tail
	for i := range 1000 {
		fmt.Fprintf(&tl, "line %d\n", i)
	}
	lines := strings.Split(tl.String(), "\n")
	if len(lines) != tailLines || lines[0] != "line 980" || lines[len(lines)-1] != "line 999" {
		t.Errorf("tail = %q, want lines 980 to 999", lines)
	}
}

// waitReplica polls key+version's first replica until ok holds.
func waitReplica(t *testing.T, m *Manager, key string, version int64, within time.Duration, ok func(Replica) bool) Replica {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		reps := m.Replicas(key, version)
		if len(reps) > 0 && ok(reps[0]) {
			return reps[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: replicas = %+v", within, reps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logPID reads the pid of the last start from a replica log.
func logPID(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pid := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if _, rest, ok := strings.Cut(sc.Text(), "mlopsd: started pid "); ok {
			pid, _ = strconv.Atoi(strings.Fields(rest)[0])
		}
	}
	if pid == 0 {
		t.Fatalf("%s records no start", path)
	}
	return pid
}

// waitGone fails unless pid stops running within 2s.
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

// processGone reports whether pid no longer runs: it does not exist, or it is
// a zombie (dead, waiting for an init that may never reap it in a container).
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

func TestBackoffDoublesToCap(t *testing.T) {
	m := NewManager(nil)
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		if got := m.backoff(failures); got != want {
			t.Errorf("backoff(%d) = %s, want %s", failures, got, want)
		}
	}
}
