package drift

import (
	"math"
	"slices"
	"testing"
)

func categorical(counts map[string]int64) *Sample { return &Sample{Counts: counts} }

func TestFillZerosEvidentlyEpsilon(t *testing.T) {
	if got := fillZeros([]float64{0.5, 0.5, 0}); got[2] != 0.0001 {
		t.Errorf("epsilon %v, want 0.0001", got[2])
	}
	// A real proportion at or below 0.0001 scales the epsilon down to a
	// millionth of it, so an empty bin never outweighs a rare real one.
	if got := fillZeros([]float64{0.99995, 0.00005, 0}); got[2] != 0.00005/1e6 {
		t.Errorf("epsilon %v, want 5e-11", got[2])
	}
}

func TestPSICategoricalByHand(t *testing.T) {
	// 60/40 against 40/60: (0.4-0.6)ln(0.4/0.6) + (0.6-0.4)ln(0.6/0.4) = 0.4 ln 1.5.
	r := compare(t, MetricPSI, categorical(map[string]int64{"a": 60, "b": 40}), categorical(map[string]int64{"a": 40, "b": 60}))
	near(t, "psi", r.Value, 0.4*math.Log(1.5), 1e-12)
	near(t, "psi", r.Value, 0.1622, 1e-4)
}

func TestJensenShannonCategoricalUnion(t *testing.T) {
	// Each side has a category the other lacks: over the union they are
	// [1,0] and [0,1], sqrt(ln 2) apart.
	r := compare(t, MetricJensenShannon, categorical(map[string]int64{"yes": 10}), categorical(map[string]int64{"no": 3}))
	near(t, "js", r.Value, math.Sqrt(math.Ln2), 1e-15)
}

func TestChiSquaredByHand(t *testing.T) {
	// Expected 50/50, observed 60/40: χ² = 10²/50 + 10²/50 = 4 with 1
	// degree of freedom, where P(χ² > x) = erfc(√(x/2)) = erfc(√2) ≈ 0.0455.
	r := compare(t, MetricChiSquared, categorical(map[string]int64{"a": 50, "b": 50}), categorical(map[string]int64{"a": 60, "b": 40}))
	near(t, "statistic", r.Statistic, 4, 1e-12)
	near(t, "p", r.Value, math.Erfc(math.Sqrt2), 1e-12)
	near(t, "p", r.Value, 0.0455, 1e-4)
	if !r.PValue {
		t.Error("chi_squared is a p-value")
	}

	// Three categories, expected 100 each, observed 120/90/90: χ² =
	// (400+100+100)/100 = 6 with 2 degrees of freedom, where P(χ² > x) =
	// exp(-x/2) = exp(-3) ≈ 0.0498.
	r = compare(t, MetricChiSquared,
		categorical(map[string]int64{"a": 1, "b": 1, "c": 1}),
		categorical(map[string]int64{"a": 120, "b": 90, "c": 90}))
	near(t, "statistic", r.Statistic, 6, 1e-12)
	near(t, "p", r.Value, math.Exp(-3), 1e-12)

	// The textbook critical value: χ² = 3.84 with 1 degree of freedom is
	// p = 0.05. Observed 5098/4902 against 50/50: χ² = 2·98²/5000 = 3.8416.
	stat, p := chiSquared([]float64{0.5, 0.5}, []int64{5098, 4902})
	near(t, "statistic", stat, 3.8416, 1e-9)
	near(t, "p", p, 0.05, 1e-4)
}

func TestChiSquaredNewCategory(t *testing.T) {
	base := categorical(map[string]int64{"a": 50, "b": 50})
	cur := categorical(map[string]int64{"a": 45, "b": 45, "c": 10})
	r := compare(t, MetricChiSquared, base, cur)
	// The unseen category gets proportion 0.0001 before renormalising:
	// expected 100·q/Σq with q = 0.5, 0.5, 0.0001.
	sum := 1.0001
	ea, ec := 100*0.5/sum, 100*0.0001/sum
	want := 2*(45-ea)*(45-ea)/ea + (10-ec)*(10-ec)/ec
	near(t, "statistic", r.Statistic, want, 1e-9)
	if !Drifted(MetricChiSquared, r.Value, 0.05) {
		t.Errorf("a new category with 10%% of rows: p %v, want drift", r.Value)
	}
}

func TestSingleCategoryBothSides(t *testing.T) {
	r := compare(t, MetricChiSquared, categorical(map[string]int64{"x": 5}), categorical(map[string]int64{"x": 9}))
	if r.Value != 1 || r.Statistic != 0 {
		t.Errorf("one shared category: %+v, want p 1, statistic 0", r)
	}
}

func TestSortedCountsIgnoresNonPositive(t *testing.T) {
	cats, ns, total := sortedCounts(map[string]int64{"b": 2, "a": 1, "z": 0, "n": -5})
	if !slices.Equal(cats, []string{"a", "b"}) || !slices.Equal(ns, []int64{1, 2}) || total != 3 {
		t.Errorf("sortedCounts = %v %v %v", cats, ns, total)
	}
	if got := (&Sample{Counts: map[string]int64{"a": math.MaxInt64, "b": 1}}).N(); got != math.MaxInt64 {
		t.Errorf("N saturates: %v", got)
	}
}
