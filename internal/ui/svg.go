package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The drawings are computed here and written out by templates/svg.html, so
// html/template escapes every name that reaches them.

// gnode is one box of a graph (a pipeline step, or an object of a lineage).
type gnode struct {
	ID    string
	Label string // first line, truncated to fit
	Sub   string // second line
	Title string // tooltip: the full text
	Class string // CSS class: the state or kind it is drawn as
	Href  string
	// Deps are the ids of the nodes this one comes after.
	Deps []string
	X, Y float64
}

type gedge struct {
	D     string
	Class string
}

type graph struct {
	// ID makes the arrow marker's id unique on the page.
	ID           string
	Label        string
	W, H         float64
	NodeW, NodeH float64
	Nodes        []gnode
	Edges        []gedge
}

const (
	nodeW      = 172
	nodeH      = 46
	gapX       = 56
	gapY       = 14
	graphPad   = 6
	labelChars = 22
)

// layoutGraph places a DAG left to right: each node in the column after its
// deepest dependency, columns ordered by the mean row of each node's
// dependencies (one barycentre pass, which keeps pipeline DAGs uncrossed in
// practice). Unknown dependencies are ignored; nodes stay in input order otherwise.
func layoutGraph(id, label string, nodes []gnode) graph {
	g := graph{ID: id, Label: label, NodeW: nodeW, NodeH: nodeH}
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.ID] = i
	}
	depth := make([]int, len(nodes))
	state := make([]int8, len(nodes)) // 0 new, 1 visiting, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return 0 // a cycle (validation forbids them): break it here
		case 2:
			return depth[i]
		}
		state[i] = 1
		d := 0
		for _, dep := range nodes[i].Deps {
			if j, ok := index[dep]; ok && j != i {
				d = max(d, visit(j)+1)
			}
		}
		state[i], depth[i] = 2, d
		return d
	}
	columns := [][]int{}
	for i := range nodes {
		d := visit(i)
		for len(columns) <= d {
			columns = append(columns, nil)
		}
		columns[d] = append(columns[d], i)
	}
	row := make([]float64, len(nodes))
	for c, col := range columns {
		if c > 0 {
			key := make(map[int]float64, len(col))
			for _, i := range col {
				sum, n := 0.0, 0
				for _, dep := range nodes[i].Deps {
					if j, ok := index[dep]; ok && depth[j] < c {
						sum, n = sum+row[j], n+1
					}
				}
				key[i] = math.Inf(1)
				if n > 0 {
					key[i] = sum / float64(n)
				}
			}
			sort.SliceStable(col, func(a, b int) bool { return key[col[a]] < key[col[b]] })
		}
		for r, i := range col {
			row[i] = float64(r)
		}
	}
	rows := 0
	for _, col := range columns {
		rows = max(rows, len(col))
	}
	g.W = 2*graphPad + float64(len(columns))*nodeW + float64(max(len(columns)-1, 0))*gapX
	g.H = 2*graphPad + float64(rows)*nodeH + float64(max(rows-1, 0))*gapY
	for c, col := range columns {
		colH := float64(len(col))*nodeH + float64(len(col)-1)*gapY
		top := (g.H - colH) / 2
		for r, i := range col {
			nodes[i].X = graphPad + float64(c)*(nodeW+gapX)
			nodes[i].Y = math.Round(top + float64(r)*(nodeH+gapY))
		}
	}
	for _, n := range nodes {
		for _, dep := range n.Deps {
			j, ok := index[dep]
			if !ok || nodes[j].ID == n.ID {
				continue
			}
			from := nodes[j]
			x1, y1 := from.X+nodeW, from.Y+nodeH/2
			x2, y2 := n.X-3, n.Y+nodeH/2 // the arrowhead ends at the box
			g.Edges = append(g.Edges, gedge{
				D:     fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, x1+gapX/2, y1, x2-gapX/2, y2, x2, y2),
				Class: "edge " + from.Class,
			})
		}
	}
	for i := range nodes {
		if nodes[i].Title == "" {
			nodes[i].Title = nodes[i].Label
		}
		nodes[i].Label = truncate(nodes[i].Label, labelChars)
		nodes[i].Sub = truncate(nodes[i].Sub, labelChars+4)
	}
	g.Nodes = nodes
	return g
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// ThresholdColor is the colour of the threshold line of drift charts; no
// other part of a chart uses it, so a screenshot can be checked for it.
const ThresholdColor = "#e8590c"

type chartPoint struct {
	X, Y  float64
	Class string
	Title string
}

type tick struct {
	Pos    float64
	Label  string
	Anchor string // text-anchor: the end ticks stay inside the drawing
}

// driftChart is one feature's metric over a monitor's evaluations.
type driftChart struct {
	ID, Feature, Metric string
	// PValue: the feature drifts below the threshold rather than at or above it.
	PValue     bool
	W, H       float64
	L, T, R, B float64 // plot area
	Path       string  // the metric's line; gaps where a value is missing
	Points     []chartPoint
	Threshold  string // the threshold's step line
	// Zone shades where the newest threshold calls a value drift.
	ZoneY, ZoneH   float64
	ThresholdColor string
	ThresholdLabel string
	ThresholdY     float64
	YTicks, XTicks []tick
	Latest         *float64
	LatestStatus   string
	LastThreshold  float64
}

// chartSample is one evaluation's verdict on the feature.
type chartSample struct {
	At        time.Time
	Eval      int64
	Value     *float64
	Threshold float64
	Status    string
}

const (
	chartW, chartH                 = 560, 200
	chartL, chartT, chartR, chartB = 48, 12, 546, 172
)

// newDriftChart draws samples (oldest first) on a time axis; the y axis
// starts at 0 and ends above the largest value and threshold (at 1 for p-values).
func newDriftChart(id, feature, metric string, pvalue bool, samples []chartSample) driftChart {
	c := driftChart{ID: id, Feature: feature, Metric: metric, PValue: pvalue, W: chartW, H: chartH,
		L: chartL, T: chartT, R: chartR, B: chartB, ThresholdColor: ThresholdColor}
	if len(samples) == 0 {
		return c
	}
	top := 1.0
	if !pvalue {
		hi := 0.0
		for _, s := range samples {
			hi = max(hi, s.Threshold)
			if s.Value != nil && !math.IsNaN(*s.Value) && !math.IsInf(*s.Value, 0) {
				hi = max(hi, *s.Value)
			}
		}
		top = niceCeil(hi * 1.15)
	}
	y := func(v float64) float64 {
		v = math.Max(0, math.Min(v, top))
		return c.B - v/top*(c.B-c.T)
	}
	t0, t1 := samples[0].At, samples[len(samples)-1].At
	span := t1.Sub(t0)
	x := func(i int) float64 {
		switch {
		case len(samples) == 1:
			return (c.L + c.R) / 2
		case span <= 0:
			return c.L + float64(i)/float64(len(samples)-1)*(c.R-c.L)
		}
		return c.L + float64(samples[i].At.Sub(t0))/float64(span)*(c.R-c.L)
	}

	var path strings.Builder
	pen := false
	for i, s := range samples {
		if s.Value == nil || math.IsNaN(*s.Value) {
			pen = false
			continue
		}
		px, py := x(i), y(*s.Value)
		if pen {
			fmt.Fprintf(&path, " L%.1f %.1f", px, py)
		} else {
			fmt.Fprintf(&path, " M%.1f %.1f", px, py)
			pen = true
		}
		c.Points = append(c.Points, chartPoint{X: px, Y: py, Class: "pt-" + s.Status,
			Title: fmt.Sprintf("evaluation %d, %s: %s = %s (%s, threshold %s)", s.Eval, s.At.UTC().Format("2006-01-02 15:04:05"),
				metric, fmtNum(*s.Value), statusText(s.Status), fmtNum(s.Threshold))})
	}
	c.Path = strings.TrimSpace(path.String())

	// Whole pixels keep the threshold line crisp: its colour is exact.
	ty := func(v float64) float64 { return math.Round(y(v)) }
	var th strings.Builder
	fmt.Fprintf(&th, "M%.0f %.0f", c.L, ty(samples[0].Threshold))
	for i := 1; i < len(samples); i++ {
		if samples[i].Threshold != samples[i-1].Threshold {
			mid := (x(i-1) + x(i)) / 2
			fmt.Fprintf(&th, " H%.0f V%.0f", mid, ty(samples[i].Threshold))
		}
	}
	fmt.Fprintf(&th, " H%.0f", c.R)
	c.Threshold = th.String()
	last := samples[len(samples)-1]
	c.LastThreshold, c.ThresholdY = last.Threshold, ty(last.Threshold)
	c.ThresholdLabel = "threshold " + fmtNum(last.Threshold)
	if pvalue {
		c.ZoneY, c.ZoneH = c.ThresholdY, c.B-c.ThresholdY
	} else {
		c.ZoneY, c.ZoneH = c.T, c.ThresholdY-c.T
	}
	c.Latest, c.LatestStatus = last.Value, last.Status

	for _, f := range []float64{0, 0.5, 1} {
		v := f * top
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: fmtNum(v)})
	}
	// Ticks as precise as the span needs to tell them apart.
	layout := "Jan 2 15:04"
	switch {
	case span < time.Minute:
		layout = "15:04:05.0"
	case span < time.Hour:
		layout = "15:04:05"
	case t0.UTC().Truncate(24 * time.Hour).Equal(t1.UTC().Truncate(24 * time.Hour)):
		layout = "15:04"
	}
	switch {
	case len(samples) == 1:
		c.XTicks = []tick{{Pos: x(0), Label: t0.UTC().Format(layout), Anchor: "middle"}}
	case span <= 0:
		c.XTicks = []tick{{Pos: c.L, Label: t0.UTC().Format(layout), Anchor: "start"}}
	default:
		for i, f := range []float64{0, 1.0 / 3, 2.0 / 3, 1} {
			at := t0.Add(time.Duration(f * float64(span)))
			c.XTicks = append(c.XTicks, tick{Pos: c.L + f*(c.R-c.L), Label: at.UTC().Format(layout), Anchor: [...]string{"start", "middle", "middle", "end"}[i]})
		}
	}
	return c
}

// niceCeil rounds v up to a round number (1, 1.2, 1.5, 2, … 8 times a
// power of ten), so the axis ends close above the data.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// trafficBar shows how the gateway splits a deployment's requests.
type trafficBar struct {
	W, H             float64
	StableW, CanaryW float64
	StablePct        int
	CanaryPct        int
	StableVersion    int64
	CanaryVersion    int64
}

func newTrafficBar(stable, canary int64, canaryWeight int) trafficBar {
	b := trafficBar{W: 480, H: 22, StableVersion: stable, CanaryVersion: canary}
	if canary == 0 {
		canaryWeight = 0
	}
	if stable == 0 && canary != 0 {
		canaryWeight = 100
	}
	canaryWeight = max(0, min(100, canaryWeight))
	b.CanaryPct, b.StablePct = canaryWeight, 100-canaryWeight
	if stable == 0 {
		b.StablePct = 0
	}
	b.StableW = b.W * float64(b.StablePct) / 100
	b.CanaryW = b.W * float64(b.CanaryPct) / 100
	return b
}
