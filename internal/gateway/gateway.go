// Package gateway routes the traffic of model deployments to the serving
// backends of their model versions by traffic weight (canary rollouts),
// checks the backends' health, and keeps per-version request statistics
// that the rollout controller reads to promote or roll back a canary.
package gateway

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// VersionHeader names the model version that answered, on every proxied response.
const VersionHeader = "X-Mlops-Version"

// Backend is one serving endpoint of one model version.
type Backend struct {
	Version int64
	// URL is the base URL, e.g. http://127.0.0.1:41234; its path prefixes the
	// proxied path, and a user:password in it is sent as basic auth.
	URL *url.URL
}

// Route is how one deployment's traffic is split.
type Route struct {
	// Weights per version, in percent. They are used relative to their sum,
	// so the share of versions that stay healthy grows when one has no
	// healthy backend. A version absent or at 0 gets no traffic.
	Weights map[int64]int
	// Backends of all versions; several for one version are replicas, and
	// each request goes to the healthy replica with the fewest requests in
	// flight (round-robin among equals).
	Backends []Backend
	// HealthPath is checked with a GET every Options.HealthInterval, e.g.
	// "/healthz"; "" means no active check: backends count as healthy until
	// a request to one fails to connect.
	HealthPath string
	// Sample is the fraction (0 to 1) of requests whose body is handed to
	// Options.Record once the backend answered without error.
	Sample float64
}

// Options tune a Gateway; the zero value is usable.
type Options struct {
	// HealthInterval is the time between two checks of a backend (default 2s).
	HealthInterval time.Duration
	// HealthTimeout bounds one check (default 1s). Checks of one backend
	// never overlap: a slow one delays the next.
	HealthTimeout time.Duration
	// Transport carries proxied requests and health checks. nil means one
	// transport shared by all deployments that keeps many idle connections
	// per backend, so requests reuse connections instead of dialing.
	Transport http.RoundTripper
	// Rand returns a number in [0, 1) for the weighted choice and must be
	// safe for concurrent use; nil means math/rand/v2. Tests seed it.
	Rand func() float64
	// Window is how far back Stats can look (default 5m).
	Window time.Duration
	// Logger receives health changes and proxy errors; nil means slog.Default().
	Logger *slog.Logger
	// Record receives the sampled request bodies (at most MaxRecordBytes;
	// larger ones are skipped) of requests answered below 500. It runs on the
	// request's goroutine after the response was sent, so it must not block.
	Record func(key string, version int64, body []byte)
}

// MaxRecordBytes bounds a recorded request body; sampling never buffers more.
const MaxRecordBytes = 256 << 10

// Gateway proxies requests to deployments' backends. Its methods are safe
// for concurrent use; Serve takes no lock shared with other requests.
type Gateway struct {
	opts    Options
	log     *slog.Logger
	proxy   *httputil.ReverseProxy
	health  *http.Client
	metrics metrics
	// owned is the transport New made, closed by Close; nil when the caller gave one.
	owned *http.Transport

	// routes is replaced as a whole (copy on write), so Serve reads it without locking.
	routes atomic.Pointer[map[string]*route]

	mu      sync.Mutex // serializes Set, Remove and Close; guards windows and closed
	windows map[series]*window
	closed  bool
	checks  sync.WaitGroup
}

// series names the statistics of one version of one deployment.
type series struct {
	key     string
	version int64
}

// route is the immutable form of a Route that Serve reads.
type route struct {
	weighted []*version          // versions with weight > 0, by version number
	backends map[string]*backend // by redacted URL
	sample   float64
}

type version struct {
	num      int64
	label    string
	weight   int
	backends []*backend
	next     atomic.Uint32 // round-robin start among replicas
	window   *window
	requests *prometheus.CounterVec // curried with deployment and version
	duration prometheus.Observer
}

type backend struct {
	url      *url.URL
	name     string
	healthy  atomic.Bool
	inflight atomic.Int64
	// probed is closed once the first health check has answered (or at
	// once without a check): until then a backend is neither up nor down.
	probed    chan struct{}
	probeOnce sync.Once
	// stop and path belong to the running health checker; guarded by Gateway.mu.
	stop context.CancelFunc
	path string
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New makes a Gateway and registers its metrics on reg (nil: not registered).
func New(reg prometheus.Registerer, opts Options) *Gateway {
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 2 * time.Second
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 5 * time.Minute
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	g := &Gateway{opts: opts, log: opts.Logger, windows: map[series]*window{}}
	if opts.Transport == nil {
		g.owned = newTransport()
		opts.Transport = g.owned
	}
	g.health = &http.Client{
		Transport: opts.Transport,
		// A health endpoint that redirects is misconfigured; judge its own answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
		Transport:      transport{opts.Transport},
		FlushInterval:  -1, // write every chunk as it comes: token streams must not wait for a buffer to fill
		BufferPool:     &bufferPool{},
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	g.metrics = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlops_gateway_requests_total",
			Help: "Requests proxied to deployments by deployment, model version and status code.",
		}, []string{"deployment", "version", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mlops_gateway_request_duration_seconds",
			Help:    "Duration of proxied requests, until the last byte of the response, by deployment and model version.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"deployment", "version"}),
	}
	if reg != nil {
		reg.MustRegister(g.metrics.requests, g.metrics.duration)
	}
	g.routes.Store(&map[string]*route{})
	return g
}

// newTransport keeps enough idle connections that a busy backend is not
// re-dialed on every request (the default keeps 2 per host).
func newTransport() *http.Transport {
	return &http.Transport{
		// Backends are internal addresses: never send them through an environment proxy.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		// Pass bodies through as the backend encoded them.
		DisableCompression: true,
	}
}

// Set atomically replaces the route of the deployment key ("project/name").
// Backends that stay (same URL) keep their health; new ones start a health
// checker, and those that went away have theirs stopped.
func (g *Gateway) Set(key string, r Route) {
	g.mu.Lock()
	defer g.mu.Unlock()
	routes := *g.routes.Load()
	old := routes[key]

	nr := &route{backends: map[string]*backend{}, sample: min(max(r.Sample, 0), 1)}
	byVersion := map[int64][]*backend{}
	for _, b := range r.Backends {
		if b.URL == nil {
			continue
		}
		name := b.URL.Redacted()
		be := nr.backends[name]
		if be == nil && old != nil {
			be = old.backends[name]
		}
		if be == nil {
			be = &backend{url: b.URL, name: name, probed: make(chan struct{})}
			// Without a check to wait for, a new backend is presumed up.
			be.healthy.Store(r.HealthPath == "")
			if r.HealthPath == "" {
				be.markProbed()
			}
		}
		nr.backends[name] = be
		if !slices.Contains(byVersion[b.Version], be) {
			byVersion[b.Version] = append(byVersion[b.Version], be)
		}
	}
	for num, bs := range byVersion {
		label := strconv.FormatInt(num, 10)
		// The window and metric series exist even at weight 0, so Stats of a
		// version just set to 0 keep answering.
		v := &version{
			num:      num,
			label:    label,
			weight:   max(r.Weights[num], 0),
			backends: bs,
			window:   g.window(series{key, num}),
			requests: g.metrics.requests.MustCurryWith(prometheus.Labels{"deployment": key, "version": label}),
			duration: g.metrics.duration.WithLabelValues(key, label),
		}
		if v.weight > 0 {
			nr.weighted = append(nr.weighted, v)
		}
	}
	slices.SortFunc(nr.weighted, func(a, b *version) int { return cmp.Compare(a.num, b.num) })

	if old != nil {
		for name, be := range old.backends {
			if nr.backends[name] == nil && be.stop != nil {
				be.stop()
			}
		}
	}
	for _, be := range nr.backends {
		if be.stop != nil && be.path == r.HealthPath {
			continue
		}
		if be.stop != nil {
			be.stop()
		}
		g.startCheck(key, be, r.HealthPath)
	}
	g.pruneWindows(key, byVersion)

	next := maps.Clone(routes)
	next[key] = nr
	g.routes.Store(&next)
}

func (b *backend) markProbed() { b.probeOnce.Do(func() { close(b.probed) }) }

// awaitFirstProbe waits until a backend of r that was never probed has been,
// at most timeout; it says whether there was one to wait for. A request that
// arrives right after a route was set (a new deployment, a replica that just
// took it up) is thus served rather than refused while its first check is on
// the way.
func (r *route) awaitFirstProbe(ctx context.Context, timeout time.Duration) bool {
	for _, b := range r.backends {
		select {
		case <-b.probed:
			continue
		default:
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-b.probed:
		case <-t.C:
		case <-ctx.Done():
		}
		return true
	}
	return false
}

// Remove forgets the deployment key: its traffic gets 404, its health
// checkers stop, and its statistics and metric series are dropped.
func (g *Gateway) Remove(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	routes := *g.routes.Load()
	old := routes[key]
	if old == nil {
		return
	}
	for _, be := range old.backends {
		if be.stop != nil {
			be.stop()
		}
	}
	for s := range g.windows {
		if s.key == key {
			delete(g.windows, s)
		}
	}
	g.metrics.requests.DeletePartialMatch(prometheus.Labels{"deployment": key})
	g.metrics.duration.DeletePartialMatch(prometheus.Labels{"deployment": key})
	next := maps.Clone(routes)
	delete(next, key)
	g.routes.Store(&next)
}

// Close stops the health checkers and waits for them. Serve keeps working
// with the health last seen; Set no longer starts checkers.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	for _, r := range *g.routes.Load() {
		for _, be := range r.backends {
			if be.stop != nil {
				be.stop()
			}
		}
	}
	g.mu.Unlock()
	g.checks.Wait()
	if g.owned != nil {
		g.owned.CloseIdleConnections()
	}
}

// Health reports each backend of key by URL (password redacted): true when
// it takes traffic.
// It is nil for an unknown key.
func (g *Gateway) Health(key string) map[string]bool {
	r := (*g.routes.Load())[key]
	if r == nil {
		return nil
	}
	h := make(map[string]bool, len(r.backends))
	for name, be := range r.backends {
		h[name] = be.healthy.Load()
	}
	return h
}

// Stats summarizes the requests that version of deployment key finished
// since the given time, at most Options.Window ago; see window for the
// precision. It is zero when nothing was recorded.
func (g *Gateway) Stats(key string, version int64, since time.Time) Stats {
	return g.Summary(key, version, since).Stats()
}

// Summary is Stats in a form that adds up across gateways.
func (g *Gateway) Summary(key string, version int64, since time.Time) Summary {
	g.mu.Lock()
	w := g.windows[series{key, version}]
	g.mu.Unlock()
	if w == nil {
		return Summary{}
	}
	return w.summary(time.Now(), since)
}

// window returns the statistics of s, created on first use. The caller holds g.mu.
func (g *Gateway) window(s series) *window {
	w := g.windows[s]
	if w == nil {
		w = newWindow(g.opts.Window)
		g.windows[s] = w
	}
	return w
}

// pruneWindows drops the statistics of versions of key that left the route
// and had no traffic for a whole window, so that rollout after rollout does
// not pile them up. Recent ones stay: the controller may still read them
// after a rollback. The caller holds g.mu.
func (g *Gateway) pruneWindows(key string, keep map[int64][]*backend) {
	now := time.Now()
	for s, w := range g.windows {
		if _, ok := keep[s.version]; s.key == key && !ok && w.idle(now) {
			delete(g.windows, s)
		}
	}
}
