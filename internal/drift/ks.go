package drift

import "math"

// exactKSMaxCells bounds n·m for the exact two-sample KS p-value, which
// walks up to n·m lattice points (tens of milliseconds at this bound, less
// than sorting a million values). Beyond it the asymptotic Kolmogorov
// distribution with the effective sample size n·m/(n+m) is used. scipy's
// ks_2samp "auto" mode makes the same choice with another cut-off
// (max(n, m) <= 10000); its asymptotic branch uses the finite-n
// distribution at round(n·m/(n+m)), which differs from the limit by
// O(1/sqrt(n·m/(n+m))).
const exactKSMaxCells = 10_000_000

// ks returns the two-sample Kolmogorov–Smirnov statistic D = sup |F_a - F_b|
// of sorted a and b and its two-sided p-value. Like scipy's, the p-value
// assumes continuous data; with many ties it is conservative (too large).
func ks(a, b []float64) (d, p float64) {
	n, m := len(a), len(b)
	// D is max |i·m - j·n| / (n·m) over the merged sample; keeping the
	// numerator an integer makes the exact p-value's comparison exact. The
	// products fit an int64 for any sample that fits in memory.
	num := ksNumerator(a, b)
	nm := int64(n) * int64(m)
	d = float64(num) / float64(nm)
	switch {
	case num == 0:
		return 0, 1
	case nm <= exactKSMaxCells:
		return d, ksExactP(n, m, num)
	default:
		en := float64(n) * float64(m) / float64(n+m)
		return d, kolmogorovQ(math.Sqrt(en) * d)
	}
}

// ksNumerator returns max |i·m - j·n| over the points of the merged sorted
// samples, i and j counting the values of a and b up to and including each
// distinct value, so tied values are stepped over together.
func ksNumerator(a, b []float64) int64 {
	n, m := len(a), len(b)
	nn, mm := int64(n), int64(m)
	var best int64
	i, j := 0, 0
	// Once one side is used up the difference only shrinks towards 0.
	for i < n && j < m {
		x := min(a[i], b[j])
		for i < n && a[i] == x {
			i++
		}
		for j < m && b[j] == x {
			j++
		}
		diff := int64(i)*mm - int64(j)*nn
		best = max(best, diff, -diff)
	}
	return best
}

// ksExactP returns P(D >= num/(n·m)) under the null hypothesis that both
// samples come from one continuous distribution: the probability that a
// uniformly random lattice path from (0,0) to (n,m) touches a point with
// |i·m - j·n| >= num. The path is walked as a Markov chain (from (i,j) the
// next value comes from b with probability (m-j)/(n+m-i-j)), which keeps
// every quantity a probability (no binomial coefficients to overflow) and
// sums the p-value directly, so small p-values keep their precision. Only
// the band of points still inside is visited.
func ksExactP(n, m int, num int64) float64 {
	nn, mm := int64(n), int64(m)
	down := make([]float64, m+1) // down[j]: mass entering (i, j) from (i-1, j)
	down[0] = 1
	lo, hi := 0, 0 // where down is non-zero
	var p float64
	for i := 0; i <= n; i++ {
		nextLo, nextHi := -1, -1
		var right float64 // mass entering (i, j) from (i, j-1)
		for j := lo; j <= m && (j <= hi || right != 0); j++ {
			t := down[j] + right
			right, down[j] = 0, 0
			if t == 0 {
				continue
			}
			if diff := int64(i)*mm - int64(j)*nn; diff >= num || -diff >= num {
				p += t // the path leaves here
				continue
			}
			left := n + m - i - j
			if left == 0 {
				break // (n, m): the path ended inside
			}
			// The division depends on the position only, not on t, so it
			// stays off the loop's dependency chain.
			inv := 1 / float64(left)
			right = t * float64(m-j) * inv
			if d := t * float64(n-i) * inv; d != 0 {
				down[j] = d
				if nextLo < 0 {
					nextLo = j
				}
				nextHi = j
			}
		}
		if nextLo < 0 {
			break
		}
		lo, hi = nextLo, nextHi
	}
	return min(p, 1)
}

// kolmogorovQ returns Q(λ) = P(K > λ) for the limiting Kolmogorov
// distribution, Q(λ) = 2 Σ_{k≥1} (-1)^(k-1) exp(-2k²λ²). That series
// converges slowly for small λ, where the equivalent
// 1 - sqrt(2π)/λ Σ_{k≥1} exp(-(2k-1)²π²/(8λ²)) is used (as Numerical Recipes
// does); four terms of either give full double precision at the 1.18
// crossover.
func kolmogorovQ(lambda float64) float64 {
	switch {
	case lambda <= 0:
		return 1
	case lambda < 1.18:
		y := math.Exp(-math.Pi * math.Pi / (8 * lambda * lambda))
		var sum float64
		for k := 1.0; k <= 4; k++ {
			sum += math.Pow(y, (2*k-1)*(2*k-1))
		}
		return 1 - math.Sqrt(2*math.Pi)/lambda*sum
	default:
		var sum float64
		for k := 1.0; k <= 4; k++ {
			sum -= math.Pow(-1, k) * math.Exp(-2*k*k*lambda*lambda)
		}
		return 2 * sum
	}
}
