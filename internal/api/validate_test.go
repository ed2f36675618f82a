package api

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "churn", "churn-v2", "a_b", "0", strings.Repeat("a", 63)} {
		if err := ValidateName("name", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "-a", "a-", "a b", "a.b", strings.Repeat("a", 64), "é"} {
		if err := ValidateName("name", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{"90s": 90 * time.Second, "10m": 10 * time.Minute, "6h": 6 * time.Hour, "1d": 24 * time.Hour, "1.5d": 36 * time.Hour, "1h30m": 90 * time.Minute}
	for in, want := range cases {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "soon", "5", "1hd"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	if err := ValidateDuration("interval", "30s", time.Minute); err == nil || !strings.Contains(err.Message, "minimum") {
		t.Errorf("30s below a 1m minimum: %v", err)
	}
}

func TestValidateCronAndZone(t *testing.T) {
	for _, ok := range []string{"0 3 * * *", "*/15 * * * 1-5", "@daily", "0 0 1 1 *"} {
		if err := ValidateCron("cron", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0 3 * *", "0 3 * * * *", "61 * * * *", "CRON_TZ=UTC 0 3 * * *", "every day"} {
		if err := ValidateCron("cron", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := ValidateTimezone("timezone", "Europe/Berlin"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"Mars/Olympus", "Local", "../../etc/passwd"} {
		if err := ValidateTimezone("timezone", bad); err == nil {
			t.Errorf("zone %q accepted", bad)
		}
	}
}

func TestValidateURI(t *testing.T) {
	for _, ok := range []string{"s3://b/k", "file:///data/x.csv", "/data/x.csv", "gs://b", "https://h/x"} {
		if err := ValidateURI("uri", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "relative/path.csv", "no scheme", "://x"} {
		if err := ValidateURI("uri", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestGates(t *testing.T) {
	g := Gate{Metric: "auc", Op: ">=", Threshold: 0.8, Aliases: []string{"champion"}}
	if !g.Passes(0.8) || g.Passes(0.79) || !g.AppliesTo("champion") || g.AppliesTo("staging") {
		t.Fatal("gate semantics")
	}
	if !(Gate{Op: "<", Threshold: 1}).Passes(0.5) || (Gate{Op: "==", Threshold: 1}).Passes(1.1) || !(Gate{}).AppliesTo("x") {
		t.Fatal("ops")
	}
	gates := []Gate{g, {Metric: "loss", Op: "<", Threshold: 0.3}}
	if why := GateFailure(gates, map[string]float64{"auc": 0.7, "loss": 0.1}, "champion"); why != `metric "auc" is 0.7, gate requires auc >= 0.8` {
		t.Fatalf("failure = %q", why)
	}
	if why := GateFailure(gates, map[string]float64{"auc": 0.7, "loss": 0.1}, "staging"); why != "" {
		t.Fatalf("staging is not guarded by the auc gate: %q", why)
	}
	if why := GateFailure(gates, nil, "staging"); !strings.Contains(why, `metric "loss" is missing`) {
		t.Fatalf("missing metric: %q", why)
	}
}

func TestTopoOrder(t *testing.T) {
	spec := PipelineSpec{Steps: []Step{
		{Name: "eval", Command: []string{"x"}, DependsOn: []string{"train"}},
		{Name: "train", Command: []string{"x"}, DependsOn: []string{"prep"}},
		{Name: "prep", Command: []string{"x"}},
	}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(spec.TopoOrder(), ","); got != "prep,train,eval" {
		t.Fatalf("order = %s", got)
	}
}

// FuzzParsers feeds the cron, duration, name, zone and URI parsers arbitrary
// text: they must answer, never panic, and an accepted duration must be usable.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "@every 1h", "1d", "-1d", "9999999999999d", "Europe/Berlin", "s3://b/k", "a-b", "\xff", "*/0 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = ValidateCron("cron", s)
		_ = ValidateTimezone("timezone", s)
		_ = ValidateURI("uri", s)
		if ValidateName("name", s) == nil && (!utf8.ValidString(s) || len(s) > 63) {
			t.Fatalf("accepted name %q", s)
		}
		if err := ValidateDuration("d", s, time.Minute); err == nil {
			if d, _ := ParseDuration(s); d < time.Minute {
				t.Fatalf("accepted %q as %v, below the minimum", s, d)
			}
		}
	})
}
