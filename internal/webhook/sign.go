package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Verify's errors match these with errors.Is.
var (
	ErrMalformedSignature = errors.New("malformed signature header")
	ErrStaleSignature     = errors.New("signature timestamp outside tolerance")
	ErrBadSignature       = errors.New("signature does not match")
)

// Sign returns the SignatureHeader value for body signed with secret at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// mac signs "<t>.<body>": binding the timestamp into the MAC is what stops a
// captured delivery from being replayed later with a fresh t.
func mac(secret string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a SignatureHeader value against body and secret. tolerance
// bounds |now - t| in either direction (0: no check). Several v1 entries are
// allowed, any one matching, so a sender can sign with old and new secrets
// while they are rotated. Errors never contain the secret or the expected MAC.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("no secret to verify with")
	}
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return err
	}
	if tolerance > 0 {
		skew := now.Sub(time.Unix(ts, 0))
		if skew > tolerance || skew < -tolerance {
			return fmt.Errorf("%w: signed at %s, %s from now, tolerance %s",
				ErrStaleSignature, time.Unix(ts, 0).UTC().Format(time.RFC3339), skew.Abs().Round(time.Second), tolerance)
		}
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// parseSignature reads "t=<unix>,v1=<hex>[,v1=<hex>...]"; unknown keys are
// ignored so a later scheme (v2=) can be added alongside v1.
func parseSignature(header string) (int64, [][]byte, error) {
	var (
		ts    int64
		haveT bool
		sigs  [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformedSignature)
		}
		switch k {
		case "t":
			if haveT {
				return 0, nil, fmt.Errorf("%w: more than one t", ErrMalformedSignature)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("%w: t is not unix seconds", ErrMalformedSignature)
			}
			ts, haveT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 is not a hex HMAC-SHA256", ErrMalformedSignature)
			}
			sigs = append(sigs, b)
		}
	}
	switch {
	case !haveT:
		return 0, nil, fmt.Errorf("%w: no t", ErrMalformedSignature)
	case len(sigs) == 0:
		return 0, nil, fmt.Errorf("%w: no v1", ErrMalformedSignature)
	}
	return ts, sigs, nil
}
