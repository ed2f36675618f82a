package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results are parsed `go test -bench` output: every benchmark's metrics by
// unit, with what the header lines said about the machine.
type Results struct {
	// Metrics maps a benchmark's name (without the -GOMAXPROCS suffix) to
	// its metrics by unit; a benchmark run several times (-count) keeps the
	// median of each.
	Metrics map[string]map[string]float64
	// CPU, OS and Arch are from the header lines, if any.
	CPU, OS, Arch string
	// Load holds the "load: " lines `make bench` prints before and after
	// the run (the load average then), to tell a quiet run from a busy one.
	Load []string

	runs map[string]map[string][]float64
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads the output of one or more `go test -bench` runs. Lines that
// are not benchmark results (logs, PASS, ok) are skipped.
func Parse(r io.Reader) (*Results, error) {
	res := &Results{Metrics: map[string]map[string]float64{}, runs: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	// A benchmark that prints while it runs gets its name and its results on
	// different lines: pending is the name still waiting for its results.
	pending := ""
	for sc.Scan() {
		line := sc.Text()
		for prefix, field := range map[string]*string{"cpu: ": &res.CPU, "goos: ": &res.OS, "goarch: ": &res.Arch} {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				*field = strings.TrimSpace(v)
			}
		}
		if v, ok := strings.CutPrefix(line, "load: "); ok {
			res.Load = append(res.Load, strings.TrimSpace(v))
		}
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.HasPrefix(fields[0], "Benchmark") {
			pending, fields = procsSuffix.ReplaceAllString(fields[0], ""), fields[1:]
		}
		if pending == "" || !resultFields(fields) {
			continue
		}
		m := res.runs[pending]
		if m == nil {
			m = map[string][]float64{}
			res.runs[pending] = m
		}
		for i := 1; i+1 < len(fields); i += 2 {
			v, _ := strconv.ParseFloat(fields[i], 64)
			m[fields[i+1]] = append(m[fields[i+1]], v)
		}
		pending = ""
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for name, units := range res.runs {
		res.Metrics[name] = map[string]float64{}
		for unit, vs := range units {
			slices.Sort(vs)
			res.Metrics[name][unit] = vs[len(vs)/2]
		}
	}
	return res, nil
}

// resultFields says whether fields are a benchmark's results: the
// iteration count, then pairs of a value and its unit.
func resultFields(fields []string) bool {
	if len(fields) < 3 || len(fields)%2 == 0 {
		return false
	}
	if _, err := strconv.ParseInt(fields[0], 10, 64); err != nil {
		return false
	}
	for i := 1; i < len(fields); i += 2 {
		if _, err := strconv.ParseFloat(fields[i], 64); err != nil {
			return false
		}
	}
	return true
}

// get returns a metric and whether the benchmark reported it.
func (r *Results) get(name, unit string) (float64, bool) {
	v, ok := r.Metrics[name][unit]
	return v, ok
}

// Row is one line of the table.
type Row struct {
	Section  string
	Measure  string
	Ours     string
	Baseline string
	Ratio    string
	Target   string
	// Met is "yes", "no", or "" where the row has no target or was not measured.
	Met string
}

// notRun marks a row whose benchmark did not run (skipped, or filtered out).
const notRun = "not run"

// Rows computes the table from the results.
func Rows(r *Results) []Row {
	var rows []Row
	rows = append(rows, terraformRows(r)...)
	rows = append(rows, apiRows(r)...)
	rows = append(rows, schedulerRows(r)...)
	rows = append(rows, driftRows(r)...)
	rows = append(rows, gatewayRows(r)...)
	return rows
}

func terraformRows(r *Results) []Row {
	const name = "BenchmarkTerraform"
	n := "200"
	if v, ok := r.get(name, "resources"); ok {
		n = fmt.Sprintf("%.0f", v)
	}
	var rows []Row
	for _, step := range []struct{ label, key, target string }{
		{"terraform plan (refresh, no changes), " + n + " resources", "plan", "≤ 1.5×"},
		{"terraform apply (create), " + n + " resources", "apply", ""},
	} {
		row := Row{Section: "Provider overhead", Measure: step.label, Target: step.target}
		ours, ok1 := r.get(name, step.key+"-s")
		floor, ok2 := r.get(name, "floor-"+step.key+"-s")
		if !ok1 || !ok2 {
			row.Ours = notRun
			rows = append(rows, row)
			continue
		}
		row.Ours = fmt.Sprintf("%s s (mlops_model)", num(ours))
		row.Baseline = fmt.Sprintf("%s s (terraform_data)", num(floor))
		ratio := ours / floor
		row.Ratio = times(ratio)
		if cpu, ok := r.get(name, step.key+"-cpu-s"); ok {
			if fcpu, ok := r.get(name, "floor-"+step.key+"-cpu-s"); ok {
				row.Ours += fmt.Sprintf("; CPU %s s", num(cpu))
				row.Baseline += fmt.Sprintf("; CPU %s s", num(fcpu))
			}
		}
		if step.target != "" {
			row.Met = yesNo(ratio <= 1.5)
		}
		rows = append(rows, row)
		if step.key != "plan" {
			continue
		}
		empty, ok1 := r.get(name, "empty-plan-s")
		floorEmpty, ok2 := r.get(name, "floor-empty-plan-s")
		if ok1 && ok2 {
			rows = append(rows,
				Row{Section: "Provider overhead", Measure: "terraform plan, no resources (the fixed cost: starting the provider)",
					Ours: fmt.Sprintf("%s s (mlops_model, count = 0)", num(empty)), Baseline: fmt.Sprintf("%s s (terraform_data, count = 0)", num(floorEmpty)),
					Ratio: "+" + num(empty-floorEmpty) + " s"},
				Row{Section: "Provider overhead", Measure: "terraform plan per resource (each plan less its no-resource plan)",
					Ours: fmt.Sprintf("%s s", num(ours-empty)), Baseline: fmt.Sprintf("%s s", num(floor-floorEmpty)),
					Ratio: times((ours - empty) / (floor - floorEmpty))})
		}
		rows = append(rows, frameworkRows(r, n, ours, floor)...)
	}
	return rows
}

// frameworkRows compare the plans with those of floor_model, a provider
// with mlops_model's schema on the same framework that does nothing: what
// the framework and the plugin protocol cost, and what is left for the
// mlops provider and server.
func frameworkRows(r *Results, n string, ours, floor float64) []Row {
	const name = "BenchmarkTerraform"
	fw, ok := r.get(name, "framework-plan-s")
	if !ok {
		return nil
	}
	row := Row{Section: "Provider overhead",
		Measure:  "terraform plan, " + n + " resources of a provider that does nothing, with the same schema on the same framework",
		Ours:     fmt.Sprintf("%s s (floor_model)", num(fw)),
		Baseline: fmt.Sprintf("%s s (terraform_data)", num(floor)), Ratio: times(fw / floor)}
	if cpu, ok := r.get(name, "framework-plan-cpu-s"); ok {
		row.Ours += fmt.Sprintf("; CPU %s s", num(cpu))
	}
	if e, ok := r.get(name, "framework-empty-plan-s"); ok {
		row.Ours += fmt.Sprintf("; %s s with no resources", num(e))
	}
	if pr, ok := r.get(name, "framework-per-resource-plan-ratio"); ok {
		row.Ratio += fmt.Sprintf(" (per resource %s)", times(pr))
	}
	return []Row{row, {Section: "Provider overhead",
		Measure:  "terraform plan, " + n + " resources: the mlops provider's own work (reading each model from mlopsd, the default project)",
		Ours:     fmt.Sprintf("%s s (mlops_model)", num(ours)),
		Baseline: fmt.Sprintf("%s s (floor_model)", num(fw)), Ratio: times(ours / fw)}}
}

// apiTargets are the targets: PostgreSQL at concurrency 32.
var apiTargets = map[string]float64{"postgres/create/c32": 1500, "postgres/get/c32": 5000}

func apiRows(r *Results) []Row {
	var rows []Row
	for _, db := range []struct{ key, label string }{{"sqlite", "SQLite"}, {"postgres", "PostgreSQL"}} {
		for _, op := range []struct{ key, label, floor, floorLabel string }{
			{"create", "create a model", "floor-insert", "INSERT/s"},
			{"get", "get a model", "floor-select", "SELECT/s"},
			{"list", "list models (a page of 100)", "floor-page", "SELECTs of 100 rows/s"},
		} {
			for _, c := range []int{1, 8, 32} {
				cell := fmt.Sprintf("%s/%s/c%d", db.key, op.key, c)
				row := Row{Section: "API", Measure: fmt.Sprintf("%s, %s, %s", op.label, db.label, clients(c))}
				target, hasTarget := apiTargets[cell]
				if hasTarget {
					row.Target = "≥ " + count(target) + " req/s"
				}
				name := "BenchmarkAPI/" + cell
				rps, ok := r.get(name, "req/s")
				if !ok {
					row.Ours = notRun
					rows = append(rows, row)
					continue
				}
				p50, _ := r.get(name, "p50-ms")
				p99, _ := r.get(name, "p99-ms")
				row.Ours = fmt.Sprintf("%s req/s; p50 %s ms, p99 %s ms", count(rps), num(p50), num(p99))
				if floor, ok := r.get(fmt.Sprintf("BenchmarkAPI/%s/%s/c%d", db.key, op.floor, c), "req/s"); ok {
					row.Baseline = count(floor) + " " + op.floorLabel
					row.Ratio = times(rps / floor)
				}
				if hasTarget {
					row.Met = yesNo(rps >= target)
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

func schedulerRows(r *Results) []Row {
	var rows []Row
	minute := Row{Section: "Scheduler", Measure: "schedules due over one minute, SQLite", Target: "p99 late < 1 s"}
	if fires, ok := r.get("BenchmarkSchedulerMinute", "fires/s"); ok {
		if spread, ok := r.get("BenchmarkSchedulerMinute", "spread-s"); ok && spread != 60 {
			minute.Measure = fmt.Sprintf("schedules due over %s s, SQLite", count(spread))
		}
		if n, ok := r.get("BenchmarkSchedulerMinute", "schedules"); ok {
			minute.Measure = count(n) + " " + minute.Measure
		}
		p50, _ := r.get("BenchmarkSchedulerMinute", "lateness_p50_ms")
		p99, _ := r.get("BenchmarkSchedulerMinute", "lateness_p99_ms")
		offered, _ := r.get("BenchmarkSchedulerMinute", "offered/s")
		minute.Ours = fmt.Sprintf("%s fires/s; late p50 %s s, p99 %s s", count(fires), num(p50/1000), num(p99/1000))
		minute.Baseline = count(offered) + " due/s"
		if offered > 0 {
			minute.Ratio = times(fires / offered)
		}
		minute.Met = yesNo(p99 < 1000)
	} else {
		minute.Ours = notRun
	}
	rows = append(rows, minute)
	second := Row{Section: "Scheduler", Measure: "schedules due in one second, SQLite"}
	if fires, ok := r.get("BenchmarkScheduler", "fires/s"); ok {
		p50, _ := r.get("BenchmarkScheduler", "lateness_p50_ms")
		p99, _ := r.get("BenchmarkScheduler", "lateness_p99_ms")
		second.Ours = fmt.Sprintf("%s fires/s; late p50 %s s, p99 %s s", count(fires), num(p50/1000), num(p99/1000))
	} else {
		second.Ours = notRun
	}
	return append(rows, second)
}

func driftRows(r *Results) []Row {
	var rows []Row
	sort, sortOK := r.get("BenchmarkSort1M", "ns/op")
	for _, m := range []struct{ name, label string }{
		{"BenchmarkPSI1M", "PSI, one feature, 1M baseline + 1M current values"},
		{"BenchmarkJensenShannon1M", "Jensen–Shannon, same"},
		{"BenchmarkKS1M", "Kolmogorov–Smirnov, same (sorts 2M values)"},
		{"BenchmarkWasserstein1M", "normed Wasserstein, same"},
	} {
		row := Row{Section: "Drift", Measure: m.label}
		v, ok := r.get(m.name, "ns/op")
		if !ok {
			row.Ours = notRun
			rows = append(rows, row)
			continue
		}
		row.Ours = ms(v)
		if sortOK {
			row.Baseline = ms(sort) + " (sorting 1M float64 once)"
			row.Ratio = times(v / sort)
		}
		rows = append(rows, row)
	}
	row := Row{Section: "Drift", Measure: "PSI on 1M rows × 10 numeric features (in memory)"}
	if v, ok := r.get("BenchmarkEvaluate1Mx10", "ns/op"); ok {
		rps, _ := r.get("BenchmarkEvaluate1Mx10", "rows/s")
		row.Ours = fmt.Sprintf("%s; %s rows/s", ms(v), count(rps))
		if sortOK {
			row.Baseline = ms(10*sort) + " (10 sorts)"
			row.Ratio = times(v / (10 * sort))
		}
	} else {
		row.Ours = notRun
	}
	rows = append(rows, row)
	row = Row{Section: "Drift", Measure: "one monitor evaluation: parse two 1M × 10 CSVs and judge them"}
	if v, ok := r.get("BenchmarkEvaluateCSV1Mx10", "ns/op"); ok {
		rps, _ := r.get("BenchmarkEvaluateCSV1Mx10", "rows/s")
		row.Ours = fmt.Sprintf("%s; %s rows/s", ms(v), count(rps))
	} else {
		row.Ours = notRun
	}
	return append(rows, row)
}

func gatewayRows(r *Results) []Row {
	var rows []Row
	for _, c := range []int{1, 32} {
		gw := fmt.Sprintf("BenchmarkGateway/c%d", c)
		for _, base := range []struct{ name, label string }{{"BenchmarkDirect", "direct"}, {"BenchmarkNginx", "nginx"}} {
			row := Row{Section: "Gateway", Measure: fmt.Sprintf("through the gateway vs %s, %s", base.label, clients(c))}
			ours, ok := latency(r, gw)
			if !ok {
				row.Ours = notRun
				rows = append(rows, row)
				continue
			}
			row.Ours = ours
			baseName := fmt.Sprintf("%s/c%d", base.name, c)
			if b, ok := latency(r, baseName); ok {
				g, _ := r.get(gw, "req/s")
				d, _ := r.get(baseName, "req/s")
				row.Baseline = b + " (" + base.label + ")"
				row.Ratio = times(g / d)
			} else {
				row.Baseline = notRun
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// latency renders a gateway benchmark's req/s and percentiles (in µs).
func latency(r *Results, name string) (string, bool) {
	rps, ok := r.get(name, "req/s")
	if !ok {
		return "", false
	}
	p50, _ := r.get(name, "p50-µs")
	p99, _ := r.get(name, "p99-µs")
	return fmt.Sprintf("%s req/s; p50 %s, p99 %s", count(rps), micros(p50), micros(p99)), true
}

// micros renders microseconds, as milliseconds from 1 ms up.
func micros(us float64) string {
	if us >= 1000 {
		return num(us/1000) + " ms"
	}
	return num(us) + " µs"
}

func clients(c int) string {
	if c == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", c)
}

// Markdown renders the rows as one table, a section per group.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| | measure | ours | baseline | ratio | target | met? |\n|---|---|---|---|---|---|---|\n")
	section := ""
	for _, r := range rows {
		s := ""
		if r.Section != section {
			section, s = r.Section, "**"+r.Section+"**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", s, r.Measure, r.Ours, dash(r.Baseline), dash(r.Ratio), dash(r.Target), dash(r.Met))
	}
	return b.String()
}

// Document is docs/performance.md: the table, what the run ran on and how
// each row is measured.
func Document(r *Results, cores int) string {
	var b strings.Builder
	b.WriteString("# Performance\n\n")
	b.WriteString("Generated by `make bench` (`go run ./internal/bench/cmd/benchtable`) from one run of every benchmark; ")
	b.WriteString("each ratio compares two figures measured side by side in that run, so it holds up better than the absolute figures ")
	b.WriteString("on a shared machine.\n\n")
	machine := fmt.Sprintf("%d cores", cores)
	if r.CPU != "" {
		machine = r.CPU + ", " + machine
	}
	if r.OS != "" {
		machine += ", " + r.OS + "/" + r.Arch
	}
	fmt.Fprintf(&b, "Machine: %s.", machine)
	if len(r.Load) > 0 {
		fmt.Fprintf(&b, " Load average (1, 5, 15 min) before and after: %s.", strings.Join(r.Load, "; "))
	}
	b.WriteString(" Client, server and database share the machine.\n\n")
	if small := reduced(r); len(small) > 0 {
		fmt.Fprintf(&b, "**A quick run with reduced sizes** (%s): not the figures to quote.\n\n", strings.Join(small, ", "))
	}
	b.WriteString(Markdown(Rows(r)))
	b.WriteString(`
## How each row is measured

- **Provider overhead** (` + "`internal/bench`, `BenchmarkTerraform`" + `): real Terraform runs ` + "`apply`" + ` and then
  ` + "`plan`" + ` (with refresh; it must find nothing to change) on 200 ` + "`mlops_model`" + ` resources against an
  in-process mlopsd on SQLite, and on 200 ` + "`terraform_data`" + ` resources holding the same attributes, both with
  ` + "`-parallelism=10`" + `, taking turns. ` + "`terraform_data`" + ` is Terraform's built-in no-op resource: the floor is
  Terraform's own work. A third configuration holds 200 ` + "`floor_model`" + ` resources of ` + "`internal/bench/cmd/floorprovider`" + `:
  ` + "`mlops_model`" + `'s schema on the same terraform-plugin-framework, in a provider that keeps what it is given and
  reads nothing, so the framework's and the plugin protocol's cost shows apart from the mlops provider's and
  server's. The providers are built from the checkout as releases are (static, ` + "`-trimpath -ldflags \"-s -w\"`" + `).
  Plans run three times each; the median counts. CPU is Terraform's and the provider's
  (and for mlops_model the server's) CPU time. The same plans of the two configurations with ` + "`count = 0`" + ` give
  the fixed cost of a plan: Terraform 1.5 starts a plugin provider three times per plan, and go-plugin makes each
  start generate a fresh P-521 mTLS certificate on both sides (the provider's handshake takes about 20 ms with
  it, 6 ms without); ` + "`terraform_data`" + ` is built in and starts nothing. The per-resource row compares the plans
  with those fixed costs taken off.
- **API** (` + "`BenchmarkAPI`" + `): 1, 8 and 32 client goroutines, each with its own keep-alive connection, send
  requests for 2 s to an in-process mlopsd built as ` + "`mlopsd serve`" + ` builds it (every middleware, request
  logging formatted and discarded, no rate limit). create is a POST with an Idempotency-Key, as the provider sends
  it; get reads one of 1,000 models, each with two versions and an alias, which the answer must show; list reads
  the default page of 100. Before each measurement the tables are vacuumed and analyzed, as autovacuum would
  between bursts (some servers run without it). The baseline is the database's own floor
  measured in the same run on the same table through the same connection pool: one raw single-row INSERT (its own
  transaction) per operation for writes, one primary-key SELECT for get, one SELECT of the same 100 rows for list.
  PostgreSQL rows need ` + "`MLOPS_TEST_POSTGRES_URL`" + `, used as given; ` + "`.ci/run`" + `'s default has ` + "`sslmode=disable`" + `
  (pgx's default ` + "`sslmode=prefer`" + ` is TLS even on loopback, about a fifth of a create's CPU).
- **Scheduler** (` + "`internal/training`" + `): one engine on SQLite with mlopsd's defaults and no executor (firing is
  measured, not execution). Over one minute: 10,000 schedules fall due evenly spread, the baseline is the rate they
  fall due at and the ratio says whether firing kept up; lateness is a run's created_at minus its due time. In one
  second: every schedule falls due at once (` + "`BenchmarkScheduler`" + `).
- **Drift** (` + "`internal/drift`, `internal/monitoring`" + `): each statistic on one 1M-value feature against sorting 1M
  values once, the floor for quantile-based statistics.
- **Gateway** (` + "`internal/gateway`" + `): 20,000 small JSON requests through the deployment gateway against the same
  loopback backend called directly and through nginx (keep-alive upstream, one worker per core; skipped where
  nginx is not installed). The ratio is throughput through the gateway over the baseline's.
`)
	return b.String()
}

// reduced lists the sizes a run made smaller than make bench's defaults.
func reduced(r *Results) []string {
	var out []string
	for _, c := range []struct {
		name, unit, label string
		full              float64
	}{
		{"BenchmarkTerraform", "resources", "Terraform resources", 200},
		{"BenchmarkSchedulerMinute", "schedules", "schedules", 10000},
		{"BenchmarkSchedulerMinute", "spread-s", "seconds of spread", 60},
	} {
		if v, ok := r.get(c.name, c.unit); ok && v != c.full {
			out = append(out, fmt.Sprintf("%s %s instead of %s", count(v), c.label, count(c.full)))
		}
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// times renders a ratio: 0.52×.
func times(v float64) string { return num(v) + "×" }

// ms renders nanoseconds as milliseconds, or seconds from 1 s up.
func ms(ns float64) string {
	if ns >= 1e9 {
		return num(ns/1e9) + " s"
	}
	return num(ns/1e6) + " ms"
}

// num renders a value with three significant digits (no exponent).
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return count(v)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// count renders a value rounded to an integer with thousands separators.
func count(v float64) string {
	s := strconv.FormatFloat(math.Round(math.Abs(v)), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if v < 0 {
		s = "-" + s
	}
	return s
}
