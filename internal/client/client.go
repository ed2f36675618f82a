// Package client is a typed Go client for the mlopsd REST API (/v1).
//
// Every call takes a context, retries transient failures (connection errors,
// 429 and 5xx except 501) with exponential backoff that honours Retry-After,
// and reports API failures as *Error, which matches the Err* sentinels with
// errors.Is. A Client is safe for concurrent use.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const (
	defaultRetryMax     = 4
	defaultRetryWaitMin = 200 * time.Millisecond
	defaultRetryWaitMax = 5 * time.Second
	// maxRetryAfter bounds how long a server's Retry-After may hold a call; it
	// may exceed RetryWaitMax because the server asked for it.
	maxRetryAfter    = 60 * time.Second
	defaultUserAgent = "mlops-go-client"
)

// Config configures a Client.
type Config struct {
	// Endpoint is the server's base URL, e.g. https://mlops.example.com; it may carry a path prefix.
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>"; empty sends no Authorization header.
	Token     string
	UserAgent string
	// HTTPClient is optional; nil uses a pooled client without an overall timeout (bound calls with ctx).
	HTTPClient *http.Client
	// RetryMax is the number of retries after the first attempt: 0 means 4, negative disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff (defaults 200ms and 5s).
	RetryWaitMin, RetryWaitMax time.Duration
	// Logger receives retryablehttp's debug and error lines; nil is silent.
	Logger retryablehttp.LeveledLogger
}

// Client calls the mlopsd API.
type Client struct {
	endpoint  string // no trailing slash and no userinfo, so safe to print
	token     string
	userAgent string
	http      *retryablehttp.Client
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	endpoint, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	// Tokens read from files or env vars often end in a newline.
	token := strings.TrimSpace(cfg.Token)
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("mlops client: token contains whitespace or control characters")
	}
	retryMax := cfg.RetryMax
	switch {
	case retryMax == 0:
		retryMax = defaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	waitMin, waitMax := cfg.RetryWaitMin, cfg.RetryWaitMax
	if waitMin <= 0 {
		waitMin = defaultRetryWaitMin
	}
	if waitMax <= 0 {
		waitMax = defaultRetryWaitMax
	}
	if waitMin > waitMax {
		return nil, fmt.Errorf("mlops client: RetryWaitMin (%s) is greater than RetryWaitMax (%s)", waitMin, waitMax)
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: pooledTransport()}
	}
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RetryMax:     retryMax,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      backoff,
		ErrorHandler: keepLastResponse,
	}
	// Only assign a non-nil logger: a nil field keeps retryablehttp silent.
	if cfg.Logger != nil {
		rc.Logger = cfg.Logger
	}
	return &Client{endpoint: endpoint, token: token, userAgent: ua, http: rc}, nil
}

// maxIdleConnsPerHost keeps a connection for each of Terraform's concurrent
// operations (-parallelism, 10 by default) and more. retryablehttp's pooled
// client keeps GOMAXPROCS+1, so on a small machine most requests of a
// plan opened a new connection.
const maxIdleConnsPerHost = 64

// pooledTransport is go-cleanhttp's pooled transport (what retryablehttp
// would install) with more idle connections per host.
func pooledTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

func parseEndpoint(raw string) (string, error) {
	const example = " (for example https://mlops.example.com)"
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("mlops client: endpoint is required" + example)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// The inner error only: the raw string could hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("mlops client: endpoint is not a valid URL: %w", err)
	}
	if u.User != nil {
		return "", errors.New("mlops client: endpoint must not contain credentials; set the token instead")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("mlops client: endpoint %q must be an absolute http:// or https:// URL%s", raw, example)
	}
	if u.Host == "" {
		return "", fmt.Errorf("mlops client: endpoint %q has no host%s", raw, example)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("mlops client: endpoint %q must not have a query or fragment", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// backoff is retryablehttp.DefaultBackoff, except that a Retry-After on 429 or
// 503 is honoured even above RetryWaitMax (up to maxRetryAfter): waiting less
// than the server asked would only earn another refusal.
func backoff(waitMin, waitMax time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(max(d, waitMin), maxRetryAfter)
		}
	}
	return retryablehttp.DefaultBackoff(waitMin, waitMax, attempt, nil)
}

// parseRetryAfter reads delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}

// transportError is a failure to get any response, after attempts tries.
type transportError struct {
	err      error
	attempts int
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// keepLastResponse hands back the last response when retries run out, so its
// problem body becomes an *Error instead of a bare "giving up" message.
func keepLastResponse(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if err == nil {
		return resp, nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	return nil, &transportError{err: err, attempts: attempts}
}

type idempotencyKeyCtx struct{}

// WithIdempotencyKey makes the POST made with ctx carry key as its
// Idempotency-Key instead of a fresh UUID, e.g. to resume a create across processes.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyCtx{}, key)
}

// roundTrip sends one logical request (with its retries) and returns a
// response whose body the caller must close.
func (c *Client) roundTrip(ctx context.Context, method, path string, query url.Values, body any, ifGeneration int64) (*http.Response, error) {
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	target := c.endpoint + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var raw any // a []byte body is replayed by retryablehttp on every attempt
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encoding the request body: %w", method, path, err)
		}
		raw = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, target, raw)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifGeneration > 0 {
		req.Header.Set("If-Match", `"`+strconv.FormatInt(ifGeneration, 10)+`"`)
	}
	if method == http.MethodPost {
		// One key per logical call, set once so every retry repeats it and the
		// server replays the first result instead of creating twice.
		key, _ := ctx.Value(idempotencyKeyCtx{}).(string)
		if key == "" {
			id, err := uuid.NewRandom()
			if err != nil {
				return nil, fmt.Errorf("%s %s: generating an idempotency key: %w", method, path, err)
			}
			key = id.String()
		}
		req.Header.Set("Idempotency-Key", key)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s%s: %w", method, c.endpoint, path, ctxErr)
		}
		attempts := 1
		var te *transportError
		if errors.As(err, &te) {
			attempts = te.attempts
		}
		return nil, fmt.Errorf("cannot reach the mlops API at %s (%s %s, %d attempt(s)); check that the endpoint is correct and the server is reachable: %w",
			c.endpoint, method, path, attempts, err)
	}
	return resp, nil
}

// checkPath refuses empty, "." and ".." segments, which come from empty names
// and would otherwise address another route (e.g. GET /v1/projects/ lists).
func checkPath(path string) error {
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("a name in the request path is empty or invalid")
		}
	}
	return nil
}

// send performs the request and decodes a 2xx body into out (nil discards it).
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any, ifGeneration int64, out any) error {
	resp, err := c.roundTrip(ctx, method, path, query, body, ifGeneration)
	if err != nil {
		return err
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.newError(resp, method, path)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the %d response (Content-Type %q): %w",
			method, path, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return nil
}

// do sends a request and decodes the response into a new T.
func do[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any, ifGeneration int64) (*T, error) {
	out := new(T)
	if err := c.send(ctx, method, path, query, body, ifGeneration, out); err != nil {
		return nil, err
	}
	return out, nil
}

// listAll follows next_page_token until the last page.
func listAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	items := []T{}
	token := ""
	for {
		q := url.Values{}
		if token != "" {
			q.Set("page_token", token)
		}
		page, err := do[api.List[T]](ctx, c, http.MethodGet, path, q, nil, 0)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if page.NextPageToken == "" {
			return items, nil
		}
		if page.NextPageToken == token { // a server bug that would otherwise loop forever
			return nil, fmt.Errorf("GET %s: the server returned page token %q twice", path, token)
		}
		token = page.NextPageToken
	}
}

// del sends a DELETE and ignores any response body.
func (c *Client) del(ctx context.Context, path string, query url.Values, ifGeneration int64) error {
	return c.send(ctx, http.MethodDelete, path, query, nil, ifGeneration, nil)
}

// seg escapes one path segment.
func seg(s string) string { return "/" + url.PathEscape(s) }

// segInt formats a numeric path segment.
func segInt(n int64) string { return "/" + strconv.FormatInt(n, 10) }

// Ready reports whether the server answers GET /readyz with 200.
func (c *Client) Ready(ctx context.Context) error {
	resp, err := c.roundTrip(ctx, http.MethodGet, "/readyz", nil, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the mlops API at %s is not ready: %w", c.endpoint, c.newError(resp, http.MethodGet, "/readyz"))
	}
	return nil
}
