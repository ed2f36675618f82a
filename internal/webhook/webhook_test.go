package webhook

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	const base, maxWait = time.Second, time.Minute
	cases := []struct {
		n    int
		want time.Duration // before jitter
	}{
		{0, time.Second}, // below 1 counts as 1
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{6, 32 * time.Second},
		{7, time.Minute}, // 64s capped
		{MaxAttempts, time.Minute},
		{63, time.Minute},
		{1000, time.Minute}, // no overflow
	}
	for _, tc := range cases {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := Backoff(tc.n, base, maxWait)
			if d < tc.want*9/10 || d > tc.want {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", tc.n, d, tc.want*9/10, tc.want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("Backoff(%d) gave the same wait 200 times; want jitter", tc.n)
		}
	}
}

func TestBackoffEdges(t *testing.T) {
	if d := Backoff(3, 0, time.Minute); d != 0 {
		t.Errorf("zero base: %s, want 0", d)
	}
	// No cap: still doubles, and saturates instead of overflowing.
	if d := Backoff(11, time.Second, 0); d < 921*time.Second || d > 1024*time.Second {
		t.Errorf("uncapped Backoff(11) = %s, want within [921.6s, 1024s]", d)
	}
	if d := Backoff(200, time.Hour, 0); d < time.Duration(math.MaxInt64)/10*9 {
		t.Errorf("uncapped Backoff(200) = %s, want near the largest Duration", d)
	}
	// A schedule a caller might use: 8 attempts, 30s doubling to 1h, about an hour in total.
	var total time.Duration
	for n := 1; n < MaxAttempts; n++ {
		total += Backoff(n, 30*time.Second, time.Hour)
	}
	if total < 56*time.Minute || total > 64*time.Minute {
		t.Errorf("total wait over %d attempts = %s", MaxAttempts, total)
	}
}

func TestDeliveryFormattingHidesSecret(t *testing.T) {
	d := testDelivery("https://hooks.example.com/x")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("sending", "delivery", d, "ptr", &d)
	out := fmt.Sprintf("%v %+v %#v %s %v", d, d, d, d, &d) + buf.String()
	if strings.Contains(out, testSecret) {
		t.Fatalf("formatted delivery contains the secret:\n%s", out)
	}
	for _, want := range []string{"dlv-0001", "monitor.drifting", "Secret:set", `"signed":true`} {
		if !strings.Contains(out, want) {
			t.Errorf("formatted delivery lacks %q:\n%s", want, out)
		}
	}
}
