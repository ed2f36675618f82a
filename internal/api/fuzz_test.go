package api

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzSpecs feeds arbitrary text to every parser (cron, durations, URIs,
// webhook URLs) and arbitrary JSON, and the same text in every string field,
// to the monitor, deployment, pipeline and schedule validators. None may
// panic, and what they accept must be usable by the code that relies on it.
func FuzzSpecs(f *testing.F) {
	seeds := []struct{ s, body string }{
		{"0 3 * * *", `{"model":"m","baseline_dataset":"b","current_dataset":"c","notification":{"url":"https://h/x","secret":"s"}}`},
		{"@every 1h", `{"model":"m","version":1,"runtime":{"url":"http://h/v{version}"},"strategy":{"type":"canary","steps":[10,50],"step_interval":"1s"}}`},
		{"*/0 * * * *", `{"model":"m","alias":"a","runtime":{"command":["serve"],"health_path":"/h"},"replicas":16,"prediction_logging":{"sample_rate":1,"max_entries":1000000}}`},
		{"9999999999999d", `{"model":"m","baseline_dataset":"b","deployment":"d","current_window":1000000,"threshold":1e308,"feature_thresholds":{"a":0}}`},
		{"300000d", `{"interval":"-1000000d","cooldown":"106752d"}`},
		{"-1d", `{"steps":[{"name":"a","command":["x"],"depends_on":["b"]},{"name":"b","command":["x"],"depends_on":["a"]}]}`},
		{"https://user:pw@h/x", `{"pipeline":"p","cron":"0 3 * * *","timezone":"Europe/Berlin","end_at":"2000-01-01T00:00:00Z","start_at":"2030-01-01T00:00:00Z"}`},
		{"http://[::1]:80/{version}", `{"features":["a","a"],"drift_share":0,"min_samples":0}`},
		{"HTTP://h", `{"labels":{"\ufffd":"x"}}`},
		{"\xff", "\xff"},
		{"", `null`},
		{"1.5d", `{"runtime":{"url":"http://h"},"strategy":{"type":"canary","steps":[99,100]}}`},
		{"TZ=UTC 0 3 * * *", `[]`},
	}
	for _, s := range seeds {
		f.Add(s.s, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, s string, body []byte) {
		checkParsers(t, s)

		var m MonitorSpec
		if json.Unmarshal(body, &m) == nil {
			checkMonitor(t, &m)
		}
		var d DeploymentSpec
		if json.Unmarshal(body, &d) == nil {
			checkDeployment(t, &d)
		}
		var p PipelineSpec
		if json.Unmarshal(body, &p) == nil && p.Validate() == nil {
			if got := len(p.TopoOrder()); got != len(p.Steps) {
				t.Fatalf("accepted pipeline orders %d of %d steps: %s", got, len(p.Steps), body)
			}
		}
		var sc ScheduleSpec
		if json.Unmarshal(body, &sc) == nil {
			_ = sc.Validate()
		}

		// The text in every string field, so the validators see it where they parse.
		one := 0.5
		m = MonitorSpec{
			Model: s, BaselineDataset: s, CurrentDataset: s, Features: []string{s}, Metric: s, CategoricalMetric: s,
			Threshold: &one, FeatureThresholds: map[string]float64{s: one}, Interval: s, Cooldown: s, RetrainSchedule: s,
			Notification: &MonitorNotification{URL: s, Secret: s}, Labels: map[string]string{s: s},
		}
		checkMonitor(t, &m)
		m.CurrentDataset, m.Deployment = "", s
		checkMonitor(t, &m)
		d = DeploymentSpec{Model: s, Alias: s, Runtime: DeploymentRuntime{URL: s, HealthPath: s},
			Strategy: &DeploymentStrategy{Type: StrategyCanary, Steps: []int{10}, StepInterval: s}, Labels: map[string]string{s: s}}
		checkDeployment(t, &d)
		d.Runtime = DeploymentRuntime{Command: []string{s}}
		checkDeployment(t, &d)
		sc = ScheduleSpec{Pipeline: "p", Cron: s, Timezone: s}
		_ = sc.Validate()
		sc = ScheduleSpec{Pipeline: "p", Interval: s, ConcurrencyPolicy: s}
		_ = sc.Validate()
	})
}

// checkParsers runs every parser on s and checks what they accept.
func checkParsers(t *testing.T, s string) {
	t.Helper()
	if sched, err := ParseCron(s); err == nil {
		if sched == nil {
			t.Fatalf("ParseCron(%q) returned no schedule and no error", s)
		}
		_ = sched.Next(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		if fe := ValidateCron("cron", s); fe != nil {
			t.Fatalf("ParseCron accepts %q but ValidateCron refuses it: %v", s, fe)
		}
	} else if ValidateCron("cron", s) == nil {
		t.Fatalf("ValidateCron accepts %q that ParseCron refuses: %v", s, err)
	}
	d, err := ParseDuration(s)
	if n, ok := strings.CutSuffix(s, "d"); ok && err == nil {
		if h, herr := time.ParseDuration(n + "h"); herr == nil && d/24 != h {
			t.Fatalf("ParseDuration(%q) = %v, not 24 × %v: the multiplication wrapped around", s, d, h)
		}
	}
	for _, min := range []time.Duration{0, time.Second, MinInterval} {
		fe := ValidateDuration("d", s, min)
		if (fe == nil) != (err == nil && d >= min) {
			t.Fatalf("ValidateDuration(%q, %v) = %v, but ParseDuration says %v, %v", s, min, fe, d, err)
		}
	}
	if fe := ValidateURI("uri", s); fe == nil && !strings.HasPrefix(s, "/") {
		if u, err := url.Parse(s); err != nil || u.Scheme == "" {
			t.Fatalf("ValidateURI accepted %q, which is no absolute URI", s)
		}
	}
	if fe := ValidateWebhookURL("url", s); fe == nil {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.User != nil || (strings.ToLower(u.Scheme) != "http" && strings.ToLower(u.Scheme) != "https") {
			t.Fatalf("ValidateWebhookURL accepted %q", s)
		}
	}
}

// checkMonitor validates a monitor spec and checks that an accepted one has
// the timings and thresholds the evaluator can use.
func checkMonitor(t *testing.T, m *MonitorSpec) {
	t.Helper()
	if m.Validate() != nil {
		return
	}
	if m.IntervalOrDefault() < MinInterval || m.CooldownOrDefault() < 0 {
		t.Fatalf("accepted monitor evaluates every %v with cooldown %v: %+v", m.IntervalOrDefault(), m.CooldownOrDefault(), m)
	}
	if share := m.DriftShareOrDefault(); !(share > 0 && share <= 1) || m.MinSamplesOrDefault() < 1 {
		t.Fatalf("accepted monitor with drift_share %v, min_samples %d", share, m.MinSamplesOrDefault())
	}
	for _, f := range append([]string{"any"}, m.Features...) {
		for _, metric := range []string{m.NumericMetric(), m.CategoricalMetricOrDefault()} {
			if th := m.ThresholdFor(f, metric); math.IsNaN(th) || math.IsInf(th, 0) || th < 0 {
				t.Fatalf("accepted monitor has threshold %v for %s/%s", th, f, metric)
			}
		}
	}
	if (m.CurrentDataset == "") == (m.Deployment == "") {
		t.Fatalf("accepted monitor without exactly one of current_dataset and deployment: %+v", m)
	}
}

// checkDeployment validates a deployment spec and checks that an accepted
// one can be rolled out: a reachable backend URL, sane canary steps.
func checkDeployment(t *testing.T, d *DeploymentSpec) {
	t.Helper()
	if d.Validate() != nil {
		return
	}
	if d.Runtime.URL != "" {
		if fe := ValidateWebhookURL("runtime.url", d.Runtime.BackendURL(7)); fe != nil {
			t.Fatalf("accepted runtime.url %q gives backend URL %q: %v", d.Runtime.URL, d.Runtime.BackendURL(7), fe)
		}
	} else if len(d.Runtime.Command) == 0 || d.Runtime.Command[0] == "" {
		t.Fatalf("accepted deployment has neither url nor command: %+v", d.Runtime)
	}
	if d.Canary() {
		prev := 0
		for _, p := range d.Strategy.Steps {
			if p <= prev || p > 99 {
				t.Fatalf("accepted canary steps %v", d.Strategy.Steps)
			}
			prev = p
		}
	}
	if d.StepIntervalOrDefault() <= 0 {
		t.Fatalf("accepted step interval %v", d.StepIntervalOrDefault())
	}
}
