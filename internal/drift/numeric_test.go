package drift

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func numeric(vs ...float64) *Sample { return &Sample{Numeric: true, Values: vs} }

// seq returns from, from+1, ..., from+n-1.
func seq(from float64, n int) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = from + float64(i)
	}
	return vs
}

func normal(r *rand.Rand, n int, mean float64) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = r.NormFloat64() + mean
	}
	return vs
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

func compare(t *testing.T, metric string, baseline, current *Sample) Result {
	t.Helper()
	r, err := Compare(metric, baseline, current)
	if err != nil {
		t.Fatalf("%s: %v", metric, err)
	}
	return r
}

func TestDecileEdges(t *testing.T) {
	// 0..99: quantile i/10 sits at rank 99·i/10 = 9.9i, so q = 9.9i.
	edges := decileEdges(seq(0, 100))
	for i, e := range edges {
		near(t, "edge", e, 9.9*float64(i+1), 1e-12)
	}
	if len(edges) != 9 {
		t.Fatalf("%d edges, want 9", len(edges))
	}

	// Heavy ties collapse: 70% zeros, 30% ones gives deciles
	// 0,0,0,0,0,0,x,1,1 with one interpolated edge between.
	vs := append(make([]float64, 70), slices.Repeat([]float64{1}, 30)...)
	edges = decileEdges(vs)
	// rank of q0.7 is 99·0.7 = 69.3: 0 + 0.3·(1-0) = 0.3.
	if want := []float64{0, 0.3, 1}; !slices.Equal(edges, want) {
		t.Fatalf("tied edges = %v, want %v", edges, want)
	}
	if got := decileEdges([]float64{4, 4, 4}); !slices.Equal(got, []float64{4}) {
		t.Fatalf("constant edges = %v, want [4]", got)
	}
}

func TestBinCountsRightClosedOpenEnds(t *testing.T) {
	got := binCounts([]float64{-100, 0, 0.5, 1, 1.5, 100}, []float64{0, 1})
	// (-Inf,0] gets -100 and 0; (0,1] gets 0.5 and 1; (1,Inf) the rest.
	if want := []int64{2, 2, 2}; !slices.Equal(got, want) {
		t.Fatalf("binCounts = %v, want %v", got, want)
	}
}

func TestSelectRanksMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 33, 100, 1000, 10_000} {
		for _, distinct := range []int{1, 3, 1 << 30} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(r.IntN(distinct))
			}
			sorted := slices.Sorted(slices.Values(xs))
			ranks := []int{0, n / 3, n / 2, n - 1}
			ranks = slices.Compact(ranks)
			selectRanks(xs, ranks)
			for _, k := range ranks {
				if xs[k] != sorted[k] {
					t.Fatalf("n=%d distinct=%d rank %d: %v, want %v", n, distinct, k, xs[k], sorted[k])
				}
			}
		}
	}
	// Sorted and reverse-sorted input must not degrade; also checks results.
	xs := seq(0, 100_000)
	slices.Reverse(xs)
	selectRanks(xs, []int{10, 50_000, 99_999})
	if xs[10] != 10 || xs[50_000] != 50_000 || xs[99_999] != 99_999 {
		t.Fatal("selection on reversed input is wrong")
	}
}

func TestPSINumericByHand(t *testing.T) {
	// Baseline 0..99: ten bins of 10% each (edges 9.9, 19.8, ..., 89.1).
	// Current 10..109: bin 0 is empty (0 → epsilon 0.0001), bins 1-8 hold
	// 10% each and the open last bin holds 90..109, 20%.
	want := (0.0001-0.1)*math.Log(0.0001/0.1) + (0.2-0.1)*math.Log(0.2/0.1)
	near(t, "want", want, 0.7594, 1e-4) // the formula, evaluated by hand
	r := compare(t, MetricPSI, numeric(seq(0, 100)...), numeric(seq(10, 100)...))
	near(t, "psi", r.Value, want, 1e-12)
	if r.PValue || r.Statistic != 0 {
		t.Errorf("psi result %+v: not a p-value, no statistic", r)
	}
}

func TestJensenShannonNumericByHand(t *testing.T) {
	// Same bins as TestPSINumericByHand: p = 0.1 ×10, q = 0, 0.1 ×8, 0.2.
	// M = 0.05, 0.1 ×8, 0.15. JSD = ½(0.1 ln(0.1/0.05) + 0.1 ln(0.1/0.15)
	// + 0.2 ln(0.2/0.15)); no epsilon is involved.
	jsd := 0.5 * (0.1*math.Log(2) + 0.1*math.Log(0.1/0.15) + 0.2*math.Log(0.2/0.15))
	near(t, "want", math.Sqrt(jsd), 0.2077, 1e-4)
	r := compare(t, MetricJensenShannon, numeric(seq(0, 100)...), numeric(seq(10, 100)...))
	near(t, "js", r.Value, math.Sqrt(jsd), 1e-12)
}

func TestJensenShannonDisjointIsSqrtLn2(t *testing.T) {
	// Natural log (scipy's default): disjoint distributions are sqrt(ln 2) apart.
	near(t, "js([1,0],[0,1])", jensenShannon([]float64{1, 0}, []float64{0, 1}), math.Sqrt(math.Ln2), 1e-15)
	near(t, "js(p,p)", jensenShannon([]float64{0.3, 0.7}, []float64{0.3, 0.7}), 0, 1e-15)
}

func TestWasserstein(t *testing.T) {
	// The published example: W1([0,1,3], [5,6,8]) = 5 (every value moves 5).
	near(t, "W1", wasserstein1([]float64{0, 1, 3}, []float64{5, 6, 8}), 5, 1e-12)
	// Unequal sizes: [0] vs [1,2] moves half the mass 1 and half 2.
	near(t, "W1 unequal", wasserstein1([]float64{0}, []float64{1, 2}), 1.5, 1e-12)
	near(t, "W1 same distribution", wasserstein1([]float64{0, 1}, []float64{0, 0, 1, 1}), 0, 0)

	// Normed by the population std of [0,1,3]: mean 4/3, variance
	// (16/9 + 1/9 + 25/9)/3 = 14/9, so 5/(√14/3) = 15/√14 ≈ 4.0089. The
	// sample std (÷2) would give 5/√(7/3) ≈ 3.27.
	r := compare(t, MetricWasserstein, numeric(3, 0, 1), numeric(8, 6, 5))
	near(t, "wasserstein", r.Value, 15/math.Sqrt(14), 1e-12)
}

func TestWassersteinConstantBaseline(t *testing.T) {
	r := compare(t, MetricWasserstein, numeric(2, 2, 2), numeric(2, 2))
	if r.Value != 0 {
		t.Errorf("same constant: %v, want 0", r.Value)
	}
	_, err := Compare(MetricWasserstein, numeric(2, 2, 2), numeric(2, 3))
	if !errors.Is(err, ErrConstantBaseline) {
		t.Errorf("different current: err %v, want ErrConstantBaseline", err)
	}
}
