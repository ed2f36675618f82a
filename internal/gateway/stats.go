package gateway

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// Stats summarizes the requests one version of a deployment finished.
type Stats struct {
	Requests int64
	// Errors are 5xx answers, backends that could not be reached, and
	// responses the backend broke off. Requests the client abandoned count
	// in Requests but not here.
	Errors    int64
	ErrorRate float64 // Errors / Requests; 0 without requests
	// P50 and P99 are latency percentiles, from the request reaching the
	// gateway to the last byte of the response.
	P50, P99 time.Duration
}

// Latencies are counted in HDR-style buckets: 1 µs wide below 16 µs, then
// 16 buckets per power of two, so a bucket is at most 1/16 of its lower
// bound wide. A percentile is reported as the middle of its bucket, within
// 1/32 (3.1 %) of a latency really observed at that rank. Latencies from
// 2^31 µs (about 36 minutes) on share the last bucket.
const (
	subBits    = 4
	subBuckets = 1 << subBits
	maxBits    = 31
	numBuckets = (maxBits - subBits + 1) * subBuckets // 448
)

// bucketOf returns the bucket of a latency of us microseconds.
func bucketOf(us int64) int {
	if us < subBuckets {
		return int(max(us, 0))
	}
	if us >= 1<<maxBits {
		return numBuckets - 1
	}
	shift := bits.Len64(uint64(us)) - subBits - 1
	return (shift+1)*subBuckets + int(us>>shift) - subBuckets
}

// bucketMid returns the middle of bucket i in microseconds.
func bucketMid(i int) float64 {
	if i < subBuckets {
		return float64(i) + 0.5
	}
	shift := i/subBuckets - 1
	lower := float64((subBuckets + i%subBuckets) << shift)
	return lower + float64(int64(1)<<shift)/2
}

// slots is how many time slots a window has: Window/slots is the time
// resolution of Stats' since (1 s for the default 5 minutes).
const slots = 300

// window is a sliding window of request statistics: a ring of time slots,
// each with counts and a latency histogram. A slot's histogram only spans
// the buckets it saw (a second's latencies rarely spread over more than a
// few powers of two), so a busy window takes some 100-550 KiB and an idle
// one about 20 KiB. One short lock per request: no global lock, and never
// held across a proxied call.
type window struct {
	width int64 // nanoseconds per slot

	mu    sync.Mutex
	slots [slots]slot
	last  int64 // number of the latest slot written
}

type slot struct {
	n          int64 // which period (unix time / width) the slot holds
	reqs, errs int64
	lo         int      // bucket of hist[0]
	hist       []uint32 // counts of buckets lo, lo+1, ...
}

func newWindow(d time.Duration) *window {
	return &window{width: max(int64(d)/slots, 1)}
}

func (w *window) record(now time.Time, d time.Duration, isErr bool) {
	n := now.UnixNano() / w.width
	b := bucketOf(d.Microseconds())
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.slots[n%slots]
	if s.n != n {
		// The slot held a period that has left the window: reuse it.
		s.n, s.reqs, s.errs, s.hist = n, 0, 0, s.hist[:0]
	}
	s.reqs++
	if isErr {
		s.errs++
	}
	s.add(b)
	w.last = max(w.last, n)
}

func (s *slot) add(b int) {
	switch {
	case len(s.hist) == 0:
		s.lo, s.hist = b, append(s.hist, 0)
	case b < s.lo:
		grown := make([]uint32, s.lo-b+len(s.hist), max(cap(s.hist), s.lo-b+len(s.hist)))
		copy(grown[s.lo-b:], s.hist)
		s.lo, s.hist = b, grown
	case b >= s.lo+len(s.hist):
		s.hist = append(s.hist, make([]uint32, b-s.lo-len(s.hist)+1)...)
	}
	s.hist[b-s.lo]++
}

// Summary is the mergeable form of Stats: counts and a latency histogram
// (the buckets described above, from bucket Lo on). Replicas of a server
// each see part of a deployment's traffic; the sum of their summaries is
// what the deployment saw.
type Summary struct {
	Requests int64    `json:"requests"`
	Errors   int64    `json:"errors"`
	Lo       int      `json:"lo,omitempty"`
	Hist     []uint64 `json:"hist,omitempty"`
}

// Add returns the summary of both s's and o's requests.
func (s Summary) Add(o Summary) Summary {
	out := Summary{Requests: s.Requests + o.Requests, Errors: s.Errors + o.Errors}
	var hist [numBuckets]uint64
	s.addTo(&hist)
	o.addTo(&hist)
	out.Lo, out.Hist = compact(&hist)
	return out
}

// addTo adds the histogram to a full one; buckets out of range (a summary
// from a newer build, or a corrupt one) are ignored rather than trusted.
func (s Summary) addTo(hist *[numBuckets]uint64) {
	for i, c := range s.Hist {
		if b := s.Lo + i; b >= 0 && b < numBuckets {
			hist[b] += c
		}
	}
}

// compact returns the span of hist between its first and last non-zero bucket.
func compact(hist *[numBuckets]uint64) (int, []uint64) {
	lo, hi := -1, -1
	for i, c := range hist {
		if c != 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return 0, nil
	}
	return lo, slices.Clone(hist[lo : hi+1])
}

// Stats computes the error rate and latency percentiles of the summary.
func (s Summary) Stats() Stats {
	st := Stats{Requests: s.Requests, Errors: s.Errors}
	if s.Requests <= 0 {
		return Stats{}
	}
	var hist [numBuckets]uint64
	s.addTo(&hist)
	var n int64
	for _, c := range hist {
		n += int64(c)
	}
	st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	st.P50 = quantile(&hist, n, 0.50)
	st.P99 = quantile(&hist, n, 0.99)
	return st
}

// summary sums the slots from the one holding since (so up to one slot
// before since counts too) to now, at most one window back.
func (w *window) summary(now, since time.Time) Summary {
	hi := now.UnixNano() / w.width
	lo := hi - slots + 1
	if since.After(now.Add(-time.Duration(w.width * slots))) {
		lo = max(lo, since.UnixNano()/w.width)
	}
	var sum Summary
	var hist [numBuckets]uint64
	w.mu.Lock()
	for i := range w.slots {
		s := &w.slots[i]
		if s.n < lo || s.n > hi || s.reqs == 0 {
			continue
		}
		sum.Requests += s.reqs
		sum.Errors += s.errs
		for j, c := range s.hist {
			hist[s.lo+j] += uint64(c)
		}
	}
	w.mu.Unlock()
	sum.Lo, sum.Hist = compact(&hist)
	return sum
}

// quantile returns the latency at rank ceil(q*n) (nearest rank).
func quantile(hist *[numBuckets]uint64, n int64, q float64) time.Duration {
	rank := uint64(max(math.Ceil(q*float64(n)), 1))
	var seen uint64
	for i, c := range hist {
		if seen += c; seen >= rank {
			return time.Duration(bucketMid(i) * float64(time.Microsecond))
		}
	}
	return 0
}

// idle reports whether nothing was recorded for a whole window.
func (w *window) idle(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return now.UnixNano()/w.width-w.last >= slots
}
