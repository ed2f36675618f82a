// Package drift computes data-drift statistics between a baseline and a
// current sample of one feature, with Evidently's semantics:
//
//   - psi: population stability index over bins (numeric: the baseline's
//     deciles; categorical: the union of categories of both sides).
//   - ks: two-sample Kolmogorov–Smirnov test; the value is the p-value.
//   - wasserstein: Wasserstein-1 distance divided by the baseline's
//     population standard deviation (Evidently's wasserstein_distance_norm).
//   - jensen_shannon: Jensen–Shannon distance over the same bins as psi.
//   - chi_squared: Pearson goodness-of-fit of the current counts against the
//     baseline's proportions; the value is the p-value.
//
// Missing values are counted in Sample.Missing and excluded from every
// distribution; the caller decides what a high missing share means.
package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Metric names, the same strings as the metric constants in internal/api.
const (
	MetricPSI           = "psi"
	MetricKS            = "ks"
	MetricWasserstein   = "wasserstein"
	MetricJensenShannon = "jensen_shannon"
	MetricChiSquared    = "chi_squared"
)

// Errors Compare wraps, so callers can tell bad configuration from bad data.
var (
	ErrUnknownMetric = errors.New("unknown drift metric")
	// ErrNotApplicable: the metric does not apply to the column's kind, or
	// the two sides are of different kinds.
	ErrNotApplicable = errors.New("metric not applicable")
	// ErrEmpty: a side has no non-missing values.
	ErrEmpty = errors.New("no values to compare")
	// ErrConstantBaseline: the normed Wasserstein distance is undefined
	// because the baseline's standard deviation is 0.
	ErrConstantBaseline = errors.New("baseline is constant")
)

// Sample is one column's data on one side (baseline or current).
//
// Values must hold finite numbers only: the caller counts NaN and ±Inf as
// missing. Compare skips them defensively all the same. Compare and Prepare
// permute (sort or partition) Values in place, because copying a million
// values per feature costs about as much as the statistic; pass a slice you
// own. They never change the values themselves, so the same Sample may be
// compared again.
type Sample struct {
	Numeric bool             // numeric column: Values are used; otherwise categorical: Counts are used
	Values  []float64        // non-missing numeric values, any order
	Counts  map[string]int64 // categorical value -> count (non-missing); counts <= 0 are ignored
	Missing int64            // missing values (not in Values or Counts)
}

// N returns the number of non-missing values: len(Values) for a numeric
// sample, the sum of the positive Counts for a categorical one.
func (s *Sample) N() int64 {
	if s == nil {
		return 0
	}
	if s.Numeric {
		return int64(len(s.Values))
	}
	var n int64
	for _, c := range s.Counts {
		if c > 0 {
			n = addSat(n, c)
		}
	}
	return n
}

// Result is one metric computed for one feature.
type Result struct {
	// Value is the metric: a p-value for ks and chi_squared, else a distance.
	Value float64
	// Statistic is the test statistic behind a p-value (KS D, chi-squared);
	// 0 for distances.
	Statistic float64
	// PValue says Value is a p-value (smaller means more drift).
	PValue bool
}

// Compare computes one metric between the baseline and the current sample
// of one feature. Numeric samples support psi, ks, wasserstein and
// jensen_shannon; categorical ones psi, chi_squared and jensen_shannon. It
// permutes the samples' Values in place (see Sample). To compare several
// current samples with one baseline, Prepare the baseline once instead.
func Compare(metric string, baseline, current *Sample) (Result, error) {
	if err := checkMetric(metric); err != nil {
		return Result{}, err
	}
	if baseline == nil || current == nil {
		return Result{}, fmt.Errorf("%s: %w: a sample is nil", metric, ErrEmpty)
	}
	// Check the kinds before Prepare does any work on the baseline.
	if err := checkKinds(metric, baseline.Numeric, current.Numeric); err != nil {
		return Result{}, err
	}
	return Prepare(baseline).Compare(metric, current)
}

// Drifted says whether a metric's value crosses the threshold: p-values
// (ks, chi_squared) drift when value < threshold, distances when value >=
// threshold. A NaN value never drifts.
func Drifted(metric string, value, threshold float64) bool {
	if isPValue(metric) {
		return value < threshold
	}
	return value >= threshold
}

func isPValue(metric string) bool { return metric == MetricKS || metric == MetricChiSquared }

func checkMetric(metric string) error {
	switch metric {
	case MetricPSI, MetricKS, MetricWasserstein, MetricJensenShannon, MetricChiSquared:
		return nil
	}
	return fmt.Errorf("%w %q", ErrUnknownMetric, metric)
}

func checkKinds(metric string, baselineNumeric, currentNumeric bool) error {
	if baselineNumeric != currentNumeric {
		return fmt.Errorf("%s: %w: the baseline is %s but the current sample is %s",
			metric, ErrNotApplicable, kind(baselineNumeric), kind(currentNumeric))
	}
	switch metric {
	case MetricKS, MetricWasserstein:
		if !baselineNumeric {
			return fmt.Errorf("%s: %w to categorical columns", metric, ErrNotApplicable)
		}
	case MetricChiSquared:
		if baselineNumeric {
			return fmt.Errorf("%s: %w to numeric columns", metric, ErrNotApplicable)
		}
	}
	return nil
}

func kind(numeric bool) string {
	if numeric {
		return "numeric"
	}
	return "categorical"
}

// Baseline is a baseline sample prepared once for many comparisons: its
// decile bin edges and bin counts (numeric) or its category counts. It is
// safe for concurrent use by several goroutines.
type Baseline struct {
	numeric bool
	none    bool // prepared from a nil Sample

	// Numeric. values are the finite baseline values, reordered in place
	// in the caller's slice; sortOnce sorts them for ks and wasserstein only,
	// since psi and jensen_shannon need no more than the deciles.
	values   []float64
	edges    []float64 // inner bin edges, strictly increasing
	bins     []int64   // baseline count per bin; len(edges)+1 bins
	sortOnce sync.Once

	// Categorical, in sorted key order so sums are reproducible.
	cats   []string
	counts []int64
	total  int64
}

// Prepare prepares a baseline for Compare. It permutes baseline.Values in
// place and keeps referring to them: do not modify them while the Baseline
// is in use. An empty or nil baseline is accepted; comparing with it fails
// with ErrEmpty.
func Prepare(baseline *Sample) *Baseline {
	if baseline == nil {
		return &Baseline{none: true}
	}
	b := &Baseline{numeric: baseline.Numeric}
	if b.numeric {
		b.values = finite(baseline.Values)
		if len(b.values) > 0 {
			b.edges = decileEdges(b.values)
			b.bins = binCounts(b.values, b.edges)
		}
		return b
	}
	b.cats, b.counts, b.total = sortedCounts(baseline.Counts)
	return b
}

// N returns the number of baseline values the Baseline compares against.
func (b *Baseline) N() int64 {
	if b.numeric {
		return int64(len(b.values))
	}
	return b.total
}

// Compare computes one metric between the prepared baseline and current
// (see the package function Compare). It permutes current.Values in place.
func (b *Baseline) Compare(metric string, current *Sample) (Result, error) {
	if err := checkMetric(metric); err != nil {
		return Result{}, err
	}
	if b.none || current == nil {
		return Result{}, fmt.Errorf("%s: %w: a sample is nil", metric, ErrEmpty)
	}
	if err := checkKinds(metric, b.numeric, current.Numeric); err != nil {
		return Result{}, err
	}
	if b.N() == 0 {
		return Result{}, fmt.Errorf("%s: %w: the baseline has no values", metric, ErrEmpty)
	}

	var (
		r   Result
		err error
	)
	if b.numeric {
		cur := finite(current.Values)
		if len(cur) == 0 {
			return Result{}, fmt.Errorf("%s: %w: the current sample has no values", metric, ErrEmpty)
		}
		r, err = b.compareNumeric(metric, cur)
	} else {
		cats, counts, total := sortedCounts(current.Counts)
		if total == 0 {
			return Result{}, fmt.Errorf("%s: %w: the current sample has no values", metric, ErrEmpty)
		}
		r = b.compareCategorical(metric, cats, counts)
	}
	if err != nil {
		return Result{}, err
	}
	// Values this package produces are finite by construction except when
	// inputs near ±MaxFloat64 overflow; such a result must not reach JSON.
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || math.IsNaN(r.Statistic) || math.IsInf(r.Statistic, 0) {
		return Result{}, fmt.Errorf("%s: the result is not finite; are the values too large?", metric)
	}
	r.PValue = isPValue(metric)
	if r.PValue {
		r.Value = min(max(r.Value, 0), 1)
	}
	return r, nil
}

func (b *Baseline) compareNumeric(metric string, cur []float64) (Result, error) {
	switch metric {
	case MetricPSI, MetricJensenShannon:
		bp := proportions(b.bins)
		cp := proportions(binCounts(cur, b.edges))
		if metric == MetricPSI {
			return Result{Value: psi(bp, cp)}, nil
		}
		return Result{Value: jensenShannon(bp, cp)}, nil
	case MetricKS:
		d, p := ks(b.sortWith(cur), cur)
		return Result{Value: p, Statistic: d}, nil
	default: // MetricWasserstein; checkKinds allows nothing else here
		w, err := wassersteinNorm(b.sortWith(cur), cur)
		return Result{Value: w}, err
	}
}

// sorted returns the baseline values sorted, sorting them on first use.
func (b *Baseline) sorted() []float64 {
	b.sortOnce.Do(func() { slices.Sort(b.values) })
	return b.values
}

// parallelSortMin is the size from which sortWith sorts the two sides on two
// goroutines; below it a goroutine costs more than it saves.
const parallelSortMin = 1 << 16

// sortWith sorts cur and returns the sorted baseline. The two sorts dominate
// ks and wasserstein and are independent, so large ones run in parallel.
func (b *Baseline) sortWith(cur []float64) []float64 {
	// A caller comparing a Sample with itself hands over one slice twice; two
	// goroutines must not sort it at once.
	same := len(cur) > 0 && len(b.values) > 0 && &cur[0] == &b.values[0]
	if same || len(cur) < parallelSortMin || len(b.values) < parallelSortMin {
		slices.Sort(cur)
		return b.sorted()
	}
	var wg sync.WaitGroup
	wg.Go(func() { b.sorted() })
	slices.Sort(cur)
	wg.Wait()
	return b.values
}

// finite returns the finite values of vs. The normal case (none to drop)
// returns vs untouched; otherwise the finite values are swapped to the front,
// so vs stays a permutation of itself and a second Compare on the same
// Sample sees the same values.
func finite(vs []float64) []float64 {
	j := 0
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if i != j {
			vs[i], vs[j] = vs[j], v
		}
		j++
	}
	return vs[:j]
}
