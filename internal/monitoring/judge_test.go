package monitoring

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
)

func normal(seed uint64, n int, mean float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mean + r.NormFloat64()
	}
	return xs
}

func numeric(name string, xs []float64) dataset.Values {
	return dataset.Values{Name: name, Type: "number", Numeric: true, Numbers: xs}
}

func categorical(name string, counts map[string]int64) dataset.Values {
	return dataset.Values{Name: name, Type: "string", Counts: counts}
}

// pair builds a baseline and a current dataset with three features; shift
// moves the named ones.
func pair(shift ...string) (base, cur []dataset.Values) {
	moved := map[string]bool{}
	for _, s := range shift {
		moved[s] = true
	}
	mean := func(f string) float64 {
		if moved[f] {
			return 1
		}
		return 0
	}
	base = []dataset.Values{
		numeric("a", normal(1, 2000, 0)), numeric("b", normal(2, 2000, 0)),
		categorical("plan", map[string]int64{"basic": 1000, "pro": 1000}),
	}
	plan := map[string]int64{"basic": 1010, "pro": 990}
	if moved["plan"] {
		plan = map[string]int64{"basic": 600, "pro": 600, "enterprise": 800}
	}
	cur = []dataset.Values{
		numeric("a", normal(3, 2000, mean("a"))), numeric("b", normal(4, 2000, mean("b"))),
		categorical("plan", plan),
	}
	return base, cur
}

func spec() *api.MonitorSpec {
	return &api.MonitorSpec{Model: "m", BaselineDataset: "base", CurrentDataset: "cur"}
}

func TestJudgeSameDataIsOK(t *testing.T) {
	for _, metric := range api.NumericMetrics {
		t.Run(metric, func(t *testing.T) {
			s := spec()
			s.Metric = metric
			base, cur := pair()
			v, err := Judge(s, base, cur)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != api.MonitorOK || v.DriftedFeatures != 0 || v.JudgedFeatures != 3 {
				t.Fatalf("status %s, %d of %d drifted: %+v", v.Status, v.DriftedFeatures, v.JudgedFeatures, v.Features)
			}
			for _, f := range v.Features {
				if f.Value == nil || f.Status != api.MonitorOK {
					t.Errorf("feature %s: %+v", f.Feature, f)
				}
			}
		})
	}
}

func TestJudgeShiftedFeaturesDrift(t *testing.T) {
	base, cur := pair("a", "plan")
	v, err := Judge(spec(), base, cur)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range v.Features {
		got[f.Feature] = f.Drifted
	}
	if !got["a"] || got["b"] || !got["plan"] {
		t.Fatalf("drifted per feature %v, want a and plan only", got)
	}
	// 2 of 3 features drifted: at the default drift_share of 0.5 the dataset drifts.
	if v.Status != api.MonitorDrifting || v.DriftedFeatures != 2 || v.JudgedFeatures != 3 {
		t.Fatalf("status %s with %d of %d", v.Status, v.DriftedFeatures, v.JudgedFeatures)
	}
	if d := v.DriftShare; d < 0.66 || d > 0.67 {
		t.Fatalf("drift share %v, want 2/3", d)
	}
	for _, f := range v.Features {
		wantKind, wantMetric := "numeric", api.MetricPSI
		if f.Feature == "plan" {
			wantKind, wantMetric = "categorical", api.MetricJensenShannon
		}
		if f.Kind != wantKind || f.Metric != wantMetric || f.Threshold != api.DefaultThreshold(wantMetric) {
			t.Errorf("feature %s: kind %s metric %s threshold %v", f.Feature, f.Kind, f.Metric, f.Threshold)
		}
	}
}

func TestJudgeDriftShare(t *testing.T) {
	base, cur := pair("a") // one of three features drifts
	s := spec()
	v, err := Judge(s, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != api.MonitorOK || v.DriftedFeatures != 1 {
		t.Fatalf("1 of 3 drifted under drift_share 0.5: status %s, %d drifted", v.Status, v.DriftedFeatures)
	}
	third := 0.3
	s.DriftShare = &third
	base, cur = pair("a")
	if v, err = Judge(s, base, cur); err != nil || v.Status != api.MonitorDrifting {
		t.Fatalf("1 of 3 drifted under drift_share 0.3: %v %+v", err, v)
	}
}

func TestJudgeThresholdsAndOverrides(t *testing.T) {
	base, cur := pair("a")
	s := spec()
	high := 50.0 // no PSI gets there: nothing numeric drifts
	s.Threshold = &high
	v, err := Judge(s, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Features {
		if f.Kind == "numeric" && (f.Drifted || f.Threshold != high) {
			t.Errorf("feature %s with threshold %v: drifted=%v (value %v)", f.Feature, f.Threshold, f.Drifted, *f.Value)
		}
		if f.Kind == "categorical" && f.Threshold != api.DefaultThreshold(api.MetricJensenShannon) {
			t.Errorf("threshold for psi leaked to the categorical metric: %v", f.Threshold)
		}
	}
	// A per-feature override wins over threshold.
	s.FeatureThresholds = map[string]float64{"a": 0.1}
	base, cur = pair("a")
	if v, err = Judge(s, base, cur); err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Features {
		if f.Feature == "a" && (!f.Drifted || f.Threshold != 0.1) {
			t.Errorf("feature a with its own threshold 0.1: %+v", f)
		}
	}
}

func TestJudgePValueMetric(t *testing.T) {
	base, cur := pair("b")
	s := spec()
	s.Metric = api.MetricKS
	s.CategoricalMetric = api.MetricChiSquared
	v, err := Judge(s, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Features {
		if f.Statistic == nil || f.Value == nil || *f.Value < 0 || *f.Value > 1 {
			t.Fatalf("feature %s: a p-value metric needs a statistic and a value in [0,1]: %+v", f.Feature, f)
		}
		if (f.Feature == "b") != f.Drifted {
			t.Errorf("feature %s: p=%v drifted=%v", f.Feature, *f.Value, f.Drifted)
		}
	}
}

func TestJudgeInsufficientData(t *testing.T) {
	base := []dataset.Values{numeric("a", normal(1, 100, 0)), numeric("b", normal(2, 100, 0))}
	cur := []dataset.Values{numeric("a", normal(3, 10, 5)), {Name: "b", Type: "number", Numeric: true, Numbers: normal(4, 100, 5), Missing: 7}}
	v, err := Judge(spec(), base, cur)
	if err != nil {
		t.Fatal(err)
	}
	// a has 10 current values (< 30): not judged; b drifts alone, so 1 of 1.
	if v.Features[0].Status != api.MonitorInsufficientData || v.Features[0].Value != nil || v.Features[0].CurrentCount != 10 {
		t.Fatalf("feature a: %+v", v.Features[0])
	}
	if v.Features[1].CurrentMissing != 7 || !v.Features[1].Drifted {
		t.Fatalf("feature b: %+v", v.Features[1])
	}
	if v.Status != api.MonitorDrifting || v.JudgedFeatures != 1 {
		t.Fatalf("status %s, judged %d", v.Status, v.JudgedFeatures)
	}

	few := int64(200)
	s := spec()
	s.MinSamples = &few
	if v, err = Judge(s, base, cur); err != nil || v.Status != api.MonitorInsufficientData || v.JudgedFeatures != 0 || v.DriftShare != 0 {
		t.Fatalf("min_samples 200 on 100 rows: %v %+v", err, v)
	}
}

func TestJudgeFeatures(t *testing.T) {
	base, cur := pair("a")
	base = append(base, dataset.Values{Name: "ts", Type: "timestamp", Counts: map[string]int64{"2026-01-01": 5}})
	cur = append(cur, dataset.Values{Name: "ts", Type: "timestamp", Counts: map[string]int64{"2026-11-01": 5}})
	v, err := Judge(spec(), base, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Features) != 3 {
		t.Fatalf("default features should leave timestamps out: %+v", v.Features)
	}

	s := spec()
	s.Features = []string{"b"}
	if v, err = Judge(s, base, cur); err != nil || len(v.Features) != 1 || v.Status != api.MonitorOK {
		t.Fatalf("features [b]: %v %+v", err, v)
	}

	s.Features = []string{"nope"}
	_, err = Judge(s, base, cur)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "features") {
		t.Fatalf("unknown feature: %v", err)
	}
	s.Features = []string{"a"}
	_, err = Judge(s, base, cur[1:])
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "current dataset") {
		t.Fatalf("feature missing from current: %v", err)
	}
}

func TestJudgeTypeChangeComparesAsCategories(t *testing.T) {
	base := []dataset.Values{numeric("n", []float64{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3})}
	cur := []dataset.Values{categorical("n", map[string]int64{"1": 4, "2": 4, "n/a": 4})}
	one := int64(1)
	s := spec()
	s.MinSamples = &one
	v, err := Judge(s, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	f := v.Features[0]
	if f.Kind != "categorical" || !f.Drifted {
		t.Fatalf("a numeric column gone text: %+v", f)
	}
}

func TestJudgeConstantBaselineWasserstein(t *testing.T) {
	one := int64(1)
	s := spec()
	s.Metric, s.MinSamples = api.MetricWasserstein, &one
	base := []dataset.Values{numeric("c", []float64{2, 2, 2}), numeric("d", []float64{2, 2, 2})}
	cur := []dataset.Values{numeric("c", []float64{2, 2}), numeric("d", []float64{2, 3})}
	v, err := Judge(s, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	c, d := v.Features[0], v.Features[1]
	if c.Drifted || c.Value == nil || *c.Value != 0 {
		t.Errorf("same constant: %+v", c)
	}
	if !d.Drifted || d.Value != nil || !strings.Contains(d.Note, "constant") {
		t.Errorf("constant baseline, varying current: %+v", d)
	}
}
