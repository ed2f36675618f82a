package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// writeProblem writes an RFC 9457 problem outside Huma (middleware paths).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Problem{Title: http.StatusText(status), Status: status, Detail: detail})
}

// recorder captures the status a handler writes, for metrics and logs.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes flushes on, so streamed answers (logs?follow=true) stream.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func wrap(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w}
}

// recoverer turns a panic into a 500 problem; the server keeps serving.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeProblem(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request; headers (and so tokens) are never logged.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := wrap(w)
		next.ServeHTTP(rec, r)
		s.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlopsd_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mlopsd_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *metrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := wrap(w)
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
		m.latency.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

// replayHeaders are the response headers an idempotent replay repeats.
var replayHeaders = []string{"Content-Type", "ETag", "Location"}

// heldWriter keeps a whole response back until the transaction it reports on
// has committed, so a client never sees a change that a failed commit undid.
type heldWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	// under is the connection's writer, for deadlines (http.ResponseController).
	under http.ResponseWriter
}

func (h *heldWriter) Header() http.Header { return h.header }

func (h *heldWriter) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *heldWriter) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
}

// Flush does nothing: what is held is sent at once by release.
func (h *heldWriter) Flush() {}

func (h *heldWriter) Unwrap() http.ResponseWriter { return h.under }

func (h *heldWriter) release(w http.ResponseWriter) {
	for name, v := range h.header {
		w.Header()[name] = v
	}
	if h.status != 0 {
		w.WriteHeader(h.status)
	}
	_, _ = w.Write(h.body.Bytes())
}

// idempotency makes a POST carrying an Idempotency-Key safe to retry: it is
// executed at most once, and every retry with the same key and token gets
// the first response. The handler's writes, the audit record and the
// recorded response commit in one transaction (store.Idempotent), so a
// process killed mid-request leaves nothing behind and the retry simply runs.
// Every other request that may change something (POST, PUT, PATCH, DELETE)
// runs the same way without a recorded response (store.Atomic): its writes
// and its audit record commit together or not at all.
func (s *Server) idempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		switch {
		// A key sent to a deployment is the model server's business: predictions
		// pass through as they are, neither buffered nor replayed.
		case isGatewayPath(r.URL.Path) || !changes(r.Method):
			next.ServeHTTP(w, r)
			return
		case r.Method != http.MethodPost || key == "":
			s.atomic(w, r, next)
			return
		}
		if len(key) > 255 || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
			writeProblem(w, http.StatusBadRequest, "Idempotency-Key must be valid UTF-8 text of at most 255 characters, such as a UUID")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
				return
			}
			writeProblem(w, http.StatusBadRequest, "could not read the request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// Keys are scoped to the caller's credentials, so one caller cannot replay another's response.
		scope := HashToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.RequestURI()+"\n"), body...))
		reqHash := hex.EncodeToString(sum[:])

		ctx := r.Context()
		var held *heldWriter
		prior, err := s.store.Idempotent(ctx, scope, key, reqHash, func(ctx context.Context) *store.IdempotentResponse {
			held = &heldWriter{header: http.Header{}, under: w}
			next.ServeHTTP(held, r.WithContext(ctx))
			// Failures the client may retry are not recorded: their writes roll back.
			if retryable(held.status) {
				return nil
			}
			h := http.Header{}
			for _, name := range replayHeaders {
				if v := held.header.Get(name); v != "" {
					h.Set(name, v)
				}
			}
			hdr, _ := json.Marshal(h)
			return &store.IdempotentResponse{RequestHash: reqHash, Status: held.status, Header: hdr, Body: held.body.Bytes()}
		})
		switch {
		case err != nil:
			s.requestFailed(w, r, err)
		case prior == nil:
			held.release(w)
		case prior.RequestHash != reqHash:
			writeProblem(w, http.StatusUnprocessableEntity, "this Idempotency-Key was already used for a different request; use a new key for each distinct request")
		default:
			var h http.Header
			_ = json.Unmarshal(prior.Header, &h)
			for _, name := range replayHeaders {
				if v := h.Get(name); v != "" {
					w.Header().Set(name, v)
				}
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prior.Status)
			_, _ = w.Write(prior.Body)
		}
	})
}

// changes reports whether a request of the method may change something.
func changes(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// retryable reports whether a response is a failure the client may retry
// (or one no client saw): the request's writes roll back.
func retryable(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusTooManyRequests || status == statusClientClosed
}

// atomic runs a change that has no Idempotency-Key in one transaction with
// its audit record, holding the response back until it commits.
func (s *Server) atomic(w http.ResponseWriter, r *http.Request, next http.Handler) {
	held := &heldWriter{header: http.Header{}, under: w}
	err := s.store.Atomic(r.Context(), func(ctx context.Context) bool {
		next.ServeHTTP(held, r.WithContext(ctx))
		return !retryable(held.status)
	})
	if err != nil {
		s.requestFailed(w, r, err)
		return
	}
	held.release(w)
}

// requestFailed answers a request whose transaction could not commit; none
// of its writes were kept.
func (s *Server) requestFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "2")
		writeProblem(w, http.StatusServiceUnavailable, "the database is unavailable; retry shortly")
	case errors.Is(err, context.Canceled):
		writeProblem(w, statusClientClosed, "request cancelled")
	default:
		s.log.ErrorContext(r.Context(), "request could not commit", "err", err, "method", r.Method, "path", r.URL.Path)
		writeProblem(w, http.StatusInternalServerError, "internal error")
	}
}
