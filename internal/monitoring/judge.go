// Package monitoring turns a drift monitor's spec and the columns of its
// baseline and current datasets into a verdict: per feature the metric, its
// threshold and whether it drifted, and for the dataset whether enough
// features drifted. It holds no state; the engine stores what it returns.
package monitoring

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/drift"
)

// Verdict is what one comparison of two datasets found.
type Verdict struct {
	// Status is ok, drifting or insufficient_data.
	Status          string
	Features        []api.FeatureDrift
	DriftedFeatures int
	JudgedFeatures  int
	// DriftShare is DriftedFeatures / JudgedFeatures (0 when none was judged).
	DriftShare float64
}

// ConfigError is a monitor spec that does not fit its data (a feature the
// baseline lacks); the evaluation's status is error and the message says what to fix.
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return e.msg }

// Judge compares the features of spec on baseline and current. The numbers of
// both are sorted in place.
func Judge(spec *api.MonitorSpec, baseline, current []dataset.Values) (*Verdict, error) {
	base := index(baseline)
	cur := index(current)
	features := spec.Features
	if len(features) == 0 {
		features = defaultFeatures(baseline)
	}
	minSamples := spec.MinSamplesOrDefault()
	v := &Verdict{Features: make([]api.FeatureDrift, 0, len(features))}
	for _, name := range features {
		b, ok := base[name]
		if !ok {
			return nil, &ConfigError{fmt.Sprintf("feature %q is not a column of the baseline dataset %q; fix features", name, spec.BaselineDataset)}
		}
		c, ok := cur[name]
		if !ok {
			return nil, &ConfigError{fmt.Sprintf("feature %q is missing from the current dataset %q", name, spec.CurrentDataset)}
		}
		f, err := judgeFeature(spec, name, b, c, minSamples)
		if err != nil {
			return nil, err
		}
		v.Features = append(v.Features, f)
		if f.Status == api.MonitorInsufficientData {
			continue
		}
		v.JudgedFeatures++
		if f.Drifted {
			v.DriftedFeatures++
		}
	}
	if v.JudgedFeatures == 0 {
		v.Status = api.MonitorInsufficientData
		return v, nil
	}
	v.DriftShare = float64(v.DriftedFeatures) / float64(v.JudgedFeatures)
	v.Status = api.MonitorOK
	if v.DriftShare >= spec.DriftShareOrDefault() {
		v.Status = api.MonitorDrifting
	}
	return v, nil
}

func judgeFeature(spec *api.MonitorSpec, name string, b, c *dataset.Values, minSamples int64) (api.FeatureDrift, error) {
	// A column numeric on one side and not the other (a stray "n/a" in the
	// current data) is compared as categories, where the change shows.
	numeric := b.Numeric && c.Numeric
	bs, cs := sample(b, numeric), sample(c, numeric)
	f := api.FeatureDrift{
		Feature: name, Kind: "categorical", Metric: spec.CategoricalMetricOrDefault(),
		BaselineCount: bs.N(), CurrentCount: cs.N(), BaselineMissing: b.Missing, CurrentMissing: c.Missing,
	}
	if numeric {
		f.Kind, f.Metric = "numeric", spec.NumericMetric()
	}
	f.Threshold = spec.ThresholdFor(name, f.Metric)
	if f.BaselineCount < minSamples || f.CurrentCount < minSamples {
		f.Status = api.MonitorInsufficientData
		return f, nil
	}
	res, err := drift.Compare(f.Metric, bs, cs)
	if errors.Is(err, drift.ErrConstantBaseline) {
		// Every baseline value was the same and the current ones are not:
		// a change no normed distance can size, but a change all the same.
		f.Drifted, f.Status, f.Note = true, api.MonitorDrifting, err.Error()
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("feature %q: %w", name, err)
	}
	value := res.Value
	f.Value = &value
	if res.Statistic != 0 || api.MetricIsPValue(f.Metric) {
		st := res.Statistic
		f.Statistic = &st
	}
	f.Drifted = drift.Drifted(f.Metric, value, f.Threshold)
	f.Status = api.MonitorOK
	if f.Drifted {
		f.Status = api.MonitorDrifting
	}
	return f, nil
}

// sample converts a column for drift; a numeric column compared as
// categories counts its values' text.
func sample(v *dataset.Values, numeric bool) *drift.Sample {
	if numeric {
		return &drift.Sample{Numeric: true, Values: v.Numbers, Missing: v.Missing}
	}
	if !v.Numeric {
		return &drift.Sample{Counts: v.Counts, Missing: v.Missing}
	}
	counts := make(map[string]int64)
	for _, x := range v.Numbers {
		counts[formatNumber(x)]++
	}
	return &drift.Sample{Counts: counts, Missing: v.Missing}
}

func formatNumber(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return fmt.Sprintf("%d", int64(x))
	}
	return fmt.Sprintf("%g", x)
}

// defaultFeatures is every baseline column but timestamps, whose values are
// new by nature and would always drift.
func defaultFeatures(cols []dataset.Values) []string {
	var names []string
	for _, c := range cols {
		if c.Type != "timestamp" {
			names = append(names, c.Name)
		}
	}
	return names
}

func index(cols []dataset.Values) map[string]*dataset.Values {
	m := make(map[string]*dataset.Values, len(cols))
	for i := range cols {
		m[cols[i].Name] = &cols[i]
	}
	return m
}
