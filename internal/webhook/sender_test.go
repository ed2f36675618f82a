package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testDelivery is a delivery to url; the secret is distinctive so a leak is easy to spot.
func testDelivery(url string) Delivery {
	return Delivery{ID: "dlv-0001", Event: "monitor.drifting", URL: url, Secret: testSecret, Body: testBody}
}

// serve starts a loopback receiver; loopback is private, so senders for it must allow that.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// checkNoSecret fails when a result's error text contains the secret.
func checkNoSecret(t *testing.T, r Result) {
	t.Helper()
	if r.Err != nil && strings.Contains(r.Err.Error(), testSecret) {
		t.Errorf("Result.Err %q contains the secret", r.Err)
	}
}

func TestSendSuccess(t *testing.T) {
	type seen struct {
		header http.Header
		body   []byte
	}
	got := make(chan seen, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Clone(), body}
		w.WriteHeader(http.StatusOK)
	})
	now := time.Now()
	r := NewSender(Policy{AllowPrivate: true}, 5*time.Second).Send(context.Background(), testDelivery(srv.URL+"/hook"), now)
	if r.Err != nil || r.StatusCode != http.StatusOK || r.Retryable {
		t.Fatalf("Send = %+v, want 200 success", r)
	}

	rcv := <-got
	for k, want := range map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "mlopsd-webhook",
		EventHeader:    "monitor.drifting",
		DeliveryHeader: "dlv-0001",
	} {
		if v := rcv.header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if string(rcv.body) != string(testBody) {
		t.Errorf("body = %s, want %s", rcv.body, testBody)
	}
	// The receiver verifies as a receiver would, with its own clock.
	if err := Verify(testSecret, rcv.header.Get(SignatureHeader), rcv.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("receiver cannot verify: %v (header %q)", err, rcv.header.Get(SignatureHeader))
	}
	if sig := rcv.header.Get(SignatureHeader); sig != Sign(testSecret, now, testBody) {
		t.Errorf("signature %q is not Sign(secret, now, body)", sig)
	}
	for k, vs := range rcv.header {
		for _, v := range vs {
			if strings.Contains(v, testSecret) {
				t.Errorf("header %s carries the secret in clear", k)
			}
		}
	}
}

func TestSendUnsigned(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	})
	d := testDelivery(srv.URL)
	d.Secret = ""
	r := NewSender(Policy{AllowPrivate: true}, 5*time.Second).Send(context.Background(), d, time.Now())
	if r.Err != nil || r.StatusCode != http.StatusNoContent {
		t.Fatalf("Send = %+v, want 204 success", r)
	}
	h := <-got
	if v, ok := h[SignatureHeader]; ok {
		t.Errorf("unsigned delivery sent %s: %q", SignatureHeader, v)
	}
	if h.Get(DeliveryHeader) != "dlv-0001" || h.Get(EventHeader) != "monitor.drifting" {
		t.Errorf("headers = %v", h)
	}
}

func TestSendStatusClassification(t *testing.T) {
	cases := []struct {
		status    int
		retryable bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusTooManyRequests, true},
		{http.StatusRequestTimeout, true},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusNotFound, false},
		{http.StatusGone, false},
	}
	s := NewSender(Policy{AllowPrivate: true}, 5*time.Second)
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, _ *http.Request) {
				// A receiver might echo what it was configured with; none of it may reach Err.
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, "bad secret "+testSecret)
			})
			r := s.Send(context.Background(), testDelivery(srv.URL), time.Now())
			if r.Err == nil || r.StatusCode != tc.status || r.Retryable != tc.retryable {
				t.Fatalf("Send = %+v, want status %d, an error, retryable %v", r, tc.status, tc.retryable)
			}
			if want := fmt.Sprintf("receiver answered %d %s", tc.status, http.StatusText(tc.status)); !strings.Contains(r.Err.Error(), want) {
				t.Errorf("err = %q, want it to name %q", r.Err, want)
			}
			checkNoSecret(t, r)
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Add(1) })
	srv := serve(t, mux.ServeHTTP)

	r := NewSender(Policy{AllowPrivate: true}, 5*time.Second).Send(context.Background(), testDelivery(srv.URL+"/hook"), time.Now())
	if r.Err == nil || r.StatusCode != http.StatusFound || r.Retryable {
		t.Fatalf("Send = %+v, want a non-retryable 302 failure", r)
	}
	if !strings.Contains(r.Err.Error(), "302 Found") || !strings.Contains(r.Err.Error(), "redirects are not followed") {
		t.Errorf("err = %q, want it to name the 302 and say redirects are not followed", r.Err)
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("redirect target was called %d times", n)
	}
}

func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // runs before srv.Close, which waits for the handler

	const timeout = 200 * time.Millisecond
	start := time.Now()
	r := NewSender(Policy{AllowPrivate: true}, timeout).Send(context.Background(), testDelivery(srv.URL), time.Now())
	elapsed := time.Since(start)
	if r.Err == nil || !r.Retryable || r.StatusCode != 0 {
		t.Fatalf("Send = %+v, want a retryable error without status", r)
	}
	if !strings.Contains(r.Err.Error(), "no answer within 200ms") {
		t.Errorf("err = %q, want it to say it timed out", r.Err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Send took %s with a %s timeout", elapsed, timeout)
	}
	checkNoSecret(t, r)
}

func TestSendStopsReadingEndlessAnswer(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	// Reading the whole answer would last until the timeout; a bounded read returns at once.
	const timeout = 10 * time.Second
	start := time.Now()
	r := NewSender(Policy{AllowPrivate: true}, timeout).Send(context.Background(), testDelivery(srv.URL), time.Now())
	if r.Err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("Send = %+v, want 200 success", r)
	}
	if elapsed := time.Since(start); elapsed > timeout/2 {
		t.Errorf("Send took %s: it kept reading an endless answer", elapsed)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close() // nothing listens on u any more

	r := NewSender(Policy{AllowPrivate: true}, 5*time.Second).Send(context.Background(), testDelivery(u), time.Now())
	if r.Err == nil || !r.Retryable || r.StatusCode != 0 {
		t.Fatalf("Send = %+v, want a retryable network error", r)
	}
	// The URL is left to the caller to record; the error carries no "Post <url>" prefix.
	if strings.Contains(r.Err.Error(), "Post ") {
		t.Errorf("err = %q still carries the url.Error prefix", r.Err)
	}
	checkNoSecret(t, r)
}

func TestSendCanceledIsRetryable(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := NewSender(Policy{AllowPrivate: true}, 5*time.Second).Send(ctx, testDelivery(srv.URL), time.Now())
	if r.Err == nil || !r.Retryable || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("Send = %+v, want a retryable context.Canceled", r)
	}
}

// A private IP literal is refused before any connection is made.
func TestSendRefusesPrivateLiteral(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })

	r := NewSender(Policy{}, 5*time.Second).Send(context.Background(), testDelivery(srv.URL), time.Now())
	if r.Err == nil || r.Retryable || !errors.Is(r.Err, ErrPrivateAddress) {
		t.Fatalf("Send = %+v, want a non-retryable policy refusal", r)
	}
	if !strings.Contains(r.Err.Error(), "--allow-private-webhooks") {
		t.Errorf("err = %q, want it to name the flag", r.Err)
	}
	if hits.Load() != 0 {
		t.Error("the receiver was called")
	}
}

// The DNS-rebinding guard: CheckURL passes a hostname, and the dialer refuses
// the private address it resolves to.
func TestSendRefusesHostnameResolvingPrivate(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	byName := "http://localhost:" + u.Port() + "/hook"

	s := NewSender(Policy{}, 5*time.Second)
	if err := s.CheckURL(byName); err != nil {
		t.Fatalf("CheckURL(%s) = %v; hostnames are meant to be checked at dial time", byName, err)
	}
	r := s.Send(context.Background(), testDelivery(byName), time.Now())
	if r.Err == nil || r.Retryable || r.StatusCode != 0 || !errors.Is(r.Err, ErrPrivateAddress) {
		t.Fatalf("Send = %+v, want a non-retryable policy refusal", r)
	}
	if !strings.Contains(r.Err.Error(), "localhost resolves to 127.0.0.1, a private address; mlopsd refuses it unless started with --allow-private-webhooks") &&
		!strings.Contains(r.Err.Error(), "localhost resolves to ::1, a private address") {
		t.Errorf("err = %q, want it to name the host, the address and the flag", r.Err)
	}
	if hits.Load() != 0 {
		t.Error("the receiver was called")
	}

	// The same URL goes through when private addresses are allowed, so it was the policy that refused.
	r = NewSender(Policy{AllowPrivate: true}, 5*time.Second).Send(context.Background(), testDelivery(byName), time.Now())
	if r.Err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("with AllowPrivate: Send = %+v, want 200", r)
	}
}

func TestSendRejectsBadDelivery(t *testing.T) {
	s := NewSender(Policy{AllowPrivate: true}, time.Second)
	for name, d := range map[string]Delivery{
		"no ID":     {Event: "monitor.drifting", URL: "http://127.0.0.1:1/"},
		"no event":  {ID: "dlv-1", URL: "http://127.0.0.1:1/"},
		"bad URL":   {ID: "dlv-1", Event: "monitor.drifting", URL: "ftp://127.0.0.1/", Secret: testSecret},
		"userinfo":  {ID: "dlv-1", Event: "monitor.drifting", URL: "http://u:" + testSecret + "@127.0.0.1/", Secret: testSecret},
		"malformed": {ID: "dlv-1", Event: "monitor.drifting", URL: "http://x:" + testSecret + "@[::1/", Secret: testSecret},
	} {
		r := s.Send(context.Background(), d, time.Now())
		if r.Err == nil || r.Retryable {
			t.Errorf("%s: Send = %+v, want a non-retryable error", name, r)
		}
		checkNoSecret(t, r)
	}
}

// Go never proxies loopback requests, so this cannot be shown with a test
// server; an environment proxy would dial for us, past the address check.
func TestSenderIgnoresEnvironmentProxy(t *testing.T) {
	tr, ok := NewSender(Policy{}, 0).client.Transport.(*http.Transport)
	if !ok || tr.Proxy != nil {
		t.Fatalf("transport = %T with a Proxy func; want no proxy", NewSender(Policy{}, 0).client.Transport)
	}
}
