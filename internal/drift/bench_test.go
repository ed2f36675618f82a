package drift

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// The benchmarks compare each metric on one 1M-value feature with the floor
// for quantile-based statistics: copying and sorting 1M values once. Compare
// permutes its inputs in place, so every iteration first copies the values
// it hands over into scratch slices (otherwise later iterations would see
// sorted input); the floor copies too, so both sides pay the same copy.

const benchRows = 1_000_000

var benchData = sync.OnceValue(func() (d struct{ baseline, current [][]float64 }) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		b, c := make([]float64, benchRows), make([]float64, benchRows)
		for i := range b {
			b[i] = r.NormFloat64()
			c[i] = r.NormFloat64() + 0.05
		}
		d.baseline, d.current = append(d.baseline, b), append(d.current, c)
	}
	return d
})

// BenchmarkSort1M is the floor: copy and sort 1M float64 values.
func BenchmarkSort1M(b *testing.B) {
	src := benchData().current[0]
	scratch := make([]float64, len(src))
	for b.Loop() {
		copy(scratch, src)
		slices.Sort(scratch)
	}
}

func benchCompare(b *testing.B, metric string) {
	d := benchData()
	bs, cs := make([]float64, benchRows), make([]float64, benchRows)
	for b.Loop() {
		copy(bs, d.baseline[0])
		copy(cs, d.current[0])
		if _, err := Compare(metric, &Sample{Numeric: true, Values: bs}, &Sample{Numeric: true, Values: cs}); err != nil {
			b.Fatal(err)
		}
	}
}

// The Compare benchmarks process a 1M baseline and a 1M current sample.
func BenchmarkPSI1M(b *testing.B)           { benchCompare(b, MetricPSI) }
func BenchmarkKS1M(b *testing.B)            { benchCompare(b, MetricKS) }
func BenchmarkWasserstein1M(b *testing.B)   { benchCompare(b, MetricWasserstein) }
func BenchmarkJensenShannon1M(b *testing.B) { benchCompare(b, MetricJensenShannon) }

// The Prepared benchmarks reuse a baseline prepared (and for ks sorted)
// outside the timer, as a monitor comparing many windows with one baseline
// could; each iteration handles the 1M current values only.
func benchPrepared(b *testing.B, metric string) {
	d := benchData()
	base := Prepare(&Sample{Numeric: true, Values: slices.Clone(d.baseline[0])})
	base.sorted()
	cs := make([]float64, benchRows)
	for b.Loop() {
		copy(cs, d.current[0])
		if _, err := base.Compare(metric, &Sample{Numeric: true, Values: cs}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPSI1MPrepared(b *testing.B) { benchPrepared(b, MetricPSI) }
func BenchmarkKS1MPrepared(b *testing.B)  { benchPrepared(b, MetricKS) }

// BenchmarkEvaluate1Mx10 evaluates PSI on 10 numeric features of 1M rows
// each (1M baseline and 1M current rows), one feature after another, and
// reports current rows evaluated per second.
func BenchmarkEvaluate1Mx10(b *testing.B) {
	d := benchData()
	bs, cs := make([]float64, benchRows), make([]float64, benchRows)
	for b.Loop() {
		for f := range d.baseline {
			copy(bs, d.baseline[f])
			copy(cs, d.current[f])
			if _, err := Compare(MetricPSI, &Sample{Numeric: true, Values: bs}, &Sample{Numeric: true, Values: cs}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
