package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// RateLimit bounds how fast each caller may call /v1: a token bucket per
// token (per client IP for requests without a valid token).
type RateLimit struct {
	// PerSecond is the sustained rate each caller may keep up; 0 disables limiting.
	PerSecond float64
	// Burst is how many requests a caller with a full bucket may make at once;
	// below 1 means PerSecond rounded up.
	Burst int
}

const (
	// maxBuckets bounds the limiter's memory: past it, idle buckets are
	// dropped first, then arbitrary ones (which only lets their callers
	// start again with a full bucket).
	maxBuckets = 1 << 16
	// sweepEvery is how often buckets that have refilled are dropped.
	sweepEvery = time.Minute
)

// limiter holds one token bucket per caller.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter returns nil when the limit is off.
func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	if cfg.PerSecond <= 0 {
		return nil
	}
	burst := float64(cfg.Burst)
	if burst < 1 {
		burst = math.Ceil(cfg.PerSecond)
	}
	return &limiter{rate: cfg.PerSecond, burst: burst, now: now, buckets: map[string]*bucket{}, lastSweep: now()}
}

// allow takes a token from key's bucket. When the bucket is empty it takes
// none and says how long until one is back.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if now.Sub(l.lastSweep) >= sweepEvery || len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops the buckets that have refilled: a new bucket would be the same.
// If that leaves too many (callers are many and all busy), it drops a tenth
// more, in map order.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxBuckets {
		return
	}
	drop := len(l.buckets) - maxBuckets + maxBuckets/10
	for k := range l.buckets {
		if drop == 0 {
			break
		}
		delete(l.buckets, k)
		drop--
	}
}

// size is the number of buckets held, for tests.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// resolvedAuth is a request's Authorization header already checked by the
// rate limiter, so the handler does not look the token up again.
type resolvedAuth struct {
	header string
	p      *principal
	err    error
}

type resolvedAuthKey struct{}

// rateLimit answers 429 to a caller past its limit on /v1 (including the
// deployment gateway, which sits beside the Huma API). It runs before the
// idempotency middleware, so a refused POST claims no key. Health, metrics
// and the OpenAPI document are outside /v1 and never limited.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.limiter == nil || !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		ip := clientIP(r)
		key, who := "ip:"+ip, "unauthenticated callers from "+ip
		if header := r.Header.Get("Authorization"); header != "" {
			// Any error but a bad token (the database is down) is left for the
			// handler to report, and the caller is counted by address meanwhile.
			p, err := s.authenticate(r.Context(), header)
			if err == nil || errors.Is(err, errUnauthenticated) {
				r = r.WithContext(context.WithValue(r.Context(), resolvedAuthKey{}, &resolvedAuth{header: header, p: p, err: err}))
			}
			if err == nil {
				key, who = "token:"+p.tokenID, "token "+p.tokenID
			}
		}
		ok, wait := s.limiter.allow(key)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		secs := max(1, int(math.Ceil(wait.Seconds())))
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() == "" {
			// Name the route for the request metrics, as if it had been served.
			if pattern := s.router.Find(chi.NewRouteContext(), r.Method, r.URL.Path); pattern != "" {
				rc.RoutePatterns = append(rc.RoutePatterns, pattern)
			}
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
			"rate limit exceeded: %s may make %s requests per second (bursts of %d); retry in %d s",
			who, strconv.FormatFloat(s.limiter.rate, 'f', -1, 64), int(s.limiter.burst), secs))
	})
}

// clientIP is the address the request came from. Forwarding headers are not
// trusted: any client could set them to get a fresh bucket.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
