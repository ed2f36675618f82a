package dataset

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const (
	// maxCategories is how many of the most frequent values a categorical
	// profile keeps; the rest are summed into OtherCount.
	maxCategories = 100
	histogramBins = 10
)

// column accumulates the values of one column.
//
// Numeric values are all kept (as float64) because exact quantiles need them;
// datasets profiled here are at most a few hundred MB, so this fits in memory.
// Categorical columns keep one count per distinct value.
type column struct {
	name string
	// typ is the declared type, the type the file format gives the column
	// (parquet), or "" while it is being inferred from the values.
	typ      string
	declared bool // typ comes from the user's schema
	skip     bool // not needed by this (second) pass

	count int64 // non-missing values
	nums  []float64
	cats  map[string]int64

	// Inference state, used while typ == "": which types every value so far
	// parses as.
	canInt, canNum, canBool bool
	// rescan is set when a column inferred numeric turns out to be a string
	// column: the earlier values' texts were not kept, so a second pass over
	// the file counts them.
	rescan bool
}

// add records one non-missing value found in data row row.
func (c *column) add(row int64, v string) error {
	if c.skip {
		return nil
	}
	c.count++
	switch c.typ {
	case typeInteger:
		n, ok := parseInt(v)
		if !ok {
			return newSchemaError(c.name, row, v, "is not an integer")
		}
		c.nums = append(c.nums, float64(n))
	case typeNumber:
		f, ok := parseNumber(v)
		if !ok {
			return newSchemaError(c.name, row, v, "is not a finite number")
		}
		c.nums = append(c.nums, f)
	case typeBoolean:
		b, ok := parseBool(v)
		if !ok {
			return newSchemaError(c.name, row, v, "is not a boolean (true or false)")
		}
		c.countCat(strconv.FormatBool(b))
	case typeTimestamp:
		// Only user-declared types are checked: a parquet timestamp is a
		// timestamp even when its year has more than four digits.
		if c.declared && !isTimestamp(v) {
			return newSchemaError(c.name, row, v, "is not a timestamp (RFC 3339 or YYYY-MM-DD)")
		}
		c.countCat(v)
	case typeString:
		c.countCat(v)
	default:
		c.infer(v)
	}
	return nil
}

func (c *column) countCat(v string) {
	if c.cats == nil {
		c.cats = map[string]int64{}
	}
	if n, ok := c.cats[v]; ok {
		c.cats[v] = n + 1
		return
	}
	// encoding/csv slices every field of a record out of one string: a key
	// kept as is would pin its whole line in memory.
	c.cats[strings.Clone(v)] = 1
}

// infer narrows the candidate types with one more value.
func (c *column) infer(v string) {
	if c.canNum {
		if f, ok := parseNumber(v); ok {
			c.canBool = false
			if c.canInt {
				if _, ok := parseInt(v); !ok {
					c.canInt = false
				}
			}
			c.nums = append(c.nums, f)
			return
		}
		c.canNum, c.canInt = false, false
		if len(c.nums) > 0 {
			c.canBool, c.rescan, c.nums = false, true, nil
		}
	}
	if c.canBool {
		if _, ok := parseBool(v); ok {
			// Raw text is kept (only a handful of spellings exist) so the
			// counts are exact if the column turns out to be a string.
			c.countCat(v)
			return
		}
		c.canBool = false
	}
	if !c.rescan {
		c.countCat(v)
	}
}

// finalType is the column's type once every value has been seen.
func (c *column) finalType() string {
	switch {
	case c.typ != "":
		return c.typ
	case c.count == 0:
		return typeString // no evidence for anything more specific
	case c.canInt:
		return typeInteger
	case c.canNum:
		return typeNumber
	case c.canBool:
		return typeBoolean
	default:
		return typeString
	}
}

func (c *column) profile(rows int64) api.ColumnProfile {
	typ := c.finalType()
	p := api.ColumnProfile{Name: c.name, Type: typ, Count: c.count, Missing: rows - c.count}
	switch typ {
	case typeInteger, typeNumber:
		p.Kind = "numeric"
		numericProfile(&p, c.nums)
	default:
		p.Kind = "categorical"
		cats := c.cats
		if typ == typeBoolean {
			cats = canonicalBools(cats)
		}
		p.Categories, p.OtherCount = topCategories(cats, maxCategories)
	}
	return p
}

func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

// parseNumber accepts finite decimal numbers. NaN and infinities are refused
// because they would poison every statistic (and cannot be encoded in JSON);
// hex floats and digit separators, which strconv allows, are not what a data
// file means by a number.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "xX_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseBool accepts true/false in any case (Python writes True/False).
func parseBool(s string) (bool, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

func isTimestamp(s string) bool {
	s = strings.TrimSpace(s)
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return true
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func canonicalBools(cats map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, n := range cats {
		b, _ := parseBool(k)
		out[strconv.FormatBool(b)] += n
	}
	return out
}

// topCategories keeps the n most frequent values (ties broken by value, so the
// result is deterministic) and sums the others.
func topCategories(cats map[string]int64, n int) (map[string]int64, int64) {
	if len(cats) == 0 {
		return nil, 0
	}
	// JSON encoding replaces invalid UTF-8 anyway; merging first keeps
	// distinct raw values from colliding into duplicate keys.
	merged := make(map[string]int64, len(cats))
	for k, c := range cats {
		merged[strings.ToValidUTF8(k, "\uFFFD")] += c
	}
	type entry struct {
		value string
		count int64
	}
	entries := make([]entry, 0, len(merged))
	for k, c := range merged {
		entries = append(entries, entry{k, c})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	top := make(map[string]int64, min(n, len(entries)))
	var other int64
	for i, e := range entries {
		if i < n {
			top[e.value] = e.count
		} else {
			other += e.count
		}
	}
	return top, other
}

// numericProfile fills the numeric statistics from xs, which it sorts.
func numericProfile(p *api.ColumnProfile, xs []float64) {
	if len(xs) == 0 {
		return
	}
	slices.Sort(xs)
	lo, hi := xs[0], xs[len(xs)-1]
	mean, stddev := meanStddev(xs, lo, hi)
	p.Min, p.Max, p.Mean, p.Stddev = &lo, &hi, &mean, &stddev
	p.Quantiles = deciles(xs)
	p.Histogram = histogram(xs)
}

// meanStddev returns the mean and population standard deviation of xs.
// Values are scaled by a power of two (exact) so that sums of values near
// ±MaxFloat64 cannot overflow, and summed with Neumaier compensation.
func meanStddev(xs []float64, lo, hi float64) (mean, stddev float64) {
	maxAbs := max(math.Abs(lo), math.Abs(hi))
	if maxAbs == 0 {
		return 0, 0
	}
	// 2^(exp-1) rather than 2^exp, which overflows for |x| near MaxFloat64;
	// scaled values then lie in (-2, 2).
	_, exp := math.Frexp(maxAbs)
	scale := math.Ldexp(1, exp-1)
	n := float64(len(xs))

	var sum, comp float64
	for _, x := range xs {
		sum, comp = neumaier(sum, comp, x/scale)
	}
	m := (sum + comp) / n

	// Corrected two-pass variance: the second term removes the rounding
	// error left in m.
	var sq, sqComp, d, dComp float64
	for _, x := range xs {
		dx := x/scale - m
		sq, sqComp = neumaier(sq, sqComp, dx*dx)
		d, dComp = neumaier(d, dComp, dx)
	}
	dsum := d + dComp
	variance := max(0, ((sq+sqComp)-dsum*dsum/n)/n)
	mean = min(max(m*scale, lo), hi) // rounding must not leave [min, max]
	return mean, math.Sqrt(variance) * scale
}

func neumaier(sum, comp, x float64) (float64, float64) {
	t := sum + x
	if math.Abs(sum) >= math.Abs(x) {
		comp += (sum - t) + x
	} else {
		comp += (x - t) + sum
	}
	return t, comp
}

// deciles returns the 0.1..0.9 quantiles of sorted xs by linear interpolation
// between closest ranks: the quantile p sits at 0-based rank h = (n-1)p and
// is xs[floor h] + (h - floor h)(xs[floor h + 1] - xs[floor h]). This is
// Hyndman & Fan's type 7, the default of NumPy, R and Excel's PERCENTILE.INC.
func deciles(xs []float64) []float64 {
	n := int64(len(xs))
	qs := make([]float64, 9)
	for i := int64(1); i <= 9; i++ {
		// Integer arithmetic keeps the rank exact: h = (n-1)*i/10.
		num := (n - 1) * i
		k, frac := num/10, float64(num%10)/10
		a := xs[k]
		if frac == 0 {
			qs[i-1] = a
			continue
		}
		b := xs[k+1]
		q := a + frac*(b-a)
		if math.IsInf(q, 0) { // b-a overflowed
			q = a*(1-frac) + b*frac
		}
		qs[i-1] = min(max(q, a), b)
	}
	return qs
}

// histogram counts sorted xs into histogramBins equal-width bins over
// [min, max]; bin i holds [Edges[i], Edges[i+1]) and the last bin also holds
// max. When min == max there is a single bin [min, max].
func histogram(xs []float64) *api.Histogram {
	lo, hi := xs[0], xs[len(xs)-1]
	if lo == hi {
		return &api.Histogram{Edges: []float64{lo, hi}, Counts: []int64{int64(len(xs))}}
	}
	edges := make([]float64, histogramBins+1)
	width := hi - lo
	for i := range edges {
		t := float64(i) / histogramBins
		e := lo + width*t
		if math.IsInf(width, 0) { // the range overflows; interpolate instead
			e = lo*(1-t) + hi*t
		}
		edges[i] = e
	}
	edges[0], edges[histogramBins] = lo, hi
	// Rounding must not make the edges decrease or leave [min, max].
	for i := 1; i < len(edges); i++ {
		edges[i] = min(max(edges[i], edges[i-1]), hi)
	}
	// Counting against the edges themselves makes the counts agree exactly
	// with the documented [Edges[i], Edges[i+1]) bins, rounding included.
	counts := make([]int64, histogramBins)
	bin := 0
	for _, x := range xs {
		for bin < histogramBins-1 && x >= edges[bin+1] {
			bin++
		}
		counts[bin]++
	}
	return &api.Histogram{Edges: edges, Counts: counts}
}
