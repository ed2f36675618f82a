package ui

import (
	"strings"
	"testing"
	"time"
)

func TestLayoutGraphColumnsFollowDependencies(t *testing.T) {
	g := layoutGraph("g", "test", []gnode{
		{ID: "load"},
		{ID: "features", Deps: []string{"load"}},
		{ID: "fit", Deps: []string{"features"}},
		{ID: "evaluate", Deps: []string{"fit", "load"}},
		{ID: "report", Deps: []string{"load", "unknown"}},
	})
	column := map[string]float64{}
	for _, n := range g.Nodes {
		column[n.ID] = (n.X - graphPad) / (nodeW + gapX)
	}
	want := map[string]float64{"load": 0, "features": 1, "report": 1, "fit": 2, "evaluate": 3}
	for id, c := range want {
		if column[id] != c {
			t.Errorf("%s in column %v, want %v", id, column[id], c)
		}
	}
	if len(g.Edges) != 5 {
		t.Errorf("%d edges, want 5 (the unknown dependency is not drawn)", len(g.Edges))
	}
	for i, a := range g.Nodes {
		if a.X < 0 || a.Y < 0 || a.X+nodeW > g.W || a.Y+nodeH > g.H {
			t.Errorf("%s at (%v, %v) outside %vx%v", a.ID, a.X, a.Y, g.W, g.H)
		}
		for _, b := range g.Nodes[i+1:] {
			if a.X < b.X+nodeW && b.X < a.X+nodeW && a.Y < b.Y+nodeH && b.Y < a.Y+nodeH {
				t.Errorf("%s and %s overlap", a.ID, b.ID)
			}
		}
	}
	// A cycle (validation refuses them) still lays out.
	if g := layoutGraph("c", "cycle", []gnode{{ID: "a", Deps: []string{"b"}}, {ID: "b", Deps: []string{"a"}}}); len(g.Nodes) != 2 {
		t.Fatal("cycle")
	}
	if g := layoutGraph("e", "empty", nil); len(g.Nodes) != 0 || g.W <= 0 {
		t.Fatalf("empty graph %+v", g)
	}
	long := layoutGraph("l", "long", []gnode{{ID: "x", Label: strings.Repeat("a", 63)}})
	if n := long.Nodes[0]; len([]rune(n.Label)) != labelChars || n.Title != strings.Repeat("a", 63) {
		t.Errorf("long label %q, title %q", n.Label, n.Title)
	}
}

func TestDriftChart(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	v := func(f float64) *float64 { return &f }
	samples := []chartSample{
		{At: t0, Eval: 1, Value: v(0.02), Threshold: 0.1, Status: "ok"},
		{At: t0.Add(time.Hour), Eval: 2, Value: nil, Threshold: 0.1, Status: "insufficient_data"},
		{At: t0.Add(2 * time.Hour), Eval: 3, Value: v(0.3), Threshold: 0.1, Status: "drifting"},
		{At: t0.Add(4 * time.Hour), Eval: 4, Value: v(0.25), Threshold: 0.2, Status: "drifting"},
	}
	c := newDriftChart("c", "age", "psi", false, samples)
	// The axis ends at a round number above the largest value (0.3 × 1.15).
	if top := c.YTicks[len(c.YTicks)-1].Label; top != "0.4" {
		t.Errorf("y axis ends at %s, want 0.4", top)
	}
	// A missing value breaks the line; its point is not drawn.
	if strings.Count(c.Path, "M") != 2 || len(c.Points) != 3 {
		t.Errorf("path %q with %d points", c.Path, len(c.Points))
	}
	// x follows time: the third evaluation is halfway.
	if mid := (c.L + c.R) / 2; c.Points[1].X != mid {
		t.Errorf("evaluation 3 at x=%v, want %v", c.Points[1].X, mid)
	}
	// The threshold steps from 0.1 to 0.2 between evaluations 3 and 4, on whole pixels.
	if c.Threshold != "M48 132 H422 V92 H546" || c.ThresholdY != 92 || c.ThresholdLabel != "threshold 0.2" {
		t.Errorf("threshold %q at y=%v: %s", c.Threshold, c.ThresholdY, c.ThresholdLabel)
	}
	if c.ZoneY != c.T || c.ZoneH != c.ThresholdY-c.T {
		t.Errorf("a distance drifts above the threshold: zone %v+%v", c.ZoneY, c.ZoneH)
	}
	if c.XTicks[0].Label != "00:00" || c.XTicks[3].Label != "04:00" {
		t.Errorf("time ticks %+v", c.XTicks)
	}

	p := newDriftChart("p", "plan", "chi_squared", true, []chartSample{{At: t0, Eval: 1, Value: v(0.01), Threshold: 0.05, Status: "drifting"}})
	if p.YTicks[2].Label != "1" || p.ZoneY != p.ThresholdY || p.ZoneH != p.B-p.ThresholdY || p.Points[0].X != (p.L+p.R)/2 {
		t.Errorf("p-value chart: ticks %+v, zone %v+%v, point %+v", p.YTicks, p.ZoneY, p.ZoneH, p.Points)
	}
	if empty := newDriftChart("e", "x", "psi", false, nil); empty.Path != "" || empty.Threshold != "" {
		t.Errorf("no samples drew %+v", empty)
	}
}

func TestNumbers(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.1: "0.1", 0.27: "0.27", 0.123456: "0.1235", 12.3456: "12.35", 1234.5: "1234", 0.00012: "0.00012",
		1e-7: "1e-07", 33.300000000000004: "33.3", -0.5: "-0.5",
	} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]float64{0.9: 1, 1.035: 1.2, 0.3105: 0.4, 0.115: 0.12, 7: 8, 0: 1} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	b := newTrafficBar(1, 2, 10)
	if b.StablePct != 90 || b.CanaryPct != 10 || b.StableW+b.CanaryW != b.W {
		t.Errorf("bar %+v", b)
	}
	if b := newTrafficBar(3, 0, 0); b.StablePct != 100 || b.CanaryW != 0 {
		t.Errorf("stable only %+v", b)
	}
	if b := newTrafficBar(0, 0, 0); b.StableW != 0 || b.CanaryW != 0 {
		t.Errorf("nothing serving %+v", b)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{400 * time.Millisecond: "0.4 s", 75 * time.Second: "1m 15s", 3*time.Hour + 4*time.Minute: "3h 04m"} {
		end := start.Add(d)
		if got := fmtDuration(&start, &end, time.Time{}); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
