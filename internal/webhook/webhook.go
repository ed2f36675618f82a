// Package webhook delivers signed webhooks for mlopsd's drift-monitor alerts.
//
// A delivery is one HTTP POST: Send makes a single attempt and classifies the
// outcome, because retries are driven by the caller's durable job queue (one
// HTTP attempt per job attempt, waiting Backoff between them, at most
// MaxAttempts). Receivers authenticate a delivery with Verify and deduplicate
// retries by DeliveryHeader.
//
// The Sender refuses private addresses unless its Policy allows them, and it
// checks the address actually dialed, so a hostname that resolves (or later
// rebinds) to an internal host cannot be used to reach it. Secrets never
// appear in errors; the package does not log.
package webhook

import (
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Headers set on every delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">";
	// the signed timestamp lets receivers reject replays.
	SignatureHeader = "X-Mlops-Signature"
	// EventHeader names the event, e.g. "monitor.drifting".
	EventHeader = "X-Mlops-Event"
	// DeliveryHeader is the delivery's unique id, the same on every retry, so receivers can dedupe.
	DeliveryHeader = "X-Mlops-Delivery"
)

// MaxAttempts is how many attempts a delivery gets before it is recorded as failed.
const MaxAttempts = 8

// Delivery is one webhook to send.
type Delivery struct {
	ID     string // same across retries
	Event  string
	URL    string
	Secret string // signs the body; empty sends no SignatureHeader
	Body   []byte // JSON
}

// String omits the secret, so printing a Delivery with %v or %+v cannot leak it.
func (d Delivery) String() string {
	secret := "none"
	if d.Secret != "" {
		secret = "set"
	}
	return "webhook.Delivery{ID:" + strconv.Quote(d.ID) + " Event:" + strconv.Quote(d.Event) +
		" URL:" + strconv.Quote(d.URL) + " Secret:" + secret + " Body:" + strconv.Itoa(len(d.Body)) + " bytes}"
}

// GoString covers %#v, which would otherwise print every field.
func (d Delivery) GoString() string { return d.String() }

// LogValue keeps the secret and body out of slog output.
func (d Delivery) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", d.ID),
		slog.String("event", d.Event),
		slog.String("url", d.URL),
		slog.Bool("signed", d.Secret != ""),
		slog.Int("body_bytes", len(d.Body)),
	)
}

// Backoff is the wait before attempt n+1 after n failed attempts (n >= 1; less
// counts as 1): base doubled n-1 times, capped at maxWait (<= 0: no cap), less
// up to 10% jitter so a receiver recovering from an outage is not hit by every
// retry at once. The result lies in [0.9*d, d] for d = min(base*2^(n-1), maxWait).
func Backoff(n int, base, maxWait time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	if maxWait <= 0 {
		maxWait = math.MaxInt64
	}
	n = min(max(n, 1), 64)
	d := maxWait
	// Shifting only when it stays within the cap keeps huge n at the cap instead of overflowing.
	if base <= maxWait>>(n-1) {
		d = base << (n - 1)
	}
	return d - time.Duration(rand.Int64N(int64(d/10)+1))
}
