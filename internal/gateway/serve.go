package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// statusClientClosed is recorded (never sent) when the client went away
// before the backend answered; nginx uses the same code.
const statusClientClosed = 499

// exchange is one proxied request: the response writer Serve hands to the
// proxy, and what the proxy hooks learn about the request. The hooks find
// it through the request context; all of them run on the Serve goroutine.
type exchange struct {
	http.ResponseWriter
	key    string
	path   string
	v      *version
	b      *backend
	status int
	// sendErr is the error of sending the request to the backend, if that failed.
	sendErr error
	// answered is set once the backend's response headers arrived.
	answered bool
	// failed is set when the backend could not be reached or broke off its response.
	failed bool
}

type exchangeKey struct{}

// Serve proxies r to a backend of deployment key. path is the request path
// after the deployment prefix, unescaped like r.URL.Path (e.g. "/predict");
// it is appended to the backend's base URL, and r's query is kept.
func (g *Gateway) Serve(w http.ResponseWriter, r *http.Request, key, path string) {
	rt := (*g.routes.Load())[key]
	if rt == nil {
		// Not counted in metrics: unknown keys would make unbounded label values.
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("deployment %s not found", key))
		return
	}
	v, b := rt.pick(g.opts.Rand)
	if b == nil && rt.awaitFirstProbe(r.Context(), g.opts.HealthTimeout) {
		v, b = rt.pick(g.opts.Rand)
	}
	if b == nil {
		g.metrics.requests.WithLabelValues(key, "", strconv.Itoa(http.StatusServiceUnavailable)).Inc()
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(g.opts.HealthInterval/time.Second))))
		writeProblem(w, http.StatusServiceUnavailable, fmt.Sprintf("deployment %s has no healthy backend", key))
		return
	}

	// A backend may answer while the request body still streams in. Without
	// full duplex, writing the answer's headers makes the server discard and
	// close the unread body under the proxy's feet: the answer then waits
	// for the whole upload, or the transport drops the backend connection
	// and the client gets a truncated response. (HTTP/2 is always duplex.)
	_ = http.NewResponseController(w).EnableFullDuplex()
	ex := &exchange{ResponseWriter: w, key: key, path: path, v: v, b: b}
	var tap *bodyTap
	if rt.sample > 0 && g.opts.Record != nil && r.Body != nil && g.opts.Rand() < rt.sample {
		tap = &bodyTap{ReadCloser: r.Body}
		r.Body = tap
	}
	b.inflight.Add(1)
	start := time.Now()
	defer func() {
		b.inflight.Add(-1)
		// The proxy panics with http.ErrAbortHandler when copying the response
		// fails (watchedBody tells whether the backend was at fault); record
		// the request, then let the server abort the connection.
		p := recover()
		ex.finish(start, r.Context().Err() != nil)
		if p != nil {
			panic(p)
		}
		if tap != nil && tap.complete() && ex.status != 0 && ex.status < 500 {
			g.opts.Record(key, v.num, tap.buf.Bytes())
		}
	}()
	g.proxy.ServeHTTP(ex, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
}

// finish records the request in the version's statistics and metrics.
// Failures the client caused by leaving are not the backend's errors.
func (ex *exchange) finish(start time.Time, clientGone bool) {
	d := time.Since(start)
	status := ex.status
	switch {
	case status != 0:
	case clientGone:
		status = statusClientClosed
	default:
		status = http.StatusBadGateway
	}
	isErr := status >= 500 || (ex.failed && !clientGone)
	ex.v.window.record(time.Now(), d, isErr)
	ex.v.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	ex.v.duration.Observe(d.Seconds())
}

func (ex *exchange) WriteHeader(code int) {
	// 1xx responses precede the real one.
	if ex.status == 0 && code >= 200 {
		ex.status = code
	}
	ex.ResponseWriter.WriteHeader(code)
}

func (ex *exchange) Write(p []byte) (int, error) {
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	return ex.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and Hijack (streaming, upgrades).
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.ResponseWriter }

func exchangeOf(r *http.Request) *exchange {
	return r.Context().Value(exchangeKey{}).(*exchange)
}

// rewrite points the outbound request at the chosen backend.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeOf(pr.In)
	base := ex.b.url
	out := pr.Out.URL
	out.Scheme, out.Host = base.Scheme, base.Host
	path := ex.path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	out.Path, out.RawPath = strings.TrimSuffix(base.Path, "/")+path, ""
	pr.Out.Host = "" // the backend sees its own host name; X-Forwarded-Host has the client's
	// The client's X-Forwarded-* are dropped (anyone can forge them) and replaced by what we saw.
	pr.SetXForwarded()
	// The Authorization header carries the mlopsd API token, which is no business of the model.
	pr.Out.Header.Del("Authorization")
	if u := base.User; u != nil {
		pw, _ := u.Password()
		pr.Out.SetBasicAuth(u.Username(), pw)
	}
}

func (g *Gateway) modifyResponse(res *http.Response) error {
	ex := exchangeOf(res.Request)
	ex.answered = true
	// Set here rather than before proxying: 1xx responses clear the headers written so far.
	res.Header.Del(VersionHeader)
	ex.Header().Set(VersionHeader, ex.v.label)
	res.Body = &watchedBody{ReadCloser: res.Body, ex: ex}
	return nil
}

// watchedBody notes a backend that breaks off its response, which the
// proxy otherwise only reports by aborting (or, outside a server, not at all).
type watchedBody struct {
	io.ReadCloser
	ex *exchange
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.ex.failed = true
	}
	return n, err
}

// proxyError answers when the request could not be proxied.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeOf(r)
	switch {
	case r.Context().Err() != nil:
		// The client left (or its deadline passed): nobody reads an answer.
		ex.status = statusClientClosed
		return
	case ex.sendErr == nil && !ex.answered:
		// The proxy refused the request before sending it (a malformed
		// Upgrade): the client's fault, and no reason to doubt the backend.
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	ex.failed = true
	w.Header().Set(VersionHeader, ex.v.label)
	log := g.log.With("deployment", ex.key, "version", ex.v.num, "backend", ex.b.name, "err", err)
	// Passive check: a backend that could not be reached is taken out until
	// a health check passes again, so the next requests go to the other
	// replicas or versions.
	if ex.sendErr != nil && ex.b.healthy.Swap(false) {
		log.Warn("gateway backend marked unhealthy after a failed request")
	} else {
		log.Warn("gateway proxy error")
	}
	// The error text names internal addresses, so it stays in the log.
	writeProblem(w, http.StatusBadGateway,
		fmt.Sprintf("deployment %s: the backend of version %d did not answer; retry", ex.key, ex.v.num))
}

// transport notes in the exchange whether sending the request failed, so
// that proxyError can tell a backend's failure from a client's bad request.
type transport struct{ http.RoundTripper }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(r)
	if err != nil {
		exchangeOf(r).sendErr = err
	}
	return resp, err
}

// pick chooses a version by weight among those with a healthy backend, and
// the least loaded healthy backend of it; nil when none is healthy.
func (r *route) pick(rnd func() float64) (*version, *backend) {
	// Health is read once per version, so that a change in between cannot
	// leave the random draw pointing at no version.
	var buf [8]*version
	healthy := buf[:0]
	total := 0
	for _, v := range r.weighted {
		if v.anyHealthy() {
			healthy = append(healthy, v)
			total += v.weight
		}
	}
	if total == 0 {
		return nil, nil
	}
	x := min(int(rnd()*float64(total)), total-1)
	for i, v := range healthy {
		if x -= v.weight; x >= 0 {
			continue
		}
		// A version whose last healthy backend just went down passes its turn on.
		for _, v := range healthy[i:] {
			if b := v.pickBackend(); b != nil {
				return v, b
			}
		}
		break
	}
	return nil, nil
}

func (v *version) anyHealthy() bool {
	for _, b := range v.backends {
		if b.healthy.Load() {
			return true
		}
	}
	return false
}

// pickBackend returns the healthy replica with the fewest requests in
// flight, starting the scan at a rotating index so equals take turns.
func (v *version) pickBackend() *backend {
	n := len(v.backends)
	if n == 1 {
		if b := v.backends[0]; b.healthy.Load() {
			return b
		}
		return nil
	}
	start := int(v.next.Add(1) % uint32(n))
	var best *backend
	var bestLoad int64
	for i := range n {
		b := v.backends[(start+i)%n]
		if !b.healthy.Load() {
			continue
		}
		if load := b.inflight.Load(); best == nil || load < bestLoad {
			best, bestLoad = b, load
		}
	}
	return best
}

// writeProblem writes an RFC 9457 problem, as the rest of mlopsd does.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Problem{Title: http.StatusText(status), Status: status, Detail: detail})
}

// bufferPool reuses the proxy's 32 KiB copy buffers across requests.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// bodyTap keeps a copy of a request body as the proxy streams it, up to
// MaxRecordBytes; a larger body is not kept at all.
type bodyTap struct {
	io.ReadCloser
	buf      bytes.Buffer
	eof      bool
	overflow bool
}

func (t *bodyTap) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if !t.overflow {
		if t.buf.Len()+n > MaxRecordBytes {
			t.overflow = true
			t.buf = bytes.Buffer{}
		} else {
			t.buf.Write(p[:n])
		}
	}
	if errors.Is(err, io.EOF) {
		t.eof = true
	}
	return n, err
}

// complete says whether the whole body was read and kept.
func (t *bodyTap) complete() bool { return t.eof && !t.overflow && t.buf.Len() > 0 }
