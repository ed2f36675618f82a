package gateway

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for us := int64(0); us < 1<<20; us++ {
		b := bucketOf(us)
		if b != prev && b != prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d: buckets must be contiguous", us, b, prev)
		}
		prev = b
		if mid := bucketMid(b); math.Abs(mid-float64(us)) > max(0.5, float64(us)/32) {
			t.Fatalf("bucketMid(bucketOf(%d)) = %v: more than 1/32 off", us, mid)
		}
	}
	if b := bucketOf(math.MaxInt64); b != numBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want the last bucket %d", b, numBuckets-1)
	}
	if b := bucketOf(-5); b != 0 {
		t.Errorf("bucketOf(-5) = %d", b)
	}
}

// TestWindowPercentiles compares the window's percentiles with exact ones
// over latencies spread from 20µs to 20s.
func TestWindowPercentiles(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	w := newWindow(5 * time.Minute)
	now := time.Now()
	var all []time.Duration
	for i := range 100_000 {
		d := time.Duration(20e3 * math.Exp(rnd.Float64()*math.Log(1e6)))
		all = append(all, d)
		// Spread over the last 100 slots, so merging and growing slots is exercised.
		w.record(now.Add(-time.Duration(i%100)*time.Second), d, false)
	}
	slices.Sort(all)
	st := w.summary(now, time.Time{}).Stats()
	if st.Requests != int64(len(all)) {
		t.Fatalf("requests = %d, want %d", st.Requests, len(all))
	}
	for _, c := range []struct {
		got  time.Duration
		want time.Duration
	}{{st.P50, all[len(all)/2-1]}, {st.P99, all[len(all)*99/100-1]}} {
		if rel := math.Abs(float64(c.got-c.want)) / float64(c.want); rel > 1.0/32 {
			t.Errorf("percentile %v, exact %v: %.1f%% off", c.got, c.want, rel*100)
		}
	}
}

func TestWindowSlides(t *testing.T) {
	w := newWindow(5 * time.Minute)
	t0 := time.Unix(1_700_000_000, 0)
	w.record(t0, time.Millisecond, true)
	w.record(t0.Add(10*time.Second), 3*time.Millisecond, false)

	if st := w.summary(t0.Add(10*time.Second), t0.Add(5*time.Second)).Stats(); st.Requests != 1 || st.Errors != 0 {
		t.Errorf("since between the two: %+v, want only the later one", st)
	}
	if st := w.summary(t0.Add(10*time.Second), time.Time{}).Stats(); st.Requests != 2 || st.ErrorRate != 0.5 {
		t.Errorf("whole window: %+v, want both, half errors", st)
	}
	if st := w.summary(t0.Add(5*time.Minute+5*time.Second), time.Time{}).Stats(); st.Requests != 1 {
		t.Errorf("after the first slid out: %+v, want the later one", st)
	}
	if w.idle(t0.Add(5 * time.Minute)) {
		t.Error("idle while a request is in the window")
	}
	if !w.idle(t0.Add(10*time.Minute)) || !newWindow(time.Minute).idle(t0) {
		t.Error("not idle after a window without requests")
	}

	// A slot reused for a later period starts from zero.
	w.record(t0.Add(5*time.Minute), 40*time.Millisecond, false)
	st := w.summary(t0.Add(5*time.Minute), t0.Add(5*time.Minute)).Stats()
	if st.Requests != 1 || st.P99 < 38*time.Millisecond || st.P99 > 42*time.Millisecond {
		t.Errorf("reused slot: %+v, want one request of 40ms", st)
	}
}

func BenchmarkWindowRecord(b *testing.B) {
	w := newWindow(5 * time.Minute)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.record(time.Now(), 3*time.Millisecond, false)
		}
	})
}

// Replicas each see part of the traffic: the sum of their summaries must
// give what one window seeing all of it gives.
func TestSummariesAddUp(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	now := time.Now()
	whole := newWindow(5 * time.Minute)
	parts := []*window{newWindow(5 * time.Minute), newWindow(5 * time.Minute), newWindow(5 * time.Minute)}
	for i := range 30_000 {
		d := time.Duration(50e3 * math.Exp(rnd.Float64()*math.Log(1e4)))
		isErr := i%17 == 0
		at := now.Add(-time.Duration(i%60) * time.Second)
		whole.record(at, d, isErr)
		parts[rnd.IntN(len(parts))].record(at, d, isErr)
	}
	since := now.Add(-30 * time.Second)
	var sum Summary
	for _, p := range parts {
		sum = sum.Add(p.summary(now, since))
	}
	if got, want := sum.Stats(), whole.summary(now, since).Stats(); got != want {
		t.Errorf("summed replicas: %+v; one window: %+v", got, want)
	}
	if st := (Summary{Requests: 3, Errors: 1, Lo: numBuckets - 1, Hist: []uint64{1, 5, 5}}).Stats(); st.Requests != 3 || st.P99 == 0 {
		t.Errorf("a summary with buckets past the last: %+v, want them ignored, not a panic", st)
	}
}
