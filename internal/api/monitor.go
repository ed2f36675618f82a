package api

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Drift metrics a monitor may use.
const (
	MetricPSI           = "psi"
	MetricKS            = "ks"
	MetricWasserstein   = "wasserstein"
	MetricJensenShannon = "jensen_shannon"
	MetricChiSquared    = "chi_squared"
)

// NumericMetrics compare numeric columns; CategoricalMetrics compare
// categorical ones (strings, booleans).
var (
	NumericMetrics     = []string{MetricPSI, MetricKS, MetricWasserstein, MetricJensenShannon}
	CategoricalMetrics = []string{MetricPSI, MetricChiSquared, MetricJensenShannon}
)

// DefaultThreshold is the threshold a metric uses unless the monitor sets one
// (Evidently's defaults). For ks and chi_squared it is a p-value: a feature
// drifts when p < threshold; for the others the metric is a distance and a
// feature drifts when value >= threshold.
func DefaultThreshold(metric string) float64 {
	switch metric {
	case MetricKS, MetricChiSquared:
		return 0.05
	default: // psi, wasserstein (normed), jensen_shannon
		return 0.1
	}
}

// MetricIsPValue says whether a metric's value is a p-value (smaller means
// more drift) rather than a distance (larger means more drift).
func MetricIsPValue(metric string) bool { return metric == MetricKS || metric == MetricChiSquared }

// Monitor defaults.
const (
	DefaultDriftShare        = 0.5
	DefaultMinSamples        = 30
	DefaultMonitorInterval   = "1h"
	DefaultCooldown          = "1h"
	DefaultNumericMetric     = MetricPSI
	DefaultCategoricalMetric = MetricJensenShannon
	DefaultCurrentWindow     = 10_000
)

// Monitor statuses.
const (
	MonitorPending          = "pending" // not evaluated yet
	MonitorOK               = "ok"
	MonitorDrifting         = "drifting"
	MonitorInsufficientData = "insufficient_data"
	MonitorError            = "error"
)

// MonitorNotification is where a monitor sends its alerts.
type MonitorNotification struct {
	URL string `json:"url" required:"true" doc:"http(s) endpoint that receives a POST for each alert."`
	// Secret signs each body (HMAC-SHA256). The server never returns it.
	Secret string `json:"secret,omitempty" writeOnly:"true" doc:"Signs each body with HMAC-SHA256 (header X-Mlops-Signature); never returned."`
	// SecretSet reports whether a secret is stored.
	SecretSet bool `json:"secret_set,omitempty" readOnly:"true"`
}

// MonitorSpec is what a user declares about a drift monitor.
type MonitorSpec struct {
	Model           string `json:"model" required:"true" doc:"Model the monitor watches."`
	BaselineDataset string `json:"baseline_dataset" required:"true" doc:"Dataset whose content is the reference."`
	CurrentDataset  string `json:"current_dataset,omitempty" doc:"Dataset re-read at each evaluation and compared with the baseline; exactly one of current_dataset and deployment."`
	// Deployment makes the current data the requests its gateway logged.
	Deployment string `json:"deployment,omitempty" doc:"Deployment whose logged prediction requests (prediction_logging) are the current data; exactly one of current_dataset and deployment."`
	// CurrentWindow bounds how many of the newest logged rows an evaluation reads.
	CurrentWindow int `json:"current_window,omitempty" minimum:"0" maximum:"1000000" doc:"Newest logged rows of the deployment compared with the baseline; default 10000."`
	// Features defaults to every column of the baseline.
	Features          []string `json:"features,omitempty" doc:"Columns to compare; default every column of the baseline."`
	Metric            string   `json:"metric,omitempty" enum:"psi,ks,wasserstein,jensen_shannon" doc:"Metric for numeric features; default psi."`
	CategoricalMetric string   `json:"categorical_metric,omitempty" enum:"psi,chi_squared,jensen_shannon" doc:"Metric for categorical features; default jensen_shannon."`
	// Threshold overrides the default of Metric (and of CategoricalMetric when it is the same metric).
	Threshold *float64 `json:"threshold,omitempty" doc:"Overrides the metric's default threshold (psi 0.1, ks p 0.05, wasserstein 0.1, jensen_shannon 0.1, chi_squared p 0.05)."`
	// FeatureThresholds override the threshold per feature.
	FeatureThresholds map[string]float64   `json:"feature_thresholds,omitempty" doc:"Per-feature thresholds; they win over threshold."`
	DriftShare        *float64             `json:"drift_share,omitempty" minimum:"0" maximum:"1" doc:"Fraction of features that must drift for the dataset to drift; default 0.5."`
	MinSamples        *int64               `json:"min_samples,omitempty" minimum:"1" doc:"Fewest non-missing values per feature on each side to judge it; default 30."`
	Interval          string               `json:"interval,omitempty" doc:"How often to evaluate, such as 1h; default 1h, at least 10s."`
	Notification      *MonitorNotification `json:"notification,omitempty"`
	RetrainSchedule   string               `json:"retrain_schedule,omitempty" doc:"Schedule whose pipeline runs when the monitor starts drifting."`
	Cooldown          string               `json:"cooldown,omitempty" doc:"No second retrain within this long; default 1h."`
	Paused            bool                 `json:"paused,omitempty" doc:"Stop evaluating on the interval; POST .../evaluate still works."`
	Description       string               `json:"description,omitempty"`
	Labels            map[string]string    `json:"labels,omitempty"`
}

// Monitor is a drift monitor as the server reports it.
type Monitor struct {
	Project string `json:"project" readOnly:"true"`
	Name    string `json:"name" required:"true"`
	MonitorSpec
	// Status is pending until the first evaluation, then that of the latest.
	Status           string     `json:"status" readOnly:"true" enum:"pending,ok,drifting,insufficient_data,error"`
	LastEvaluatedAt  *time.Time `json:"last_evaluated_at,omitempty" readOnly:"true"`
	LastEvaluationID int64      `json:"last_evaluation_id,omitempty" readOnly:"true"`
	LastError        string     `json:"last_error,omitempty" readOnly:"true"`
	NextEvaluationAt *time.Time `json:"next_evaluation_at,omitempty" readOnly:"true"`
	// LastRetrainAt is when the monitor last started a retraining run.
	LastRetrainAt *time.Time `json:"last_retrain_at,omitempty" readOnly:"true"`
	Meta
}

// CreateMonitorRequest is the body of POST .../monitors.
type CreateMonitorRequest struct {
	Name string `json:"name" required:"true"`
	MonitorSpec
}

// MonitorState is what the evaluation engine keeps about a monitor.
type MonitorState struct {
	Status           string     `json:"status"`
	LastEvaluatedAt  *time.Time `json:"last_evaluated_at,omitempty"`
	LastEvaluationID int64      `json:"last_evaluation_id,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	NextEvaluationAt *time.Time `json:"next_evaluation_at,omitempty"`
	LastRetrainAt    *time.Time `json:"last_retrain_at,omitempty"`
	// LastVerdict is the latest ok or drifting status; errors and
	// insufficient data leave it alone, so a flaky file does not re-alert.
	LastVerdict string `json:"last_verdict,omitempty"`
	// ForGeneration is the monitor generation the queued evaluation was computed for.
	ForGeneration int64 `json:"for_generation"`
}

// FeatureDrift is the verdict on one feature in one evaluation.
type FeatureDrift struct {
	Feature string `json:"feature"`
	// Kind is numeric or categorical.
	Kind   string `json:"kind" enum:"numeric,categorical"`
	Metric string `json:"metric"`
	// Value is the metric (a p-value for ks and chi_squared); absent when the
	// feature had too few samples.
	Value     *float64 `json:"value,omitempty"`
	Threshold float64  `json:"threshold"`
	Drifted   bool     `json:"drifted"`
	// Status is ok, drifting or insufficient_data.
	Status          string `json:"status" enum:"ok,drifting,insufficient_data"`
	BaselineCount   int64  `json:"baseline_count" doc:"Non-missing baseline values."`
	CurrentCount    int64  `json:"current_count" doc:"Non-missing current values."`
	BaselineMissing int64  `json:"baseline_missing"`
	CurrentMissing  int64  `json:"current_missing"`
	// Statistic is the test statistic behind a p-value (ks D, chi-squared).
	Statistic *float64 `json:"statistic,omitempty"`
	// Note explains a verdict reached without a value.
	Note string `json:"note,omitempty"`
}

// Notification delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// NotificationDelivery records what became of an alert's webhook call.
type NotificationDelivery struct {
	URL        string     `json:"url"`
	State      string     `json:"state" enum:"pending,delivered,failed"`
	Attempts   int        `json:"attempts"`
	StatusCode int        `json:"status_code,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	LastTryAt  *time.Time `json:"last_try_at,omitempty"`
}

// RunRef names one pipeline run.
type RunRef struct {
	Pipeline string `json:"pipeline"`
	ID       int64  `json:"id"`
}

// MonitorEvaluation is one evaluation of a monitor.
type MonitorEvaluation struct {
	Project string `json:"project"`
	Monitor string `json:"monitor"`
	// ID numbers a monitor's evaluations 1, 2, 3, ...
	ID int64 `json:"id"`
	// Trigger is interval or manual.
	Trigger string `json:"trigger"`
	// DueAt is the time an interval evaluation was due (absent for manual ones).
	DueAt      *time.Time `json:"due_at,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	// Status is the dataset verdict: ok, drifting, insufficient_data or error.
	Status string `json:"status" enum:"ok,drifting,insufficient_data,error"`
	Error  string `json:"error,omitempty"`
	// DriftShare is the fraction of judged features that drifted; DriftShareThreshold the monitor's drift_share.
	DriftShare          float64        `json:"drift_share"`
	DriftShareThreshold float64        `json:"drift_share_threshold"`
	DriftedFeatures     int            `json:"drifted_features"`
	JudgedFeatures      int            `json:"judged_features"`
	BaselineDataset     string         `json:"baseline_dataset"`
	BaselineVersion     int64          `json:"baseline_version"`
	BaselineRows        int64          `json:"baseline_rows"`
	CurrentDataset      string         `json:"current_dataset,omitempty"`
	Deployment          string         `json:"deployment,omitempty" doc:"Deployment whose logged requests were the current data."`
	CurrentVersion      int64          `json:"current_version"`
	CurrentRows         int64          `json:"current_rows"`
	Features            []FeatureDrift `json:"features"`
	// Alert is set when this evaluation moved the monitor into drifting.
	Alert bool `json:"alert"`
	// RetrainRun is the run this evaluation started; RetrainSkipped says why none started.
	RetrainRun     *RunRef               `json:"retrain_run,omitempty"`
	RetrainSkipped string                `json:"retrain_skipped,omitempty"`
	Notification   *NotificationDelivery `json:"notification,omitempty"`
}

// Validate checks a monitor spec; the existence of the objects it names is the server's to check.
func (s *MonitorSpec) Validate() *FieldError {
	for field, name := range map[string]string{"model": s.Model, "baseline_dataset": s.BaselineDataset} {
		if err := ValidateName(field, name); err != nil {
			return err
		}
	}
	switch {
	case s.CurrentDataset != "" && s.Deployment != "":
		return Errorf("current_dataset", "set exactly one of current_dataset and deployment, not both")
	case s.CurrentDataset == "" && s.Deployment == "":
		return Errorf("current_dataset", "set current_dataset (a dataset re-read at each evaluation) or deployment (its logged requests)")
	case s.CurrentDataset != "":
		if err := ValidateName("current_dataset", s.CurrentDataset); err != nil {
			return err
		}
	default:
		if err := ValidateName("deployment", s.Deployment); err != nil {
			return err
		}
	}
	if s.CurrentWindow < 0 || s.CurrentWindow > 1_000_000 {
		return Errorf("current_window", "must be between 1 and 1000000")
	}
	if s.RetrainSchedule != "" {
		if err := ValidateName("retrain_schedule", s.RetrainSchedule); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, f := range s.Features {
		if f == "" {
			return Errorf(fieldIndex("features", i), "is empty; name a column of the baseline dataset")
		}
		if seen[f] {
			return Errorf(fieldIndex("features", i), "%q is listed twice", f)
		}
		seen[f] = true
	}
	if s.Metric != "" {
		if err := oneOf("metric", s.Metric, NumericMetrics); err != nil {
			return err
		}
	}
	if s.CategoricalMetric != "" {
		if err := oneOf("categorical_metric", s.CategoricalMetric, CategoricalMetrics); err != nil {
			return err
		}
	}
	if s.Threshold != nil {
		if err := validThreshold("threshold", *s.Threshold, s.NumericMetric()); err != nil {
			return err
		}
	}
	for _, f := range sortedKeys(s.FeatureThresholds) {
		if err := validThreshold("feature_thresholds."+f, s.FeatureThresholds[f], ""); err != nil {
			return err
		}
		if len(s.Features) > 0 && !seen[f] {
			return Errorf("feature_thresholds."+f, "names a feature that is not in features; add it there or remove the threshold")
		}
	}
	if s.DriftShare != nil && (math.IsNaN(*s.DriftShare) || *s.DriftShare <= 0 || *s.DriftShare > 1) {
		return Errorf("drift_share", "must be greater than 0 and at most 1, such as 0.5")
	}
	if s.MinSamples != nil && *s.MinSamples < 1 {
		return Errorf("min_samples", "must be at least 1")
	}
	if s.Interval != "" {
		if err := ValidateDuration("interval", s.Interval, MinInterval); err != nil {
			return err
		}
	}
	if s.Cooldown != "" {
		if err := ValidateDuration("cooldown", s.Cooldown, 0); err != nil {
			return err
		}
	}
	if s.Notification != nil {
		if err := ValidateWebhookURL("notification.url", s.Notification.URL); err != nil {
			return err
		}
		if len(s.Notification.Secret) > 1024 {
			return Errorf("notification.secret", "is longer than 1024 bytes")
		}
	}
	return ValidateLabels("labels", s.Labels)
}

func validThreshold(field string, v float64, metric string) *FieldError {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return Errorf(field, "must be a finite number of at least 0")
	}
	if MetricIsPValue(metric) && v > 1 {
		return Errorf(field, "is a p-value for %s and must be between 0 and 1, such as 0.05", metric)
	}
	return nil
}

func fieldIndex(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// ValidateWebhookURL checks that a webhook URL is absolute http(s) with a host
// and no credentials. Which addresses it may reach is the server's policy.
func ValidateWebhookURL(field, raw string) *FieldError {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return Errorf(field, "%q is not an absolute URL; use https://host/path", raw)
	}
	if !slices.Contains([]string{"http", "https"}, strings.ToLower(u.Scheme)) {
		return Errorf(field, "scheme %q is not allowed; use http or https", u.Scheme)
	}
	if u.User != nil {
		return Errorf(field, "must not carry credentials; sign with notification.secret instead")
	}
	return nil
}

// NumericMetric is the metric numeric features use.
func (s *MonitorSpec) NumericMetric() string {
	if s.Metric == "" {
		return DefaultNumericMetric
	}
	return s.Metric
}

// CategoricalMetricOrDefault is the metric categorical features use.
func (s *MonitorSpec) CategoricalMetricOrDefault() string {
	if s.CategoricalMetric == "" {
		return DefaultCategoricalMetric
	}
	return s.CategoricalMetric
}

// ThresholdFor is the threshold of a feature compared with a metric.
func (s *MonitorSpec) ThresholdFor(feature, metric string) float64 {
	if v, ok := s.FeatureThresholds[feature]; ok {
		return v
	}
	if s.Threshold != nil && metric == s.NumericMetric() {
		return *s.Threshold
	}
	return DefaultThreshold(metric)
}

// DriftShareOrDefault is the fraction of features that must drift.
func (s *MonitorSpec) DriftShareOrDefault() float64 {
	if s.DriftShare == nil {
		return DefaultDriftShare
	}
	return *s.DriftShare
}

// MinSamplesOrDefault is the fewest values per side needed to judge a feature.
func (s *MonitorSpec) MinSamplesOrDefault() int64 {
	if s.MinSamples == nil {
		return DefaultMinSamples
	}
	return *s.MinSamples
}

// IntervalOrDefault is how often the monitor evaluates.
func (s *MonitorSpec) IntervalOrDefault() time.Duration {
	d, err := ParseDuration(s.Interval)
	if s.Interval == "" || err != nil {
		d, _ = ParseDuration(DefaultMonitorInterval)
	}
	return d
}

// CooldownOrDefault is the least time between two retrain triggers.
func (s *MonitorSpec) CooldownOrDefault() time.Duration {
	d, err := ParseDuration(s.Cooldown)
	if s.Cooldown == "" || err != nil {
		d, _ = ParseDuration(DefaultCooldown)
	}
	return d
}
