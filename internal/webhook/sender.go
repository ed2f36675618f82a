package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

const (
	defaultTimeout = 10 * time.Second
	userAgent      = "mlopsd-webhook"
	// maxResponseBody bounds what is read of a receiver's answer: enough to
	// reuse the connection after a typical reply, never enough to hold a
	// delivery on a receiver that streams forever.
	maxResponseBody = 64 << 10
)

// Sender delivers webhooks under a policy. It is safe for concurrent use.
type Sender struct {
	policy  Policy
	timeout time.Duration
	client  *http.Client
}

// NewSender returns a Sender whose every attempt (dial, TLS, request and
// reading the answer) is bounded by timeout (<= 0: 10s).
func NewSender(p Policy, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	s := &Sender{policy: p, timeout: timeout}
	dialer := &net.Dialer{Timeout: timeout, Control: s.control}
	s.client = &http.Client{
		Transport: &http.Transport{
			// No Proxy: an environment proxy would dial on our behalf, past the address check.
			DialContext:            dialer.DialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    timeout,
			MaxIdleConns:           16,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: maxResponseBody,
		},
		Timeout: timeout,
		// A redirect could point anywhere, and the receiver should be configured
		// with its final URL anyway; the 3xx is returned and reported.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// control runs after DNS resolution, just before connect, on the address
// actually dialed: checking here rather than resolving ahead means a hostname
// cannot answer public for the check and private for the connection.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("cannot check dialed address %q: %w", address, err)
	}
	return s.policy.check(ap.Addr())
}

// Result is the outcome of one attempt. Err is nil exactly on a 2xx answer.
// Retryable says whether another attempt may succeed: 408, 429, 5xx and
// network errors are; other 4xx, redirects and policy refusals are not.
type Result struct {
	StatusCode int // 0 when no answer arrived
	Err        error
	Retryable  bool
}

// Send makes one attempt to deliver d, signed at now (zero: the current time).
// Errors never contain the secret: they carry no response body or
// receiver-written status text, and no URL (the caller records it alongside,
// and its query may hold the receiver's token).
func (s *Sender) Send(ctx context.Context, d Delivery, now time.Time) Result {
	if d.ID == "" || d.Event == "" {
		return Result{Err: errors.New("delivery needs an ID and an Event")}
	}
	u, err := s.checkURL(d.URL)
	if err != nil {
		return Result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{Err: fmt.Errorf("building request: %w", unwrapURLError(err))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(EventHeader, d.Event)
	req.Header.Set(DeliveryHeader, d.ID)
	if d.Secret != "" {
		if now.IsZero() {
			now = time.Now()
		}
		req.Header.Set(SignatureHeader, Sign(d.Secret, now, d.Body))
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return s.transportFailure(ctx, u.Hostname(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))

	code := resp.StatusCode
	res := Result{StatusCode: code}
	// http.StatusText rather than resp.Status: the latter is the receiver's text.
	switch {
	case code >= 200 && code < 300:
	case code >= 300 && code < 400:
		res.Err = fmt.Errorf("receiver answered %d %s; redirects are not followed, so configure the final URL", code, http.StatusText(code))
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		res.Err = fmt.Errorf("receiver answered %d %s", code, http.StatusText(code))
		res.Retryable = true
	default:
		res.Err = fmt.Errorf("receiver answered %d %s", code, http.StatusText(code))
	}
	return res
}

// transportFailure classifies an attempt that got no answer. Only a policy
// refusal is final; anything else (DNS, refused, reset, TLS, timeout, the
// caller giving up) may go differently next time.
func (s *Sender) transportFailure(ctx context.Context, host string, err error) Result {
	err = unwrapURLError(err)
	var refused *addrError
	var netErr net.Error
	switch {
	case errors.As(err, &refused):
		return Result{Err: &addrError{host: host, addr: refused.addr}}
	case ctx.Err() != nil:
		return Result{Err: fmt.Errorf("delivery canceled: %w", context.Cause(ctx)), Retryable: true}
	case errors.As(err, &netErr) && netErr.Timeout():
		return Result{Err: fmt.Errorf("no answer within %s: %w", s.timeout, err), Retryable: true}
	}
	return Result{Err: fmt.Errorf("delivery failed: %w", err), Retryable: true}
}

// unwrapURLError drops *url.Error's "Post "<url>":" prefix; see Send.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
