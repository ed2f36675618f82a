package drift

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// defaultThreshold mirrors api.DefaultThreshold (Evidently's defaults).
var defaultThreshold = map[string]float64{
	MetricPSI: 0.1, MetricKS: 0.05, MetricWasserstein: 0.1, MetricJensenShannon: 0.1, MetricChiSquared: 0.05,
}

var (
	numericMetrics     = []string{MetricPSI, MetricKS, MetricWasserstein, MetricJensenShannon}
	categoricalMetrics = []string{MetricPSI, MetricChiSquared, MetricJensenShannon}
)

func TestDrifted(t *testing.T) {
	for _, tc := range []struct {
		metric           string
		value, threshold float64
		want             bool
	}{
		{MetricKS, 0.049, 0.05, true},
		{MetricKS, 0.05, 0.05, false},
		{MetricChiSquared, 0.01, 0.05, true},
		{MetricPSI, 0.1, 0.1, true},
		{MetricPSI, 0.09, 0.1, false},
		{MetricWasserstein, 0.2, 0.1, true},
		{MetricJensenShannon, 0.05, 0.1, false},
		{MetricPSI, math.NaN(), 0.1, false},
		{MetricKS, math.NaN(), 0.05, false},
	} {
		if got := Drifted(tc.metric, tc.value, tc.threshold); got != tc.want {
			t.Errorf("Drifted(%s, %v, %v) = %v, want %v", tc.metric, tc.value, tc.threshold, got, tc.want)
		}
	}
}

func TestIdenticalDistributionsDoNotDrift(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := normal(r, 5000, 0)
	for _, metric := range numericMetrics {
		res := compare(t, metric, numeric(slices.Clone(base)...), numeric(slices.Clone(base)...))
		if Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s on identical samples: %+v drifts", metric, res)
		}
	}
	counts := map[string]int64{"red": 500, "green": 300, "blue": 200}
	for _, metric := range categoricalMetrics {
		res := compare(t, metric, categorical(counts), categorical(counts))
		if Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s on identical counts: %+v drifts", metric, res)
		}
	}
}

func TestSameDistributionDoesNotDrift(t *testing.T) {
	// Independent draws of 5000 from one distribution: the distances stay
	// well under their thresholds. (A p-value test is another matter: see
	// TestPValuesAreCalibrated.)
	r := rand.New(rand.NewPCG(1, 2))
	base, cur := normal(r, 5000, 0), normal(r, 5000, 0)
	for _, metric := range []string{MetricPSI, MetricWasserstein, MetricJensenShannon} {
		res := compare(t, metric, numeric(base...), numeric(cur...))
		if Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s on two draws of N(0,1): %+v drifts", metric, res)
		}
	}
}

// TestPValuesAreCalibrated: under the null hypothesis a p-value is uniform,
// so about 5% of comparisons of two draws from one distribution drift at
// p < 0.05. The bounds are about 3.5 binomial standard deviations wide.
func TestPValuesAreCalibrated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rate := func(trials int, drifts func() bool) float64 {
		n := 0
		for range trials {
			if drifts() {
				n++
			}
		}
		return float64(n) / float64(trials)
	}
	for _, tc := range []struct {
		name   string
		size   int
		trials int
		lo, hi float64
	}{
		{"ks exact", 200, 400, 0.015, 0.085},
		{"ks asymptotic", 5000, 200, 0.01, 0.10},
	} {
		got := rate(tc.trials, func() bool {
			res := compare(t, MetricKS, numeric(normal(r, tc.size, 0)...), numeric(normal(r, tc.size, 0)...))
			return Drifted(MetricKS, res.Value, 0.05)
		})
		t.Logf("%s: %.3f drift", tc.name, got)
		if got < tc.lo || got > tc.hi {
			t.Errorf("%s: %.3f of null comparisons drift, want about 0.05", tc.name, got)
		}
	}
	draw := func(n int) map[string]int64 {
		counts := map[string]int64{}
		for range n {
			switch u := r.Float64(); {
			case u < 0.5:
				counts["a"]++
			case u < 0.8:
				counts["b"]++
			default:
				counts["c"]++
			}
		}
		return counts
	}
	baseline := categorical(map[string]int64{"a": 5, "b": 3, "c": 2}) // the true proportions
	got := rate(400, func() bool {
		res := compare(t, MetricChiSquared, baseline, categorical(draw(1000)))
		return Drifted(MetricChiSquared, res.Value, 0.05)
	})
	t.Logf("chi_squared: %.3f drift", got)
	if got < 0.015 || got > 0.085 {
		t.Errorf("chi_squared: %.3f of null comparisons drift, want about 0.05", got)
	}
}

func TestShiftedMeanDrifts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base, cur := normal(r, 5000, 0), normal(r, 5000, 1)
	results := map[string]Result{}
	for _, metric := range numericMetrics {
		res := compare(t, metric, numeric(base...), numeric(cur...))
		results[metric] = res
		if !Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s on N(0,1) vs N(1,1): %+v does not drift", metric, res)
		}
	}
	// A mean shift of one σ moves every value by σ: normed W1 ≈ 1. KS D is
	// then 2Φ(0.5) - 1 ≈ 0.383.
	near(t, "wasserstein", results[MetricWasserstein].Value, 1, 0.05)
	near(t, "ks D", results[MetricKS].Statistic, 0.383, 0.03)
}

func TestNewCategoryDrifts(t *testing.T) {
	base := map[string]int64{"a": 500, "b": 500}
	cur := map[string]int64{"a": 450, "b": 450, "c": 100}
	for _, metric := range categoricalMetrics {
		res := compare(t, metric, categorical(base), categorical(cur))
		if !Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s with a new category of 10%%: %+v does not drift", metric, res)
		}
	}
}

func TestBooleansAreCategories(t *testing.T) {
	base := categorical(map[string]int64{"true": 700, "false": 300})
	same := categorical(map[string]int64{"true": 70, "false": 30})
	flipped := categorical(map[string]int64{"true": 300, "false": 700})
	for _, metric := range categoricalMetrics {
		if res := compare(t, metric, base, same); Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s same share: %+v drifts", metric, res)
		}
		if res := compare(t, metric, base, flipped); !Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s flipped share: %+v does not drift", metric, res)
		}
	}
}

func TestHeavyTies(t *testing.T) {
	// 90% zeros and 10% ones, against the same shares and against 50/50.
	zerosOnes := func(zeros, ones int) []float64 {
		return append(make([]float64, zeros), slices.Repeat([]float64{1}, ones)...)
	}
	for _, metric := range numericMetrics {
		if res := compare(t, metric, numeric(zerosOnes(900, 100)...), numeric(zerosOnes(90, 10)...)); Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s same shares: %+v drifts", metric, res)
		}
		if res := compare(t, metric, numeric(zerosOnes(900, 100)...), numeric(zerosOnes(50, 50)...)); !Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s 90/10 vs 50/50: %+v does not drift", metric, res)
		}
	}
}

func TestConstantColumns(t *testing.T) {
	five := slices.Repeat([]float64{5}, 100)
	for _, metric := range numericMetrics {
		res := compare(t, metric, numeric(five...), numeric(five...))
		if Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s constant vs same constant: %+v drifts", metric, res)
		}
		res, err := Compare(metric, numeric(five...), numeric(slices.Repeat([]float64{6}, 100)...))
		if metric == MetricWasserstein {
			if !errors.Is(err, ErrConstantBaseline) {
				t.Errorf("wasserstein on a constant baseline: %v, want ErrConstantBaseline", err)
			}
			continue
		}
		if err != nil || !Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s constant vs other constant: %+v, %v; want drift", metric, res, err)
		}
	}
}

func TestMissingValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base, cur := normal(r, 1000, 0), normal(r, 1000, 0.5)
	for _, metric := range numericMetrics {
		plain := compare(t, metric, numeric(base...), numeric(cur...))
		withMissing := compare(t, metric, &Sample{Numeric: true, Values: base, Missing: 400}, &Sample{Numeric: true, Values: cur, Missing: 7})
		if plain != withMissing {
			t.Errorf("%s: Missing changed the result: %+v vs %+v", metric, plain, withMissing)
		}
	}
	s := &Sample{Numeric: true, Values: []float64{1, 2}, Missing: 10}
	if s.N() != 2 {
		t.Errorf("N = %d, want 2 (missing excluded)", s.N())
	}
	// A side that is all missing is empty.
	_, err := Compare(MetricPSI, numeric(1, 2, 3), &Sample{Numeric: true, Missing: 50})
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("all-missing current: %v, want ErrEmpty", err)
	}
	_, err = Compare(MetricChiSquared, &Sample{Missing: 3}, categorical(map[string]int64{"a": 1}))
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("all-missing baseline: %v, want ErrEmpty", err)
	}
}

func TestNonFiniteValuesAreSkipped(t *testing.T) {
	for _, metric := range numericMetrics {
		plain := compare(t, metric, numeric(1, 2, 3, 4, 5), numeric(2, 3, 4, 5, 6))
		dirty := compare(t, metric,
			numeric(math.NaN(), 1, 2, math.Inf(1), 3, 4, 5),
			numeric(2, math.Inf(-1), 3, 4, math.NaN(), 5, 6))
		if plain != dirty {
			t.Errorf("%s: NaN/Inf changed the result: %+v vs %+v", metric, plain, dirty)
		}
	}
	_, err := Compare(MetricKS, numeric(1, 2), numeric(math.NaN(), math.Inf(1)))
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("only non-finite values: %v, want ErrEmpty", err)
	}
}

func TestCompareOnlyPermutesValues(t *testing.T) {
	// A caller may compare one Sample with several metrics in turn.
	r := rand.New(rand.NewPCG(1, 2))
	base := numeric(append(normal(r, 300, 0), math.NaN())...)
	cur := numeric(append(normal(r, 300, 0.3), math.Inf(1))...)
	want := slices.Sorted(slices.Values(base.Values))
	first := map[string]Result{}
	for _, metric := range numericMetrics {
		first[metric] = compare(t, metric, base, cur)
	}
	for _, metric := range numericMetrics {
		if again := compare(t, metric, base, cur); again != first[metric] {
			t.Errorf("%s changed on a second call: %+v vs %+v", metric, first[metric], again)
		}
	}
	got := slices.Sorted(slices.Values(base.Values))
	if len(got) != len(want) || !slices.Equal(got[1:], want[1:]) || !math.IsNaN(got[0]) {
		t.Error("Compare changed the baseline's values, not just their order")
	}
}

func TestSampleComparedWithItself(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := numeric(normal(r, 100_000, 0)...)
	for _, metric := range numericMetrics {
		res := compare(t, metric, s, s)
		if Drifted(metric, res.Value, defaultThreshold[metric]) {
			t.Errorf("%s of a sample with itself: %+v drifts", metric, res)
		}
	}
}

func TestPreparedBaselineMatchesCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	raw, cur := normal(r, 100_000, 0), normal(r, 100_000, 0.02)
	b := Prepare(numeric(slices.Clone(raw)...))
	if b.N() != 100_000 {
		t.Fatalf("N = %d", b.N())
	}
	// Concurrent comparisons share the lazily sorted baseline.
	var wg sync.WaitGroup
	results := make([]Result, len(numericMetrics))
	errs := make([]error, len(numericMetrics))
	for i, metric := range numericMetrics {
		wg.Go(func() { results[i], errs[i] = b.Compare(metric, numeric(slices.Clone(cur)...)) })
	}
	wg.Wait()
	for i, metric := range numericMetrics {
		want := compare(t, metric, numeric(slices.Clone(raw)...), numeric(slices.Clone(cur)...))
		if errs[i] != nil || results[i] != want {
			t.Errorf("%s prepared: %+v, %v; Compare: %+v", metric, results[i], errs[i], want)
		}
	}
}

func TestErrors(t *testing.T) {
	num, cat := numeric(1, 2, 3), categorical(map[string]int64{"a": 1})
	for _, tc := range []struct {
		name          string
		metric        string
		baseline, cur *Sample
		want          error
	}{
		{"unknown metric", "kl_div", num, num, ErrUnknownMetric},
		{"ks on categories", MetricKS, cat, cat, ErrNotApplicable},
		{"wasserstein on categories", MetricWasserstein, cat, cat, ErrNotApplicable},
		{"chi_squared on numbers", MetricChiSquared, num, num, ErrNotApplicable},
		{"kinds differ", MetricPSI, num, cat, ErrNotApplicable},
		{"empty current", MetricPSI, num, numeric(), ErrEmpty},
		{"empty baseline", MetricKS, numeric(), num, ErrEmpty},
		{"empty categories", MetricJensenShannon, cat, categorical(map[string]int64{"a": 0}), ErrEmpty},
		{"nil current", MetricPSI, num, nil, ErrEmpty},
		{"nil baseline", MetricPSI, nil, num, ErrEmpty},
	} {
		_, err := Compare(tc.metric, tc.baseline, tc.cur)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Prepare(nil).Compare(MetricKS, num); !errors.Is(err, ErrEmpty) {
		t.Errorf("Prepare(nil): err %v, want ErrEmpty", err)
	}
}
