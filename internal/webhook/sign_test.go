package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSecret = "whsec_Zq8vN3xP0tLk4"

var (
	testBody = []byte(`{"event":"monitor.drifting","monitor":"churn"}`)
	testNow  = time.Unix(1_700_000_000, 0)
)

func TestSignKnownAnswer(t *testing.T) {
	// Computed with: printf '%s' '1700000000.{"event":"monitor.drifting"}' | openssl dgst -sha256 -hmac whsec_known_answer
	const want = "t=1700000000,v1=a9d30021ee12b3032d6b99ea768eb6d339246fba2d161a51904bd9fcc0eaefd2"
	if got := Sign("whsec_known_answer", testNow, []byte(`{"event":"monitor.drifting"}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}

	// And against crypto/hmac directly, for an arbitrary body and time.
	at := time.Unix(1_234_567_890, 999_999_999) // sub-second part is dropped
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte("1234567890."))
	m.Write(testBody)
	want2 := "t=1234567890,v1=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign(testSecret, at, testBody); got != want2 {
		t.Errorf("Sign = %s, want %s", got, want2)
	}
}

func TestVerifyRoundTrip(t *testing.T) {
	h := Sign(testSecret, testNow, testBody)
	if err := Verify(testSecret, h, testBody, testNow.Add(30*time.Second), 5*time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := Verify(testSecret, h, nil, testNow, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("empty body: err = %v, want ErrBadSignature", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	good := Sign(testSecret, testNow, testBody)
	tampered := append([]byte(nil), testBody...)
	tampered[len(tampered)-2] ^= 1
	_, v1, _ := strings.Cut(good, ",")
	wrongTime := "t=" + strconv.FormatInt(testNow.Unix()+1, 10) + "," + v1
	cases := []struct {
		name     string
		secret   string
		header   string
		body     []byte
		now      time.Time
		tol      time.Duration
		want     error
		wantText string
	}{
		{name: "tampered body", secret: testSecret, header: good, body: tampered, now: testNow, want: ErrBadSignature},
		{name: "wrong secret", secret: "whsec_other", header: good, body: testBody, now: testNow, want: ErrBadSignature},
		{name: "timestamp changed", secret: testSecret, header: wrongTime, body: testBody, now: testNow, want: ErrBadSignature},
		{name: "stale", secret: testSecret, header: good, body: testBody, now: testNow.Add(10 * time.Minute), tol: 5 * time.Minute, want: ErrStaleSignature, wantText: "10m0s from now"},
		{name: "from the future", secret: testSecret, header: good, body: testBody, now: testNow.Add(-10 * time.Minute), tol: 5 * time.Minute, want: ErrStaleSignature},
		{name: "empty", secret: testSecret, header: "", body: testBody, now: testNow, want: ErrMalformedSignature},
		{name: "garbage", secret: testSecret, header: "sha256=abc", body: testBody, now: testNow, want: ErrMalformedSignature, wantText: "no t"},
		{name: "no equals", secret: testSecret, header: "t1700000000", body: testBody, now: testNow, want: ErrMalformedSignature},
		{name: "no v1", secret: testSecret, header: "t=1700000000", body: testBody, now: testNow, want: ErrMalformedSignature, wantText: "no v1"},
		{name: "no t", secret: testSecret, header: v1, body: testBody, now: testNow, want: ErrMalformedSignature, wantText: "no t"},
		{name: "t not a number", secret: testSecret, header: "t=soon," + v1, body: testBody, now: testNow, want: ErrMalformedSignature},
		{name: "two t", secret: testSecret, header: "t=1," + good, body: testBody, now: testNow, want: ErrMalformedSignature},
		{name: "v1 not hex", secret: testSecret, header: "t=1700000000,v1=" + strings.Repeat("zz", 32), body: testBody, now: testNow, want: ErrMalformedSignature},
		{name: "v1 too short", secret: testSecret, header: "t=1700000000,v1=abcd", body: testBody, now: testNow, want: ErrMalformedSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, tc.now, tc.tol)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("err %q echoes the secret", err)
			}
		})
	}
}

func TestVerifyNoSecret(t *testing.T) {
	if err := Verify("", Sign("", testNow, testBody), testBody, testNow, 0); err == nil {
		t.Fatal("Verify with an empty secret succeeded")
	}
}

func TestVerifyToleranceZeroSkipsAgeCheck(t *testing.T) {
	h := Sign(testSecret, testNow, testBody)
	if err := Verify(testSecret, h, testBody, testNow.Add(1000*time.Hour), 0); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyAnyOfSeveralSignatures(t *testing.T) {
	// During secret rotation a sender may sign with both secrets.
	old := Sign("whsec_old", testNow, testBody)
	current := Sign(testSecret, testNow, testBody)
	_, v1, _ := strings.Cut(current, ",")
	h := old + "," + v1 + ",v0=ignored"
	if err := Verify(testSecret, h, testBody, testNow, time.Minute); err != nil {
		t.Errorf("new secret: %v", err)
	}
	if err := Verify("whsec_old", h, testBody, testNow, time.Minute); err != nil {
		t.Errorf("old secret: %v", err)
	}
	if err := Verify("whsec_third", h, testBody, testNow, time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Errorf("third secret: err = %v, want ErrBadSignature", err)
	}
}
