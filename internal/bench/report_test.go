package bench

import (
	"strings"
	"testing"
)

const sampleOutput = `load: 0.52 0.40 0.33
goos: linux
goarch: amd64
pkg: github.com/mlopsplane/terraform-provider-mlops/internal/bench
cpu: Test CPU
BenchmarkAPI/postgres/floor-insert/c32-2   	       1	  300000 ns/op	 100.0 cpu-µs/op	 5.0 p50-ms	 20.0 p99-ms	 3000 req/s
BenchmarkAPI/postgres/create/c32-2         	       1	  600000 ns/op	 900.0 cpu-µs/op	 15.0 p50-ms	 40.0 p99-ms	 1600 req/s
BenchmarkAPI/postgres/create/c32-2         	       1	  600000 ns/op	 900.0 cpu-µs/op	 15.0 p50-ms	 40.0 p99-ms	 1400 req/s
BenchmarkAPI/postgres/create/c32-2         	       1	  600000 ns/op	 900.0 cpu-µs/op	 15.0 p50-ms	 40.0 p99-ms	 1700 req/s
BenchmarkAPI/postgres/floor-select/c32-2   	       1	  100000 ns/op	 50.0 cpu-µs/op	 1.0 p50-ms	 5.0 p99-ms	 10000 req/s
BenchmarkAPI/postgres/get/c32-2            	       1	  250000 ns/op	 300.0 cpu-µs/op	 4.0 p50-ms	 12.0 p99-ms	 4000 req/s
--- BENCH: BenchmarkAPI/postgres/get/c32-2
    api_test.go:68: a log line
BenchmarkSchedulerMinute
    bench_schedule_test.go:126: 10000 schedules written in 20s
BenchmarkSchedulerMinute-2 	       1	60500000000 ns/op	 165.3 fires/s	 0.99 keepup-ratio	 900 lateness_max_ms	 120 lateness_p50_ms	 480 lateness_p99_ms	 166.7 offered/s	 10000 schedules	 60 spread-s
BenchmarkTerraform-2 	       1	60000000000 ns/op	 1.2 apply-ratio	 12.0 apply-s	 10.0 floor-apply-s	 4.0 floor-plan-s	 1.4 plan-ratio	 5.6 plan-s	 0.6 empty-plan-s	 0.1 floor-empty-plan-s	 4.8 framework-plan-s	 0.5 framework-empty-plan-s	 1.1 framework-per-resource-plan-ratio	 200 resources
BenchmarkSort1M-2 	       3	 140000000 ns/op
BenchmarkPSI1M-2  	       3	  30000000 ns/op
PASS
load: 0.61 0.45 0.35
`

func TestParse(t *testing.T) {
	r, err := Parse(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.CPU != "Test CPU" || r.OS != "linux" || r.Arch != "amd64" || len(r.Load) != 2 {
		t.Errorf("header: %q %q %q %q", r.CPU, r.OS, r.Arch, r.Load)
	}
	if v, _ := r.get("BenchmarkAPI/postgres/create/c32", "req/s"); v != 1600 {
		t.Errorf("median of three runs: %v, want 1600", v)
	}
	if v, ok := r.get("BenchmarkSchedulerMinute", "lateness_p99_ms"); !ok || v != 480 {
		t.Errorf("results on the line after the name's: %v %v", v, ok)
	}
	if _, ok := r.Metrics["BenchmarkAPI/postgres/get/c32"]; !ok {
		t.Error("get/c32 missing")
	}
}

func TestRows(t *testing.T) {
	r, err := Parse(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Row{}
	for _, row := range Rows(r) {
		rows[row.Measure] = row
	}
	for measure, want := range map[string]Row{
		"terraform plan (refresh, no changes), 200 resources":                  {Ours: "5.60 s (mlops_model)", Baseline: "4.00 s (terraform_data)", Ratio: "1.40×", Met: "yes"},
		"terraform apply (create), 200 resources":                              {Ratio: "1.20×", Met: ""},
		"terraform plan, no resources (the fixed cost: starting the provider)": {Ours: "0.6 s (mlops_model, count = 0)", Ratio: "+0.5 s"},
		"terraform plan per resource (each plan less its no-resource plan)":    {Ours: "5.00 s", Baseline: "3.90 s", Ratio: "1.28×"},
		"terraform plan, 200 resources of a provider that does nothing, with the same schema on the same framework": {
			Ours: "4.80 s (floor_model); 0.5 s with no resources", Baseline: "4.00 s (terraform_data)", Ratio: "1.20× (per resource 1.10×)"},
		"terraform plan, 200 resources: the mlops provider's own work (reading each model from mlopsd, the default project)": {
			Ours: "5.60 s (mlops_model)", Baseline: "4.80 s (floor_model)", Ratio: "1.17×"},
		"create a model, PostgreSQL, 32 clients":            {Ours: "1,600 req/s; p50 15.0 ms, p99 40.0 ms", Baseline: "3,000 INSERT/s", Ratio: "0.533×", Met: "yes"},
		"get a model, PostgreSQL, 32 clients":               {Baseline: "10,000 SELECT/s", Ratio: "0.4×", Met: "**no**"},
		"get a model, SQLite, 1 client":                     {Ours: notRun},
		"10,000 schedules due over one minute, SQLite":      {Ours: "165 fires/s; late p50 0.12 s, p99 0.48 s", Baseline: "167 due/s", Met: "yes"},
		"PSI, one feature, 1M baseline + 1M current values": {Ours: "30.0 ms", Ratio: "0.214×"},
	} {
		got, ok := rows[measure]
		if !ok {
			t.Errorf("no row %q", measure)
			continue
		}
		for field, pair := range map[string][2]string{
			"ours": {got.Ours, want.Ours}, "baseline": {got.Baseline, want.Baseline}, "ratio": {got.Ratio, want.Ratio},
		} {
			if pair[1] != "" && pair[0] != pair[1] {
				t.Errorf("%s: %s = %q, want %q", measure, field, pair[0], pair[1])
			}
		}
		if want.Ours != notRun && got.Met != want.Met {
			t.Errorf("%s: met = %q, want %q", measure, got.Met, want.Met)
		}
	}
	md := Markdown(Rows(r))
	if !strings.HasPrefix(md, "| | measure | ours | baseline | ratio | target | met? |\n") || strings.Count(md, "**API**") != 1 {
		t.Errorf("markdown:\n%s", md)
	}
}
