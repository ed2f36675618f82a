package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const key = "p/d"

// newGateway makes a gateway with a seeded random source and fast health checks.
func newGateway(t *testing.T, reg prometheus.Registerer) *Gateway {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	g := New(reg, Options{
		HealthInterval: 20 * time.Millisecond,
		Rand: func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return rnd.Float64()
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	t.Cleanup(g.Close)
	return g
}

// newBackend starts a loopback backend answering "ok" and /healthz with 200.
func newBackend(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// serve sends one request through g.Serve.
func serve(g *Gateway, k, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	g.Serve(w, httptest.NewRequest(http.MethodPost, "/v1/projects/p/deployments/d"+path, strings.NewReader(`{"x":1}`)), k, path)
	return w
}

// shares sends n requests and counts the answering versions by status
// code and version header, e.g. "200 v1".
func shares(t *testing.T, g *Gateway, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		w := serve(g, key, "/predict")
		got[http.StatusText(w.Code)+" v"+w.Header().Get(VersionHeader)]++
	}
	return got
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) api.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWeightedRouting(t *testing.T) {
	v1, v2 := newBackend(t, nil), newBackend(t, nil)
	backends := []Backend{{1, mustURL(t, v1.URL)}, {2, mustURL(t, v2.URL)}}
	for _, tc := range []struct {
		name      string
		weights   map[int64]int
		backends  []Backend
		n         int
		v1, v2    float64 // expected share
		tolerance float64
	}{
		{"90/10", map[int64]int{1: 90, 2: 10}, backends, 5000, 0.9, 0.1, 0.03},
		{"0/100", map[int64]int{1: 0, 2: 100}, backends, 500, 0, 1, 0},
		{"weight absent", map[int64]int{2: 100}, backends, 500, 0, 1, 0},
		{"one version only", map[int64]int{1: 100}, backends[:1], 500, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, nil)
			g.Set(key, Route{Weights: tc.weights, Backends: tc.backends})
			n := tc.n
			got := shares(t, g, n)
			if got["OK v1"]+got["OK v2"] != n {
				t.Fatalf("answers = %v, want %d OKs", got, n)
			}
			for v, want := range map[string]float64{"OK v1": tc.v1, "OK v2": tc.v2} {
				if share := float64(got[v]) / float64(n); share < want-tc.tolerance || share > want+tc.tolerance {
					t.Errorf("%s share = %.3f, want %.2f ± %.2f", v, share, want, tc.tolerance)
				}
			}
		})
	}
}

func TestReplicasShareTraffic(t *testing.T) {
	var hits [2]atomic.Int64
	a := newBackend(t, func(w http.ResponseWriter, r *http.Request) { hits[0].Add(1) })
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { hits[1].Add(1) })
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, a.URL)}, {1, mustURL(t, b.URL)}}})
	shares(t, g, 100)
	if hits[0].Load() != 50 || hits[1].Load() != 50 {
		t.Errorf("hits = %d/%d, want 50/50 (one request at a time alternates)", hits[0].Load(), hits[1].Load())
	}
}

func TestHealthCheckExcludesAndReadmits(t *testing.T) {
	var up atomic.Bool
	sick := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && !up.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	fine := newBackend(t, nil)
	g := newGateway(t, nil)
	g.Set(key, Route{
		Weights:    map[int64]int{1: 50, 2: 50},
		Backends:   []Backend{{1, mustURL(t, sick.URL)}, {2, mustURL(t, fine.URL)}},
		HealthPath: "/healthz",
	})
	eventually(t, "the healthy backend passes its first check", func() bool { return g.Health(key)[fine.URL] })
	if got := shares(t, g, 200); got["OK v2"] != 200 {
		t.Fatalf("with v1 unhealthy: answers = %v, want all from v2", got)
	}

	up.Store(true)
	eventually(t, "v1 recovers", func() bool { return g.Health(key)[sick.URL] })
	if got := shares(t, g, 200); got["OK v1"] < 60 || got["OK v2"] < 60 {
		t.Fatalf("with both healthy: answers = %v, want both versions near 100", got)
	}

	up.Store(false)
	eventually(t, "v1 fails its check again", func() bool { return !g.Health(key)[sick.URL] })
	if got := shares(t, g, 100); got["OK v2"] != 100 {
		t.Fatalf("with v1 unhealthy again: answers = %v, want all from v2", got)
	}
}

func TestConnectionFailureMarksBackendDown(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addr := dead.Listener.Addr().String()
	dead.Close()
	fine := newBackend(t, nil)
	g := newGateway(t, nil)
	g.Set(key, Route{ // no health path: both start healthy
		Weights:  map[int64]int{1: 50, 2: 50},
		Backends: []Backend{{1, mustURL(t, "http://"+addr)}, {2, mustURL(t, fine.URL)}},
	})

	var first *httptest.ResponseRecorder
	for range 50 {
		if w := serve(g, key, "/predict"); w.Code != http.StatusOK {
			first = w
			break
		}
	}
	if first == nil || first.Code != http.StatusBadGateway || first.Header().Get(VersionHeader) != "1" {
		t.Fatalf("want one 502 from v1 before the dead backend is marked down, got %+v", first)
	}
	if p := decodeProblem(t, first); p.Status != http.StatusBadGateway || strings.Contains(p.Detail, addr) {
		t.Errorf("problem = %+v, want a 502 that does not name the internal address", p)
	}
	if g.Health(key)["http://"+addr] {
		t.Error("dead backend still healthy after a refused connection")
	}
	if got := shares(t, g, 100); got["OK v2"] != 100 {
		t.Fatalf("answers = %v, want all from v2", got)
	}
	if st := g.Stats(key, 1, time.Time{}); st.Requests != 1 || st.Errors != 1 {
		t.Errorf("v1 stats = %+v, want the one failed request as an error", st)
	}

	// The backend comes back on the same address: the recovery check readmits it.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	back := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}}
	back.Start()
	defer back.Close()
	eventually(t, "the restarted backend is healthy", func() bool { return g.Health(key)["http://"+addr] })
	if got := shares(t, g, 200); got["OK v1"] < 60 {
		t.Fatalf("answers = %v, want v1 back in rotation", got)
	}
}

func TestStatsErrorRate(t *testing.T) {
	var n atomic.Int64
	half := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	})
	reg := prometheus.NewRegistry()
	g := newGateway(t, reg)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, half.URL)}}})
	start := time.Now()
	shares(t, g, 200)

	st := g.Stats(key, 1, start)
	if st.Requests != 200 || st.Errors != 100 || st.ErrorRate != 0.5 {
		t.Errorf("stats = %+v, want 200 requests, 100 errors, rate 0.5", st)
	}
	if st := g.Stats(key, 2, start); st != (Stats{}) {
		t.Errorf("stats of a version without traffic = %+v, want zero", st)
	}
	if st := g.Stats(key, 1, time.Now().Add(2*time.Second)); st.Requests != 0 {
		t.Errorf("stats since a later time = %+v, want none", st)
	}

	counts := map[string]float64{}
	var observed uint64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["deployment"] != key || labels["version"] != "1" {
				t.Errorf("%s has labels %v", mf.GetName(), labels)
			}
			switch mf.GetName() {
			case "mlops_gateway_requests_total":
				counts[labels["code"]] = m.GetCounter().GetValue()
			case "mlops_gateway_request_duration_seconds":
				observed = m.GetHistogram().GetSampleCount()
			}
		}
	}
	if counts["200"] != 100 || counts["500"] != 100 || observed != 200 {
		t.Errorf("metrics: requests by code %v, %d durations; want 100 each of 200 and 500, 200 durations", counts, observed)
	}

	g.Remove(key)
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Errorf("metric series left after Remove: %v", mfs)
	}
}

func TestStatsLatencyPercentiles(t *testing.T) {
	const slow = 50 * time.Millisecond
	var n atomic.Int64
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		// 2 % of requests are slow: with exactly 1 %, rank 990 of 1000 (the
		// p99) is the slowest fast request, right on the boundary.
		if n.Add(1)%50 == 0 {
			time.Sleep(slow)
		}
	})
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}})
	start := time.Now()
	var mu sync.Mutex
	var seen []time.Duration // by the caller of Serve: the truth the window approximates
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 125 {
				t0 := time.Now()
				serve(g, key, "/predict")
				d := time.Since(t0)
				mu.Lock()
				seen = append(seen, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(seen)

	st := g.Stats(key, 1, start)
	if st.Requests != 1000 || st.Errors != 0 {
		t.Fatalf("stats = %+v, want 1000 requests without errors", st)
	}
	// The window measures inside Serve, so its latency at a rank is at most
	// the caller's at that rank, plus the sketch's 3.1 %. The 20 slowest
	// (ranks 981-1000) slept 50ms, so p99 is at least that, less 3.1 %.
	// On a busy machine sleeping takes longer, so 50ms is no upper bound.
	p50, p99 := seen[499], seen[989]
	if st.P99 < slow*96/100 || st.P99 > p99*105/100 {
		t.Errorf("P99 = %v, want between %v and the caller's p99 %v + 5 %%", st.P99, slow*96/100, p99)
	}
	if st.P50 > p50*105/100 || st.P50 > slow/5 {
		t.Errorf("P50 = %v, want a fast request's latency, at most the caller's p50 %v + 5 %%", st.P50, p50)
	}
}

func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		_, _ = io.WriteString(w, "second\n")
	})
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Serve(w, r, key, strings.TrimPrefix(r.URL.Path, "/v1/projects/p/deployments/d"))
	}))
	defer front.Close()

	resp, err := http.Get(front.URL + "/v1/projects/p/deployments/d/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "first" {
			t.Fatalf("first line = %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first chunk did not arrive while the backend was still writing")
	}
	close(release)
	if l := <-lines; l != "second" {
		t.Fatalf("second line = %q", l)
	}
}

func TestBrokenResponseIsAnError(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.Serve(w, r, key, "/") }))
	defer front.Close()

	resp, err := http.Get(front.URL)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("client read a whole response from a backend that broke off")
	}
	eventually(t, "the request is recorded", func() bool { return g.Stats(key, 1, time.Time{}).Requests == 1 })
	if st := g.Stats(key, 1, time.Time{}); st.Errors != 1 {
		t.Errorf("stats = %+v, want the broken response counted as an error", st)
	}
}

func TestClientGoneIsNotABackendError(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	g.Serve(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodPost, "/predict", nil), key, "/predict")
	if st := g.Stats(key, 1, time.Time{}); st.Requests != 1 || st.Errors != 0 {
		t.Errorf("stats = %+v, want 1 request, no error", st)
	}
	if !g.Health(key)[b.URL] {
		t.Error("backend marked unhealthy because a client left")
	}
}

func TestProxiedRequest(t *testing.T) {
	var got *http.Request
	var body string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		bs, _ := io.ReadAll(r.Body)
		body = string(bs)
		w.Header().Set(VersionHeader, "forged")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"y":2}`)
	})
	g := newGateway(t, nil)
	base := mustURL(t, b.URL+"/base/")
	base.User = url.UserPassword("svc", "pw") // the backend's own credentials
	g.Set(key, Route{Weights: map[int64]int{7: 100}, Backends: []Backend{{7, base}}})

	r := httptest.NewRequest(http.MethodPost, "/v1/projects/p/deployments/d/predict?explain=true", strings.NewReader(`{"x":1}`))
	r.Header.Set("Authorization", "Bearer mlopsd-token")
	r.Header.Set("X-Forwarded-For", "203.0.113.9") // forged by the client
	r.Header.Set("X-Request-Id", "abc")
	w := httptest.NewRecorder()
	g.Serve(w, r, key, "/predict")

	if w.Code != http.StatusOK || w.Body.String() != `{"y":2}` {
		t.Fatalf("response = %d %q", w.Code, w.Body.String())
	}
	if v := w.Header().Values(VersionHeader); len(v) != 1 || v[0] != "7" {
		t.Errorf("%s = %q, want just 7", VersionHeader, v)
	}
	if got.URL.Path != "/base/predict" || got.URL.RawQuery != "explain=true" || body != `{"x":1}` {
		t.Errorf("backend got %s ?%s body %q, want /base/predict ?explain=true body {\"x\":1}", got.URL.Path, got.URL.RawQuery, body)
	}
	if user, pw, _ := got.BasicAuth(); user != "svc" || pw != "pw" {
		t.Errorf("backend got Authorization %q, want the basic auth of its URL, never the mlopsd token", got.Header.Get("Authorization"))
	}
	if h := g.Health(key); !h[base.Redacted()] || strings.Contains(base.Redacted(), "pw") {
		t.Errorf("health = %v, want the backend under its redacted URL", h)
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "192.0.2.1" { // httptest.NewRequest's RemoteAddr
		t.Errorf("X-Forwarded-For = %q, want the client address only", xff)
	}
	if got.Header.Get("X-Request-Id") != "abc" || got.Host != mustURL(t, b.URL).Host {
		t.Errorf("backend got X-Request-Id %q, Host %q", got.Header.Get("X-Request-Id"), got.Host)
	}
}

// A client must not be able to take a backend out of service, or count
// errors against a version, with a request the proxy refuses to send.
func TestBadUpgradeIsTheClientsFault(t *testing.T) {
	b := newBackend(t, nil)
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}})
	r := httptest.NewRequest(http.MethodGet, "/predict", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "\x01")
	w := httptest.NewRecorder()
	g.Serve(w, r, key, "/predict")
	if p := decodeProblem(t, w); w.Code != http.StatusBadRequest {
		t.Errorf("got %d %+v, want 400", w.Code, p)
	}
	if !g.Health(key)[b.URL] {
		t.Error("backend marked unhealthy by a client's bad request")
	}
	if st := g.Stats(key, 1, time.Time{}); st.Errors != 0 {
		t.Errorf("stats = %+v, want no error", st)
	}
}

func TestUnknownDeployment(t *testing.T) {
	g := newGateway(t, nil)
	w := serve(g, "p/nope", "/predict")
	if p := decodeProblem(t, w); w.Code != http.StatusNotFound || p.Status != http.StatusNotFound || p.Detail != "deployment p/nope not found" {
		t.Errorf("got %d %+v", w.Code, p)
	}
}

func TestNoHealthyBackend(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}, HealthPath: "/healthz"})
	for range 2 { // before the first check, and after a few failed ones
		w := serve(g, key, "/predict")
		want := `{"title":"Service Unavailable","status":503,"detail":"deployment p/d has no healthy backend"}`
		if w.Code != http.StatusServiceUnavailable || strings.TrimSpace(w.Body.String()) != want || w.Header().Get("Retry-After") == "" {
			t.Errorf("got %d %s (Retry-After %q), want 503 %s", w.Code, w.Body.String(), w.Header().Get("Retry-After"), want)
		}
		decodeProblem(t, w)
		time.Sleep(100 * time.Millisecond)
	}
}

// A request right after a route was set waits for the first health check
// instead of being refused while it is on the way.
func TestFirstRequestWaitsForFirstCheck(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}, HealthPath: "/healthz"})
	if w := serve(g, key, "/predict"); w.Code != http.StatusOK {
		t.Errorf("first request: %d %s, want 200 once the first check passed", w.Code, w.Body.String())
	}
}

func TestSetAndRemove(t *testing.T) {
	var checks atomic.Int64
	healthz := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			checks.Add(1)
		}
	}
	v1, v2 := newBackend(t, healthz), newBackend(t, nil)
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, v1.URL)}}, HealthPath: "/healthz"})
	eventually(t, "v1 is healthy", func() bool { return g.Health(key)[v1.URL] })
	if got := shares(t, g, 10); got["OK v1"] != 10 {
		t.Fatalf("answers = %v, want v1", got)
	}

	// Promote v2 and drop v1: v2 takes traffic once checked, v1's checker stops.
	g.Set(key, Route{Weights: map[int64]int{2: 100}, Backends: []Backend{{2, mustURL(t, v2.URL)}}, HealthPath: "/healthz"})
	if h := g.Health(key); len(h) != 1 {
		t.Errorf("health = %v, want only v2's backend", h)
	}
	eventually(t, "v2 is healthy", func() bool { return g.Health(key)[v2.URL] })
	if got := shares(t, g, 10); got["OK v2"] != 10 {
		t.Fatalf("answers = %v, want v2", got)
	}
	stopped := checks.Load()
	time.Sleep(100 * time.Millisecond)
	if checks.Load() != stopped {
		t.Error("the removed backend is still being checked")
	}
	if st := g.Stats(key, 1, time.Time{}); st.Requests != 10 {
		t.Errorf("stats of the replaced version = %+v, want kept for the controller", st)
	}

	g.Remove(key)
	if w := serve(g, key, "/predict"); w.Code != http.StatusNotFound {
		t.Errorf("after Remove: %d, want 404", w.Code)
	}
	if h := g.Health(key); h != nil {
		t.Errorf("health after Remove = %v", h)
	}
	if st := g.Stats(key, 2, time.Time{}); st != (Stats{}) {
		t.Errorf("stats after Remove = %+v", st)
	}
}

// TestConcurrentSetAndServe is for the race detector: routes change while requests flow.
func TestConcurrentSetAndServe(t *testing.T) {
	v1, v2 := newBackend(t, nil), newBackend(t, nil)
	backends := []Backend{{1, mustURL(t, v1.URL)}, {2, mustURL(t, v2.URL)}}
	g := newGateway(t, prometheus.NewRegistry())
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: backends, HealthPath: "/healthz"})
	eventually(t, "both healthy", func() bool { h := g.Health(key); return h[v1.URL] && h[v2.URL] })

	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if w := serve(g, key, "/predict"); w.Code != http.StatusOK {
					t.Errorf("status %d: %s", w.Code, w.Body.String())
					return
				}
				g.Stats(key, 1, time.Time{})
				g.Health(key)
			}
		})
	}
	for i := range 200 {
		g.Set(key, Route{Weights: map[int64]int{1: 100 - i%101, 2: i % 101}, Backends: backends, HealthPath: "/healthz"})
		time.Sleep(time.Millisecond)
	}
	close(done)
	wg.Wait()
}

// A backend may answer before it has read the whole request (a model server
// streaming tokens while the prompt still uploads). The gateway must pass
// the answer on and keep sending the request body: by default Go's server
// discards and closes an unread request body once the response starts,
// which stalls the answer until the client sent everything, or makes the
// proxy's transport drop the backend connection mid-response.
func TestAnswerBeforeWholeRequestBody(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			t.Error(err)
		}
		if _, err := io.ReadFull(r.Body, make([]byte, 1024)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d more, %v\n", n, err)
	})
	g := newGateway(t, nil)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(t, b.URL)}}})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.Serve(w, r, key, "/") }))
	defer front.Close()

	const rest = 100 << 10
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, front.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1024 + rest
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(answered)
			return
		}
		answered <- resp
	}()
	if _, err := pw.Write(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	select {
	case resp = <-answered:
	case <-time.After(5 * time.Second):
		pw.CloseWithError(errors.New("gave up"))
		t.Fatal("the gateway held the backend's answer until the whole request had arrived")
	}
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if _, err := pw.Write(make([]byte, rest)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	got, err := io.ReadAll(resp.Body)
	if want := fmt.Sprintf("first\nread %d more, <nil>\n", rest); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	eventually(t, "the request is recorded", func() bool { return g.Stats(key, 1, time.Time{}).Requests == 1 })
	if st := g.Stats(key, 1, time.Time{}); st.Errors != 0 {
		t.Errorf("stats = %+v, want no error", st)
	}
}
