package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitedServer is a server with a rate limit and no engine or gateway.
func limitedServer(t *testing.T, rl RateLimit, now func() time.Time) *Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, storetest.DatabaseURL(t), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	storetest.LimitConnections(st)
	s, err := New(ctx, Config{Store: st, Version: "test", RateLimit: rl, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// secret issues a token and returns its secret.
func secret(t *testing.T, s *Server, role, project string) string {
	t.Helper()
	tok, err := IssueToken(context.Background(), s.store, role, project, "rate limit test")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

// call sends a GET from addr with token ("" for none).
func call(s *Server, path, token, addr string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil)
	req.RemoteAddr = addr
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := limitedServer(t, RateLimit{PerSecond: 0.5, Burst: 2}, clock.now)
	alice, bob := secret(t, s, api.RoleAdmin, ""), secret(t, s, api.RoleViewer, "default")
	const addr = "192.0.2.1:1234"

	for i := range 2 {
		if rec := call(s, "/v1/projects", alice, addr); rec.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := call(s, "/v1/projects", alice, addr)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") ||
		!strings.Contains(rec.Body.String(), "0.5 requests per second (bursts of 2)") {
		t.Fatalf("past the burst: %d Retry-After=%q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// Another token from the same address has its own bucket.
	if rec := call(s, "/v1/projects", bob, addr); rec.Code != http.StatusOK {
		t.Fatalf("a second token is limited by the first's use: %d %s", rec.Code, rec.Body)
	}
	// Health, readiness, metrics and the OpenAPI document are never limited.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if rec := call(s, path, alice, addr); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, rec.Code)
		}
	}
	// One token is back after 1/rate seconds: Retry-After rounds up what is left.
	clock.advance(1500 * time.Millisecond)
	if rec := call(s, "/v1/projects", alice, addr); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("after 1.5 s: %d Retry-After=%q", rec.Code, rec.Header().Get("Retry-After"))
	}
	clock.advance(time.Second)
	if rec := call(s, "/v1/projects", alice, addr); rec.Code != http.StatusOK {
		t.Fatalf("after the wait: %d %s", rec.Code, rec.Body)
	}

	// The deployment gateway, mounted beside the Huma API, counts too.
	carol := secret(t, s, api.RoleViewer, "default")
	gw := "/v1/projects/default/deployments/web/predict"
	for range 2 {
		if rec := call(s, gw, carol, addr); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("gateway request within the burst: %d", rec.Code)
		}
	}
	if rec := call(s, gw, carol, addr); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("gateway past the burst: %d %s", rec.Code, rec.Body)
	}

	// Callers without a valid token are counted by address.
	for i, tok := range []string{"", "mlops_not-a-token"} {
		if rec := call(s, "/v1/projects", tok, addr); rec.Code != http.StatusUnauthorized {
			t.Fatalf("unauthenticated request %d: %d", i, rec.Code)
		}
	}
	if rec := call(s, "/v1/projects", "", addr); rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "192.0.2.1") {
		t.Fatalf("third unauthenticated request: %d %s", rec.Code, rec.Body)
	}
	if rec := call(s, "/v1/projects", "", "198.51.100.7:999"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("another address: %d", rec.Code)
	}
	// A refusal is counted under its route, not as unmatched.
	if got := call(s, "/metrics", "", addr).Body.String(); !strings.Contains(got, `code="429",method="GET",route="/v1/projects"`) {
		t.Fatalf("429s are not counted by route:\n%s", got)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	s := limitedServer(t, RateLimit{}, nil)
	if s.limiter != nil {
		t.Fatal("a zero RateLimit built a limiter")
	}
	tok := secret(t, s, api.RoleAdmin, "")
	for i := range 300 {
		if rec := call(s, "/v1/projects", tok, "192.0.2.1:1"); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
}

func TestLimiterForgetsIdleCallers(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(RateLimit{PerSecond: 10}, clock.now)
	if l.burst != 10 {
		t.Fatalf("default burst = %v, want the rate", l.burst)
	}
	for i := range 1000 {
		l.allow(fmt.Sprintf("ip:%d", i))
	}
	if l.size() != 1000 {
		t.Fatalf("%d buckets", l.size())
	}
	// After a minute every bucket has refilled; the next new caller sweeps them.
	clock.advance(sweepEvery)
	l.allow("token:new")
	if l.size() != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", l.size())
	}
	// However many callers, the map stays bounded.
	for i := range maxBuckets + 100 {
		l.allow(fmt.Sprintf("ip:busy-%d", i))
	}
	if n := l.size(); n > maxBuckets {
		t.Fatalf("%d buckets, more than %d", n, maxBuckets)
	}
}

// TestClientWaitsOutRateLimit shows the Go client riding out a 429: it
// waits the Retry-After the server sent and then succeeds.
func TestClientWaitsOutRateLimit(t *testing.T) {
	s := limitedServer(t, RateLimit{PerSecond: 1, Burst: 1}, nil)
	var refused atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := wrap(w)
		s.Handler().ServeHTTP(rec, r)
		if rec.status == http.StatusTooManyRequests {
			refused.Add(1)
		}
	}))
	t.Cleanup(hs.Close)
	c, err := client.New(client.Config{Endpoint: hs.URL, Token: secret(t, s, api.RoleAdmin, ""),
		RetryMax: 2, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ListProjects(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.CreateProject(ctx, api.Project{Name: "after-wait"}); err != nil {
		t.Fatalf("call after a 429: %v", err)
	}
	if n := refused.Load(); n != 1 {
		t.Fatalf("server refused %d requests, want 1", n)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("the client retried after %s, before the Retry-After of 1 s", el)
	}
	if _, err := s.store.Get(ctx, store.ProjectKey("after-wait")); err != nil {
		t.Fatalf("the retried create did not land: %v", err)
	}
}
