package drift

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzCompare feeds arbitrary small samples to every metric: Compare may
// refuse them but must not panic, and what it returns must be finite, a
// p-value within [0, 1] and a distance non-negative.
func FuzzCompare(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6}, uint8(3), false)
	f.Add([]byte{0, 0, 0, 0, 0, 1}, uint8(5), false)
	f.Add([]byte{7, 7, 7, 7}, uint8(2), true)
	f.Add([]byte{0xff, 0xf8, 0, 0, 0, 0, 0, 1, 2}, uint8(1), false) // a NaN's bits
	f.Add([]byte{0x7f, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(8), false)
	f.Add([]byte{1, 200, 3, 250}, uint8(2), true)
	f.Fuzz(func(t *testing.T, data []byte, split uint8, cats bool) {
		at := int(split) % (len(data) + 1)
		base, cur := fuzzSample(data[:at], cats), fuzzSample(data[at:], cats)
		for _, metric := range []string{MetricPSI, MetricKS, MetricWasserstein, MetricJensenShannon, MetricChiSquared} {
			r, err := Compare(metric, base, cur)
			if err != nil {
				continue
			}
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || math.IsNaN(r.Statistic) || math.IsInf(r.Statistic, 0) {
				t.Fatalf("%s: %+v is not finite", metric, r)
			}
			if r.PValue && (r.Value < 0 || r.Value > 1) || !r.PValue && r.Value < 0 {
				t.Fatalf("%s: %+v out of range", metric, r)
			}
		}
	})
}

// fuzzSample decodes a side: for numbers, 8-byte chunks as raw float64 bits
// (NaN, ±Inf, huge values) and leftover bytes as small integers (ties); for
// categories, each byte pair as a category of 8 and a count that may be 0
// or negative.
func fuzzSample(data []byte, cats bool) *Sample {
	if cats {
		s := &Sample{Counts: map[string]int64{}, Missing: int64(len(data) % 3)}
		for i := 0; i+1 < len(data); i += 2 {
			s.Counts[string(rune('a'+data[i]%8))] += int64(int8(data[i+1]))
		}
		return s
	}
	s := &Sample{Numeric: true}
	for len(data) >= 8 && data[0]&0x40 != 0 {
		s.Values = append(s.Values, math.Float64frombits(binary.BigEndian.Uint64(data)))
		data = data[8:]
	}
	for _, b := range data {
		s.Values = append(s.Values, float64(int8(b))/4)
	}
	return s
}
