package drift

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// kolmogorovSeries is Q(λ) = 2 Σ (-1)^(k-1) exp(-2k²λ²) summed plainly.
func kolmogorovSeries(lambda float64) float64 {
	var sum float64
	for k := 1.0; k <= 100; k++ {
		sum += math.Pow(-1, k-1) * math.Exp(-2*k*k*lambda*lambda)
	}
	return 2 * sum
}

func TestKolmogorovQ(t *testing.T) {
	for l := 0.3; l < 4; l += 0.01 { // the series converges for λ >= 0.3
		near(t, "Q", kolmogorovQ(l), kolmogorovSeries(l), 1e-13)
	}
	// Published critical values of the Kolmogorov distribution.
	near(t, "Q(1.2238)", kolmogorovQ(1.2238), 0.10, 1e-4)
	near(t, "Q(1.3581)", kolmogorovQ(1.3581), 0.05, 1e-4)
	near(t, "Q(1.6276)", kolmogorovQ(1.6276), 0.01, 1e-4)
	if kolmogorovQ(0) != 1 || kolmogorovQ(0.01) != 1 || kolmogorovQ(40) != 0 {
		t.Error("Q is not 1 at 0 and 0 far out")
	}
}

func TestKSStatisticByHand(t *testing.T) {
	// a = 1,2,2,3 and b = 2,3,4. After each distinct value:
	// 1: 1/4 - 0 = 3/12; 2: 3/4 - 1/3 = 5/12; 3: 1 - 2/3; 4: 0. D = 5/12.
	// The tie at 2 must be stepped over on both sides at once (stepping a
	// first would give 3/4 - 0).
	d, _ := ks([]float64{1, 2, 2, 3}, []float64{2, 3, 4})
	near(t, "D", d, 5.0/12, 1e-15)
}

func TestKSExactPublished(t *testing.T) {
	// Fully separated samples of 3 and 5: only the 2 extreme orderings of
	// C(6,3) = 20 (resp. C(10,5) = 252) reach D = 1; scipy's ks_2samp
	// gives 0.1 and 0.0079365.
	r := compare(t, MetricKS, numeric(1, 2, 3), numeric(4, 5, 6))
	near(t, "p 3v3", r.Value, 2.0/20, 1e-14)
	near(t, "D 3v3", r.Statistic, 1, 0)
	if !r.PValue {
		t.Error("ks is a p-value")
	}
	r = compare(t, MetricKS, numeric(seq(0, 5)...), numeric(seq(5, 5)...))
	near(t, "p 5v5", r.Value, 2.0/252, 1e-14)
}

// TestKSExactMatchesPermutations checks the lattice walk against brute
// force: the fraction of all ways to split the pooled (distinct) values
// into sides of n and m whose D is at least the observed one.
func TestKSExactMatchesPermutations(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, nm := range [][2]int{{4, 5}, {3, 7}, {6, 6}, {2, 9}, {1, 4}} {
		n, m := nm[0], nm[1]
		for range 5 {
			pooled := r.Perm(n + m)
			a, b := toFloats(pooled[:n]), toFloats(pooled[n:])
			slices.Sort(a)
			slices.Sort(b)
			num := ksNumerator(a, b)
			var hits, total int
			for mask := range 1 << (n + m) {
				if popcount(mask) != n {
					continue
				}
				var x, y []float64
				for i := range n + m {
					if mask&(1<<i) != 0 {
						x = append(x, float64(i))
					} else {
						y = append(y, float64(i))
					}
				}
				total++
				if ksNumerator(x, y) >= num {
					hits++
				}
			}
			near(t, "exact p", ksExactP(n, m, num), float64(hits)/float64(total), 1e-12)
		}
	}
}

func toFloats(is []int) []float64 {
	fs := make([]float64, len(is))
	for i, v := range is {
		fs[i] = float64(v)
	}
	return fs
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestKSAsymptotic(t *testing.T) {
	// n = m = 20000 is past the exact limit. b is a shifted by 200 of
	// 20000 steps, so D = 0.01, the effective n is 20000·20000/40000 =
	// 10000 and p = Q(√10000 · 0.01) = Q(1) ≈ 0.27.
	r := compare(t, MetricKS, numeric(seq(0, 20_000)...), numeric(seq(200, 20_000)...))
	near(t, "D", r.Statistic, 0.01, 1e-15)
	near(t, "p", r.Value, kolmogorovSeries(1), 1e-12)
	near(t, "p", r.Value, 0.27, 0.001)
}

func TestKSExactAndAsymptoticAgreeAtScale(t *testing.T) {
	// Near the exact limit both methods must tell the same story; they
	// differ by O(1/√n) in relative terms.
	r := rand.New(rand.NewPCG(7, 8))
	a, b := normal(r, 2000, 0), normal(r, 2000, 0.08)
	slices.Sort(a)
	slices.Sort(b)
	num := ksNumerator(a, b)
	d := float64(num) / (2000 * 2000)
	exact := ksExactP(2000, 2000, num)
	asym := kolmogorovQ(math.Sqrt(1000) * d)
	if math.Abs(exact-asym) > 0.1*asym {
		t.Errorf("exact %v vs asymptotic %v (D %v)", exact, asym, d)
	}
}
