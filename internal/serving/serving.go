//go:build unix

// Package serving runs model versions as local processes: the replicas of a
// deployment whose runtime is a command. A Manager starts each replica on its
// own loopback port, waits until it passes its health check, restarts it when
// it crashes, and stops its whole process group when the version is retired.
// Routing traffic to the replicas is the gateway's job, not this package's.
package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultStartTimeout is how long a replica may take to become healthy
	// when Spec.StartTimeout is 0.
	DefaultStartTimeout = 60 * time.Second
	// DefaultGrace is how long a stopped replica gets between SIGTERM and
	// SIGKILL when Manager.Grace is 0.
	DefaultGrace = 5 * time.Second
	// DefaultHealthPath is checked when Spec.HealthPath is empty; it is what
	// examples/modelserver serves.
	DefaultHealthPath = "/healthz"
)

// ErrClosed is returned by Start once StopAll has run.
var ErrClosed = errors.New("serving: manager is shut down")

// errStopped ends a launch that Stop (or a Start with another spec) overtook.
var errStopped = errors.New("stopped while starting")

const (
	// healthTimeout bounds one health check: a replica that accepts but never
	// answers counts as unhealthy rather than blocking supervision.
	healthTimeout = 2 * time.Second
	// unhealthyAfter consecutive failed checks mark a running replica
	// unhealthy: one slow answer under load should not take it out of routing.
	unhealthyAfter = 2
	// portAttempts is how often a replica is started on a new port when it
	// exits with "address already in use" (see reservePort).
	portAttempts = 3
)

// timings are the supervision intervals; a field of Manager so tests can
// shorten them.
type timings struct {
	healthPoll  time.Duration // between checks while a replica starts
	healthEvery time.Duration // between checks while it runs
	backoffMin  time.Duration // before the first restart, doubling per consecutive failure
	backoffMax  time.Duration
	// stableRun is how long a restarted replica must stay up for its crash
	// count to start over: a server that crashes every few seconds is in a
	// crash loop even if each run passes a health check.
	stableRun   time.Duration
	maxFailures int // consecutive crashes or failed restarts before giving up
}

var defaultTimings = timings{
	healthPoll:  100 * time.Millisecond,
	healthEvery: 2 * time.Second,
	backoffMin:  time.Second,
	backoffMax:  30 * time.Second,
	stableRun:   30 * time.Second,
	maxFailures: 5,
}

// Spec says how to serve one model version locally.
type Spec struct {
	// Command is the argv; Command[0] is resolved with the PATH of Env, and a
	// relative path containing "/" against Dir.
	Command []string
	// Env is the whole base environment (PATH, HOME...): nothing is inherited
	// from the server. Each replica also gets PORT, MLOPS_ARTIFACT_URI,
	// MLOPS_MODEL and MLOPS_MODEL_VERSION, which win over entries of Env.
	Env map[string]string
	// Replicas is the number of processes, at least 1.
	Replicas int
	// HealthPath is requested with GET on each replica, which must answer
	// 2xx (redirects are not followed); DefaultHealthPath when empty.
	HealthPath  string
	ArtifactURI string
	Model       string
	Version     int64
	// Dir is the working directory, created if missing. Replica i appends its
	// stdout and stderr to Dir/replica-<i>.log, rotated to replica-<i>.log.1
	// at 4 MiB. Versions served at the same time need distinct Dirs.
	Dir string
	// StartTimeout is how long a replica may take to become healthy;
	// DefaultStartTimeout when 0.
	StartTimeout time.Duration
}

// Replica is the state of one replica at the time it was read.
type Replica struct {
	URL      *url.URL // http://127.0.0.1:<port>; nil before the first start
	PID      int      // 0 while no process runs
	Healthy  bool
	Restarts int // processes started after a crash
	// Error says why the replica is down for good: it kept crashing and
	// supervision gave up. A later Start relaunches it.
	Error string
}

// Manager runs the replicas of any number of model versions. Its methods are
// safe for concurrent use.
type Manager struct {
	// Grace is how long a stopped replica's process group gets between
	// SIGTERM and SIGKILL; 0 means DefaultGrace. Set it before the first Start.
	Grace time.Duration

	log    *slog.Logger
	client *http.Client
	t      timings

	mu     sync.Mutex
	deps   map[depKey]*deployment
	ports  map[int]*replica // ports handed to replicas, so two never get the same one
	closed bool
}

type depKey struct {
	key     string
	version int64
}

// deployment is the replicas of one key+version.
type deployment struct {
	depKey
	spec Spec   // normalized
	path string // resolved Command[0]

	ctx    context.Context // cancelled when the deployment is stopped
	cancel context.CancelFunc
	wg     sync.WaitGroup // the launch, then one supervisor per replica
	ready  chan struct{}  // closed when the launch is over
	// Set before ready is closed: why the launch failed, and whether it was
	// interrupted (its caller gave up, or it was stopped) rather than failed.
	err     error
	aborted bool

	replicas []*replica
	cleanup  sync.Once
}

// replica is one slot of a deployment. The fields below log are guarded by
// Manager.mu and written only by the goroutine launching or supervising it.
type replica struct {
	index int
	log   *logFile // set by the launch, closed once the deployment is finished

	port      int
	pid       int
	healthy   bool
	restarts  int
	failedWhy string
}

// NewManager returns a Manager that logs replica crashes and restarts to
// logger (nil discards them).
func NewManager(logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		log: logger,
		client: &http.Client{
			Timeout: healthTimeout,
			// No proxy from the environment, and no kept-alive connections to
			// processes that may be gone by the next check.
			Transport: &http.Transport{DisableKeepAlives: true},
			// A redirect is not a 2xx answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		t:     defaultTimings,
		deps:  map[depKey]*deployment{},
		ports: map[int]*replica{},
	}
}

// Start launches the replicas of key+spec.Version, each on a free 127.0.0.1
// port, and waits until all of them are healthy. If one exits first, or is not
// healthy within StartTimeout, it stops them all and returns an error quoting
// the end of that replica's log. It is idempotent: replicas already running
// with an equal Spec are kept and their current state returned (one may be
// between a crash and its restart); a Start during their launch waits for it.
// A different Spec replaces them, and replicas that supervision gave up on are
// launched again. ctx bounds only the wait: the replicas run until Stop.
func (m *Manager) Start(ctx context.Context, key string, spec Spec) ([]Replica, error) {
	spec, path, err := normalize(spec)
	if err != nil {
		return nil, fmt.Errorf("serving %s version %d: %w", key, spec.Version, err)
	}
	k := depKey{key, spec.Version}
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		d := m.deps[k]
		if d == nil {
			d = newDeployment(k, spec, path)
			m.deps[k] = d
			m.mu.Unlock()
			return m.launch(ctx, d)
		}
		m.mu.Unlock()

		if !equalSpec(d.spec, spec) {
			m.retire(d)
			continue
		}
		select {
		case <-d.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("serving %s version %d: %w", key, spec.Version, context.Cause(ctx))
		}
		switch {
		case d.aborted:
			continue // not this caller's failure: launch again
		case d.err != nil:
			return nil, d.err
		case m.gaveUp(d):
			m.retire(d)
			continue
		}
		m.mu.Lock()
		reps := d.snapshot()
		current := m.deps[k] == d
		m.mu.Unlock()
		if current {
			return reps, nil
		}
		// Stopped between the launch and now.
	}
}

// Replicas reports the current replicas of key+version, nil if none.
func (m *Manager) Replicas(key string, version int64) []Replica {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.deps[depKey{key, version}]
	if d == nil {
		return nil
	}
	return d.snapshot()
}

// Stop stops the replicas of key+version: SIGTERM to each process group,
// SIGKILL after the grace period. It returns once the processes are gone, and
// is a no-op for a version not running. The error is always nil for local
// processes; it is there for runtimes whose stop can fail.
func (m *Manager) Stop(key string, version int64) error {
	m.mu.Lock()
	d := m.deps[depKey{key, version}]
	m.mu.Unlock()
	if d != nil {
		m.retire(d)
	}
	return nil
}

// StopAll stops every replica, concurrently, and makes later Starts fail with
// ErrClosed (server shutdown).
func (m *Manager) StopAll() {
	m.mu.Lock()
	m.closed = true
	ds := slices.Collect(maps.Values(m.deps))
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { m.retire(d) })
	}
	wg.Wait()
}

func (m *Manager) grace() time.Duration {
	if m.Grace > 0 {
		return m.Grace
	}
	return DefaultGrace
}

func newDeployment(k depKey, spec Spec, path string) *deployment {
	ctx, cancel := context.WithCancel(context.Background())
	d := &deployment{depKey: k, spec: spec, path: path, ctx: ctx, cancel: cancel, ready: make(chan struct{})}
	for i := range spec.Replicas {
		d.replicas = append(d.replicas, &replica{index: i})
	}
	d.wg.Add(1) // the launch
	return d
}

// snapshot copies the replicas' state; m.mu must be held.
func (d *deployment) snapshot() []Replica {
	out := make([]Replica, len(d.replicas))
	for i, r := range d.replicas {
		out[i] = Replica{PID: r.pid, Healthy: r.healthy, Restarts: r.restarts, Error: r.failedWhy}
		if r.port != 0 {
			out[i].URL = &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))}
		}
	}
	return out
}

func (m *Manager) gaveUp(d *deployment) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(d.replicas, func(r *replica) bool { return r.failedWhy != "" })
}

// retire removes d from the manager, stops its processes and waits for them.
func (m *Manager) retire(d *deployment) {
	m.mu.Lock()
	if m.deps[d.depKey] == d {
		delete(m.deps, d.depKey)
	}
	m.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	m.finish(d)
	m.log.Info("model version stopped", "key", d.key, "version", d.version)
}

// finish releases what d held once none of its goroutines runs any more.
func (m *Manager) finish(d *deployment) {
	d.cleanup.Do(func() {
		m.mu.Lock()
		for _, r := range d.replicas {
			if m.ports[r.port] == r {
				delete(m.ports, r.port)
			}
			r.pid, r.healthy = 0, false
		}
		m.mu.Unlock()
		for _, r := range d.replicas {
			if r.log != nil {
				r.log.Close()
			}
		}
	})
}

// launch starts d's replicas and hands each to a supervisor. On failure it
// removes d, so the next Start tries afresh.
func (m *Manager) launch(ctx context.Context, d *deployment) ([]Replica, error) {
	err := m.launchReplicas(ctx, d)
	if err == nil {
		m.log.Info("model version serving", "key", d.key, "version", d.version, "replicas", len(d.replicas))
		m.mu.Lock()
		reps := d.snapshot()
		m.mu.Unlock()
		close(d.ready)
		d.wg.Done()
		return reps, nil
	}
	err = fmt.Errorf("serving %s version %d: %w", d.key, d.version, err)
	m.mu.Lock()
	if m.deps[d.depKey] == d {
		delete(m.deps, d.depKey)
	}
	m.mu.Unlock()
	d.aborted = ctx.Err() != nil || d.ctx.Err() != nil
	d.err = err
	d.cancel()
	close(d.ready)
	d.wg.Done()
	m.finish(d)
	return nil, err
}

func (m *Manager) launchReplicas(ctx context.Context, d *deployment) error {
	if err := os.MkdirAll(d.spec.Dir, 0o755); err != nil {
		return err
	}
	for _, r := range d.replicas {
		var err error
		if r.log, err = openLog(filepath.Join(d.spec.Dir, fmt.Sprintf("replica-%d.log", r.index)), maxLogSize); err != nil {
			return err
		}
	}

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.ctx, cancel)()
	procs := make([]*proc, len(d.replicas))
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i, r := range d.replicas {
		wg.Go(func() {
			p, err := m.startReplica(lctx, d, r)
			if err != nil {
				// One broken replica fails the launch: the others need not
				// finish starting. Only the first error is genuine; the ones
				// after it are the cancellation.
				once.Do(func() { first = fmt.Errorf("replica %d: %w", r.index, err) })
				cancel()
				return
			}
			procs[i] = p
		})
	}
	wg.Wait()

	switch {
	case d.ctx.Err() != nil:
		first = errStopped
	case ctx.Err() != nil:
		first = context.Cause(ctx)
	}
	if first != nil {
		var stops sync.WaitGroup
		for i, p := range procs {
			if p != nil {
				stops.Go(func() {
					terminate(p, m.grace())
					m.setDown(d.replicas[i])
				})
			}
		}
		stops.Wait()
		return first
	}
	d.wg.Add(len(procs))
	for i, p := range procs {
		go m.supervise(d, d.replicas[i], p)
	}
	return nil
}

// startReplica starts r's command and waits until it is healthy. A replica
// that exits with "address already in use" lost the race for its port (see
// reservePort) and is started again on another one.
func (m *Manager) startReplica(ctx context.Context, d *deployment, r *replica) (*proc, error) {
	for attempt := 1; ; attempt++ {
		port, err := m.reservePort(r, attempt == 1)
		if err != nil {
			return nil, err
		}
		env, err := envList(d.replicaEnv(port))
		if err != nil {
			return nil, err
		}
		p, err := spawn(d.path, d.spec.Command, env, d.spec.Dir, port, r.log)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		r.pid = p.pid
		m.mu.Unlock()

		err = m.awaitHealthy(ctx, d, p)
		if err == nil {
			m.mu.Lock()
			r.healthy = true
			m.mu.Unlock()
			return p, nil
		}
		exited := p.done()
		terminate(p, m.grace())
		m.setDown(r)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		out := p.tail.String()
		if exited && attempt < portAttempts && addrInUse(out) {
			m.log.Warn("replica lost its port to another process, starting it on another one",
				"key", d.key, "version", d.version, "replica", r.index, "port", port)
			continue
		}
		if out == "" {
			return nil, fmt.Errorf("%w (no output in %s)", err, r.log.path)
		}
		return nil, fmt.Errorf("%w; last output (%s):\n%s", err, r.log.path, indent(out))
	}
}

// awaitHealthy polls the health check until it answers 2xx, the process
// exits, StartTimeout passes or ctx ends.
func (m *Manager) awaitHealthy(ctx context.Context, d *deployment, p *proc) error {
	deadline := time.NewTimer(d.spec.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(m.t.healthPoll)
	defer tick.Stop()
	u := healthURL(p.port, d.spec.HealthPath)
	for {
		last := m.probe(ctx, u)
		if last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s before answering GET %s", p.exitReason(), d.spec.HealthPath)
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-deadline.C:
			return fmt.Errorf("not healthy within %s: %w", d.spec.StartTimeout, last)
		case <-tick.C:
		}
	}
}

// supervise watches a running replica until d is stopped: it tracks its
// health and restarts it, with exponential backoff, when it exits. After
// maxFailures consecutive crashes or failed restarts it leaves it down.
func (m *Manager) supervise(d *deployment, r *replica, p *proc) {
	defer d.wg.Done()
	failures := 0
	for {
		up := time.Now()
		m.watch(d, r, p)
		if d.ctx.Err() != nil {
			terminate(p, m.grace())
			m.setDown(r)
			return
		}
		m.setDown(r)
		if time.Since(up) >= m.t.stableRun {
			failures = 0
		}
		failures++
		m.log.Warn("replica exited", "key", d.key, "version", d.version, "replica", r.index, "pid", p.pid,
			"reason", p.exitReason(), "consecutive_failures", failures, "output", p.tail.String())

		for {
			if failures >= m.t.maxFailures {
				why := fmt.Sprintf("gave up after %d consecutive failures; see %s", failures, r.log.path)
				m.mu.Lock()
				r.failedWhy = why
				m.mu.Unlock()
				m.log.Error("replica keeps failing, leaving it down", "key", d.key, "version", d.version, "replica", r.index, "failures", failures)
				return
			}
			if !sleep(d.ctx, m.backoff(failures)) {
				return
			}
			m.mu.Lock()
			r.restarts++
			m.mu.Unlock()
			np, err := m.startReplica(d.ctx, d, r)
			if err == nil {
				p = np
				m.log.Info("replica restarted", "key", d.key, "version", d.version, "replica", r.index, "pid", p.pid)
				break
			}
			if d.ctx.Err() != nil {
				return
			}
			failures++
			m.log.Warn("replica restart failed", "key", d.key, "version", d.version, "replica", r.index,
				"consecutive_failures", failures, "error", err)
		}
	}
}

// watch checks a running replica's health until it exits or d is stopped.
// A replica that stops answering is only marked unhealthy, not restarted: it
// may be busy, and killing a loaded server makes the load worse.
func (m *Manager) watch(d *deployment, r *replica, p *proc) {
	tick := time.NewTicker(m.t.healthEvery)
	defer tick.Stop()
	u := healthURL(p.port, d.spec.HealthPath)
	failed := 0
	for {
		select {
		case <-p.exited:
			return
		case <-d.ctx.Done():
			return
		case <-tick.C:
		}
		if err := m.probe(d.ctx, u); err != nil {
			failed++
		} else {
			failed = 0
		}
		healthy := failed < unhealthyAfter
		m.mu.Lock()
		changed := r.healthy != healthy
		r.healthy = healthy
		m.mu.Unlock()
		if changed && !p.done() {
			m.log.Info("replica health changed", "key", d.key, "version", d.version, "replica", r.index, "healthy", healthy)
		}
	}
}

func (m *Manager) setDown(r *replica) {
	m.mu.Lock()
	r.pid, r.healthy = 0, false
	m.mu.Unlock()
}

func (m *Manager) backoff(failures int) time.Duration {
	b := m.t.backoffMin
	for i := 1; i < failures && b < m.t.backoffMax; i++ {
		b *= 2
	}
	return min(b, m.t.backoffMax)
}

// probe does one health check.
func (m *Manager) probe(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// reservePort picks the loopback port for r's next process. It prefers r's
// previous port, so a restarted replica keeps its URL. A port is known free
// only when it is probed (listen, then close): another process can take it
// before the replica binds it. The replica then exits with "address already in
// use" and startReplica moves it to another port. Ports held by this manager's
// replicas are never handed out twice, so its own replicas do not collide.
func (m *Manager) reservePort(r *replica, preferOld bool) (int, error) {
	m.mu.Lock()
	old := r.port
	m.mu.Unlock()
	if preferOld && old != 0 && portFree(old) {
		return old, nil
	}
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		m.mu.Lock()
		if m.ports[port] == nil {
			if m.ports[old] == r {
				delete(m.ports, old)
			}
			m.ports[port], r.port = r, port
			m.mu.Unlock()
			return port, nil
		}
		m.mu.Unlock()
	}
	return 0, errors.New("finding a free port: every port offered is already given to a replica")
}

func portFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// addrInUse recognizes a failed bind in a server's output, whatever its
// language: Go, Python, Node and the JVM all print some form of it.
func addrInUse(out string) bool {
	out = strings.ToLower(out)
	return strings.Contains(out, "address already in use") || strings.Contains(out, "eaddrinuse")
}

// replicaEnv is the environment of a replica on port.
func (d *deployment) replicaEnv(port int) map[string]string {
	env := maps.Clone(d.spec.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["PORT"] = strconv.Itoa(port)
	env["MLOPS_ARTIFACT_URI"] = d.spec.ArtifactURI
	env["MLOPS_MODEL"] = d.spec.Model
	env["MLOPS_MODEL_VERSION"] = strconv.FormatInt(d.spec.Version, 10)
	return env
}

func healthURL(port int, path string) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + path
}

// normalize checks s, fills in its defaults and resolves its command. The
// copy it returns shares nothing with the caller's, who may reuse its maps.
func normalize(s Spec) (Spec, string, error) {
	switch {
	case len(s.Command) == 0 || s.Command[0] == "":
		return s, "", errors.New("spec has no command")
	case s.Replicas < 1:
		return s, "", fmt.Errorf("replicas must be at least 1, got %d", s.Replicas)
	case s.Dir == "":
		return s, "", errors.New("spec has no working directory")
	case s.HealthPath != "" && !strings.HasPrefix(s.HealthPath, "/"):
		return s, "", fmt.Errorf("health path %q does not start with /", s.HealthPath)
	case s.StartTimeout < 0:
		return s, "", fmt.Errorf("start timeout must not be negative, got %s", s.StartTimeout)
	}
	if s.HealthPath == "" {
		s.HealthPath = DefaultHealthPath
	}
	if s.StartTimeout == 0 {
		s.StartTimeout = DefaultStartTimeout
	}
	if _, err := url.ParseRequestURI(s.HealthPath); err != nil {
		return s, "", fmt.Errorf("health path %q: %w", s.HealthPath, err)
	}
	if _, err := envList(s.Env); err != nil {
		return s, "", err
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return s, "", err
	}
	s.Dir = dir
	s.Command = slices.Clone(s.Command)
	s.Env = maps.Clone(s.Env)
	path, err := lookPath(s.Command[0], s.Env["PATH"], s.Dir)
	if err != nil {
		return s, "", err
	}
	return s, path, nil
}

func equalSpec(a, b Spec) bool {
	return slices.Equal(a.Command, b.Command) && maps.Equal(a.Env, b.Env) &&
		a.Replicas == b.Replicas && a.HealthPath == b.HealthPath && a.ArtifactURI == b.ArtifactURI &&
		a.Model == b.Model && a.Version == b.Version && a.Dir == b.Dir && a.StartTimeout == b.StartTimeout
}

// sleep waits for d unless ctx ends first; it reports whether it slept.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
