package chaos_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// enableEnv turns the suite on; `make chaos` sets it.
const enableEnv = "MLOPS_CHAOS"

var (
	buildDir string // the binaries, built once for the whole run
	builds   struct {
		once             sync.Once
		mlopsd, provider string
		err              error
	}
	summary struct {
		sync.Mutex
		lines []string
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if len(summary.lines) > 0 {
		fmt.Println("\n== chaos summary ==")
		for _, l := range summary.lines {
			fmt.Println(l)
		}
	}
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// enabled skips the test unless the suite was asked for.
func enabled(t *testing.T) {
	t.Helper()
	if os.Getenv(enableEnv) == "" {
		t.Skipf("the chaos suite runs with `make chaos` (%s=1)", enableEnv)
	}
}

// report prints one scenario's figures at once (t.Logf is hidden when a test
// passes) and keeps the line for the summary printed at the end.
func report(scenario, format string, args ...any) {
	line := fmt.Sprintf("CHAOS %-34s %s", scenario, fmt.Sprintf(format, args...))
	fmt.Println(line)
	summary.Lock()
	summary.lines = append(summary.lines, line)
	summary.Unlock()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// binaries builds mlopsd and the provider once per test binary.
func binaries(t *testing.T) (mlopsd, provider string) {
	t.Helper()
	builds.once.Do(func() {
		dir, err := os.MkdirTemp("", "mlops-chaos-bin-")
		if err != nil {
			builds.err = err
			return
		}
		buildDir = dir
		builds.mlopsd = filepath.Join(dir, "mlopsd")
		builds.provider = filepath.Join(dir, "terraform-provider-mlops")
		for target, pkg := range map[string]string{builds.mlopsd: "../../cmd/mlopsd", builds.provider: "../.."} {
			out, err := exec.Command("go", "build", "-o", target, pkg).CombinedOutput()
			if err != nil {
				builds.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
				return
			}
		}
	})
	if builds.err != nil {
		t.Fatal(builds.err)
	}
	return builds.mlopsd, builds.provider
}

// database is one kind of store a scenario runs on.
type database struct {
	name string
	url  func(t *testing.T) string
}

// databases are SQLite, and PostgreSQL (a throwaway schema on the shared
// server) when MLOPS_TEST_POSTGRES_URL is set; without it that subtest skips.
var databases = []database{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "mlops.db") }},
	{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// unlimited turns off mlopsd's per-token rate limit (100 requests/s by
// default), for scenarios that measure the API and the store rather than the
// limiter. An mlopsd without the limit ignores it.
var unlimited = []string{"MLOPSD_RATE_LIMIT=0"}

// serverOptions configures an mlopsd.
type serverOptions struct {
	database        string
	dataRoot        string        // --data-root; default a temp dir
	shutdownTimeout time.Duration // default 10s
	env             []string      // extra environment
	// token is the admin token (MLOPSD_ADMIN_TOKEN); default a random one.
	// Replicas on one database share it: each makes sure it exists.
	token string
}

// server is an `mlopsd serve` subprocess that keeps its port, database and
// token across restarts, as a supervisor restarting it would.
type server struct {
	t       *testing.T
	bin     string
	args    []string
	env     []string
	URL     string
	Token   string
	LogPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	starts int
	// slowestStart is the longest time from exec to answering /readyz.
	slowestStart time.Duration
}

func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	bin, _ := binaries(t)
	dir := t.TempDir()
	if o.dataRoot == "" {
		o.dataRoot = dir
	}
	if o.shutdownTimeout == 0 {
		o.shutdownTimeout = 10 * time.Second
	}
	port := freePort(t)
	if o.token == "" {
		o.token = "chaos-admin-" + randomHex(16)
	}
	s := &server{
		t: t, bin: bin, env: o.env,
		URL:     fmt.Sprintf("http://127.0.0.1:%d", port),
		Token:   o.token,
		LogPath: filepath.Join(dir, "mlopsd.log"),
		args: []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--database", o.database,
			"--data-root", o.dataRoot, "--data-dir", filepath.Join(dir, "data"), "--log-format", "json",
			"--shutdown-timeout", o.shutdownTimeout.String()},
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("mlopsd log (last 60 lines):\n%s", tail(s.LogPath, 60))
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Start starts the process and waits until it answers /readyz.
func (s *server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			return errors.New("mlopsd is already running")
		}
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = append(append(os.Environ(), "MLOPSD_ADMIN_TOKEN="+s.Token), s.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test binary, even when that is killed by a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.starts++
	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			return fmt.Errorf("mlopsd exited while starting (%v); log:\n%s", cmd.ProcessState, tail(s.LogPath, 30))
		default:
		}
		resp, err := hc.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.slowestStart = max(s.slowestStart, time.Since(started))
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("mlopsd did not become ready within 60s; log:\n%s", tail(s.LogPath, 30))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Kill ends the process with SIGKILL (no shutdown at all) and reaps it.
func (s *server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Terminate sends SIGTERM and waits up to limit for the process to exit; it
// returns how long that took and the exit status (nil when it did not exit).
func (s *server) Terminate(limit time.Duration) (time.Duration, *os.ProcessState) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return time.Since(start), cmd.ProcessState
	case <-time.After(limit):
		return time.Since(start), nil
	}
}

// Alive says whether the current process is still running.
func (s *server) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Client returns an admin client; retries < 0 disables retries.
func (s *server) Client(t *testing.T, retries int, hc *http.Client) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: s.URL, Token: s.Token, RetryMax: retries, HTTPClient: hc,
		RetryWaitMin: 100 * time.Millisecond, RetryWaitMax: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requestLog tallies the "request" lines mlopsd logged (across restarts).
type requestLog struct {
	Total    int
	ByStatus map[int]int
	// Post409 counts POSTs refused with 409, e.g. an Idempotency-Key still "in progress".
	Post409 int
	// Failed lists the first 5xx answers: time, method, path and status.
	Failed []string
}

func (s *server) Requests() requestLog {
	out := requestLog{ByStatus: map[int]int{}}
	f, err := os.Open(s.LogPath)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time   string `json:"time"`
			Msg    string `json:"msg"`
			Method string `json:"method"`
			Path   string `json:"path"`
			Status int    `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "request" {
			continue
		}
		out.Total++
		out.ByStatus[l.Status]++
		if l.Method == http.MethodPost && l.Status == http.StatusConflict {
			out.Post409++
		}
		if l.Status >= 500 && len(out.Failed) < 5 {
			out.Failed = append(out.Failed, fmt.Sprintf("%s %s %s %d", l.Time, l.Method, l.Path, l.Status))
		}
	}
	return out
}

// Count5xx sums the 5xx answers.
func (r requestLog) Count5xx() int {
	n := 0
	for code, c := range r.ByStatus {
		if code >= 500 {
			n += c
		}
	}
	return n
}

func (r requestLog) String() string {
	codes := make([]int, 0, len(r.ByStatus))
	for c := range r.ByStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", r.ByStatus[c], c))
	}
	return strings.Join(parts, " ")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// latencies collects durations per operation.
type latencies struct {
	mu  sync.Mutex
	ops map[string][]time.Duration
}

func (l *latencies) add(op string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ops == nil {
		l.ops = map[string][]time.Duration{}
	}
	l.ops[op] = append(l.ops[op], d)
}

func (l *latencies) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ds := range l.ops {
		n += len(ds)
	}
	return n
}

// summary renders "op n p50/p99" for every operation.
func (l *latencies) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.ops))
	for op := range l.ops {
		names = append(names, op)
	}
	slices.Sort(names)
	var parts []string
	for _, op := range names {
		ds := slices.Clone(l.ops[op])
		slices.Sort(ds)
		parts = append(parts, fmt.Sprintf("%s %d p50 %s p99 %s", op, len(ds), round(quantile(ds, 0.5)), round(quantile(ds, 0.99))))
	}
	return strings.Join(parts, "; ")
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// violations collects broken promises; a scenario reports their count and
// fails with each of them.
type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = append(v.list, fmt.Sprintf(format, args...))
}

func (v *violations) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.list)
}

// fail reports every violation (at most 20 verbatim).
func (v *violations) fail(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, s := range v.list {
		if i == 20 {
			t.Errorf("... and %d more violations", len(v.list)-20)
			break
		}
		t.Error(s)
	}
}

// processGone says whether no process has this pid (zombies count as alive).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitFor polls cond every 50ms until it holds or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killPID SIGKILLs a process this test started indirectly (a leaked step).
func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
