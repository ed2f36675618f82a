package drift

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// numBins is how many quantile bins numeric psi and jensen_shannon use: the
// baseline's deciles.
const numBins = 10

// decileEdges returns the inner bin edges for numeric psi and jensen_shannon:
// the baseline's 0.1..0.9 quantiles, with duplicates (heavily tied data)
// collapsed rather than left as zero-width bins. The outer bins are
// open, so current values beyond the baseline's range land in the first or
// last bin. It permutes xs (finite, non-empty).
//
// Quantile p sits at 0-based rank h = (n-1)p and is xs[floor h] + (h - floor
// h)(xs[floor h+1] - xs[floor h]) of the sorted values: Hyndman & Fan's type
// 7, NumPy's default and what internal/dataset's profile uses. The ranks are
// found by selection rather than by sorting, which is several times faster.
//
// Evidently bins differently: Sturges equal-width bins over both samples
// together, or one bin per value when the reference has at most 20. Bins
// fixed by the baseline alone keep one monitor's values comparable from one
// current window to the next, and let Prepare compute them once.
func decileEdges(xs []float64) []float64 {
	n := int64(len(xs))
	var ranks []int
	for i := int64(1); i < numBins; i++ {
		num := (n - 1) * i // integer arithmetic keeps the rank exact
		k := int(num / numBins)
		ranks = append(ranks, k)
		if num%numBins != 0 {
			ranks = append(ranks, k+1)
		}
	}
	ranks = slices.Compact(ranks) // ascending already
	selectRanks(xs, ranks)

	edges := make([]float64, 0, numBins-1)
	for i := int64(1); i < numBins; i++ {
		num := (n - 1) * i
		k, frac := num/numBins, float64(num%numBins)/numBins
		a := xs[k]
		if frac == 0 {
			edges = append(edges, a)
			continue
		}
		b := xs[k+1]
		q := a + frac*(b-a)
		if math.IsInf(q, 0) { // b-a overflowed
			q = a*(1-frac) + b*frac
		}
		edges = append(edges, min(max(q, a), b))
	}
	slices.Sort(edges) // already sorted unless rounding disagrees; Compact needs it
	return slices.Compact(edges)
}

// binCounts counts xs into the bins (-Inf, e0], (e0, e1], ..., (eLast, +Inf)
// of the sorted edges. Right-closed bins put a tied value on an edge into
// the bin below it, so a constant baseline still separates from a current
// sample that differs.
func binCounts(xs, edges []float64) []int64 {
	counts := make([]int64, len(edges)+1)
	for _, x := range xs {
		// A branch-free count of the edges below x: binary search
		// mispredicts on random data, and there are at most 9 edges.
		k := 0
		for _, e := range edges {
			var below int
			if e < x {
				below = 1
			}
			k += below
		}
		counts[k]++
	}
	return counts
}

func proportions(counts []int64) []float64 {
	var total float64
	for _, c := range counts {
		total += float64(c)
	}
	ps := make([]float64, len(counts))
	for i, c := range counts {
		ps[i] = float64(c) / total
	}
	return ps
}

// psi returns the population stability index Σ (c-b)·ln(c/b). Empty bins
// would make it infinite, so each side's zero proportions are replaced as
// Evidently does (see fillZeros).
func psi(baseline, current []float64) float64 {
	b, c := fillZeros(baseline), fillZeros(current)
	var sum float64
	for i := range b {
		sum += (c[i] - b[i]) * math.Log(c[i]/b[i])
	}
	return sum
}

// fillZeros returns a copy of ps with zeros replaced by Evidently's epsilon:
// 0.0001, or a millionth of the smallest non-zero proportion when that is
// not larger than 0.0001 (so that on large samples the epsilon stays well
// below any real bin).
func fillZeros(ps []float64) []float64 {
	smallest := math.Inf(1)
	for _, p := range ps {
		if p > 0 {
			smallest = min(smallest, p)
		}
	}
	eps := 0.0001
	if smallest <= eps {
		eps = smallest / 1e6
	}
	out := make([]float64, len(ps))
	for i, p := range ps {
		if p == 0 {
			p = eps
		}
		out[i] = p
	}
	return out
}

// jensenShannon returns the Jensen–Shannon distance (the square root of the
// divergence) between two distributions over the same bins, with the
// natural logarithm: Evidently calls scipy.spatial.distance.jensenshannon
// with its default base, so values range over [0, sqrt(ln 2)] ≈ [0, 0.8326].
// Unlike psi it needs no epsilon: 0·ln 0 is taken as 0.
func jensenShannon(p, q []float64) float64 {
	var sum float64
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			sum += p[i] * math.Log(p[i]/m)
		}
		if q[i] > 0 {
			sum += q[i] * math.Log(q[i]/m)
		}
	}
	return math.Sqrt(max(sum/2, 0)) // rounding may leave sum a hair below 0
}

// wassersteinNorm returns W1(a, b) / σ(a) for sorted a and b, σ being the
// population standard deviation (Evidently's np.std). W1 is the exact
// integral of |F_a - F_b| over the merged sample.
func wassersteinNorm(a, b []float64) (float64, error) {
	w := wasserstein1(a, b)
	if a[0] == a[len(a)-1] {
		// σ = 0. Evidently divides by max(σ, 0.001), a unit-dependent
		// floor; an error says what happened instead.
		if w == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("%s: %w (standard deviation 0), so the normed distance is undefined", MetricWasserstein, ErrConstantBaseline)
	}
	return w / stat.PopStdDev(a, nil), nil
}

// wasserstein1 returns the Wasserstein-1 distance between the empirical
// distributions of sorted a and b: between consecutive distinct values of
// the merged sample both CDFs are constant, so the integral is a sum.
func wasserstein1(a, b []float64) float64 {
	n, m := len(a), len(b)
	fn, fm := float64(n), float64(m)
	i, j := 0, 0
	x := min(a[0], b[0])
	var sum float64
	for {
		for i < n && a[i] == x {
			i++
		}
		for j < m && b[j] == x {
			j++
		}
		var next float64
		switch {
		case i < n && j < m:
			next = min(a[i], b[j])
		case i < n:
			next = a[i]
		case j < m:
			next = b[j]
		default:
			return sum
		}
		sum += math.Abs(float64(i)/fn-float64(j)/fm) * (next - x)
		x = next
	}
}

// selectRanks permutes xs so that xs[k] holds the value a sort would put
// there, for every k in ranks (ascending, distinct, within xs). Quickselect
// with three-way partitioning copes with heavy ties; past a depth of
// 2·log2(n) it falls back to sorting, which bounds the worst case at
// O(n log n).
func selectRanks(xs []float64, ranks []int) {
	selectRec(xs, ranks, 0, 2*bits.Len(uint(len(xs))))
}

func selectRec(xs []float64, ranks []int, off, depth int) {
	for len(ranks) > 0 {
		if len(xs) <= 32 || depth == 0 {
			slices.Sort(xs)
			return
		}
		depth--
		lt, gt := partition3(xs, pivot(xs))
		// Ranks in [off+lt, off+gt) hold the pivot value and are done.
		i, _ := slices.BinarySearch(ranks, off+lt)
		j, _ := slices.BinarySearch(ranks, off+gt)
		selectRec(xs[:lt], ranks[:i], off, depth)
		xs, ranks, off = xs[gt:], ranks[j:], off+gt
	}
}

// pivot returns Tukey's ninther of xs (len > 32), robust to sorted and
// reverse-sorted input.
func pivot(xs []float64) float64 {
	n := len(xs)
	s := n / 8
	return median3(
		median3(xs[0], xs[s], xs[2*s]),
		median3(xs[n/2-s], xs[n/2], xs[n/2+s]),
		median3(xs[n-1-2*s], xs[n-1-s], xs[n-1]),
	)
}

func median3(a, b, c float64) float64 {
	return max(min(a, b), min(max(a, b), c))
}

// partition3 permutes xs into values < p, == p, > p and returns the bounds
// of the middle part. Two branch-free passes are several times faster than
// one branching (Dutch flag) pass, whose comparisons mispredict half the
// time on random data.
func partition3(xs []float64, p float64) (lt, gt int) {
	lt = partitionBy(xs, func(v float64) bool { return v < p })
	return lt, lt + partitionBy(xs[lt:], func(v float64) bool { return v <= p })
}

// partitionBy moves the values for which front is true to the front and
// returns how many there are (Lomuto's scheme, always swapping so the only
// data-dependent step is a conditional increment).
func partitionBy(xs []float64, front func(float64) bool) int {
	j := 0
	for i, v := range xs {
		xs[i] = xs[j]
		xs[j] = v
		var inc int
		if front(v) {
			inc = 1
		}
		j += inc
	}
	return j
}
