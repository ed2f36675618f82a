package drift

import (
	"maps"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// sortedCounts returns the categories with a positive count, sorted, with
// their counts and total. Sorting makes the sums, and so the results,
// reproducible; Go's map order is random.
func sortedCounts(counts map[string]int64) (cats []string, ns []int64, total int64) {
	cats = slices.Sorted(maps.Keys(counts))
	cats = slices.DeleteFunc(cats, func(c string) bool { return counts[c] <= 0 })
	ns = make([]int64, len(cats))
	for i, c := range cats {
		ns[i] = counts[c]
		total = addSat(total, ns[i])
	}
	return cats, ns, total
}

// compareCategorical compares the baseline with the current categories
// (sorted, with positive counts) over the union of both sides' categories:
// a category only one side has is a real category with proportion 0 on the
// other side, so a new category shows as drift.
func (b *Baseline) compareCategorical(metric string, cats []string, counts []int64) Result {
	var bc, cc []int64 // counts per union category
	i, j := 0, 0
	for i < len(b.cats) || j < len(cats) {
		switch {
		case j == len(cats) || i < len(b.cats) && b.cats[i] < cats[j]:
			bc, cc = append(bc, b.counts[i]), append(cc, 0)
			i++
		case i == len(b.cats) || cats[j] < b.cats[i]:
			bc, cc = append(bc, 0), append(cc, counts[j])
			j++
		default:
			bc, cc = append(bc, b.counts[i]), append(cc, counts[j])
			i++
			j++
		}
	}
	bp, cp := proportions(bc), proportions(cc)
	switch metric {
	case MetricPSI:
		return Result{Value: psi(bp, cp)}
	case MetricJensenShannon:
		return Result{Value: jensenShannon(bp, cp)}
	default: // MetricChiSquared; checkKinds allows nothing else here
		stat, p := chiSquared(bp, cc)
		return Result{Value: p, Statistic: stat}
	}
}

// chiSquared returns Pearson's goodness-of-fit statistic of the observed
// current counts against the baseline proportions, and its p-value from the
// chi-squared distribution with k-1 degrees of freedom.
//
// A category the baseline lacks would have expected count 0 and an infinite
// statistic (Evidently, through scipy, then reports p = 0). Instead its
// baseline proportion gets psi's epsilon and the proportions are
// renormalised so the expected counts still sum to the observed total: the
// statistic stays finite but any real number of new-category rows still
// shows as drift.
func chiSquared(baseline []float64, observed []int64) (stat, p float64) {
	if len(baseline) < 2 {
		return 0, 1 // one category on both sides: nothing can differ
	}
	q := fillZeros(baseline)
	var sum, n float64
	for i, v := range q {
		sum += v
		n += float64(observed[i])
	}
	for i, o := range observed {
		e := n * q[i] / sum
		d := float64(o) - e
		stat += d * d / e
	}
	return stat, distuv.ChiSquared{K: float64(len(baseline) - 1)}.Survival(stat)
}

// addSat returns a+b for non-negative a and b, saturating instead of
// wrapping to a negative count.
func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
