package api

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// NamePattern is the rule every user-chosen name follows.
const NamePattern = `^[a-z0-9]([a-z0-9-_]{0,61}[a-z0-9])?$`

var nameRE = regexp.MustCompile(NamePattern)

// FieldError says which field of a request is wrong and how to fix it.
type FieldError struct {
	// Field is path-like, relative to the body: steps[1].depends_on.
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Errorf builds a FieldError.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidateName checks a user-chosen name.
func ValidateName(field, name string) *FieldError {
	if name == "" {
		return Errorf(field, "is required")
	}
	if !nameRE.MatchString(name) {
		return Errorf(field, "%q is not a valid name: use 1-63 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit", name)
	}
	return nil
}

// ValidateLabels checks label keys and sizes.
func ValidateLabels(field string, labels map[string]string) *FieldError {
	if len(labels) > 64 {
		return Errorf(field, "has %d labels; at most 64 are allowed", len(labels))
	}
	for _, k := range sortedKeys(labels) {
		if k == "" || len(k) > 63 {
			return Errorf(field, "key %q must be 1-63 characters", k)
		}
		// JSON decoding turns invalid UTF-8 into U+FFFD, so that is what bad bytes look like here.
		if strings.ContainsRune(k, utf8.RuneError) {
			return Errorf(field, "key %q is not valid UTF-8 text (it holds U+FFFD, which stands for invalid bytes)", k)
		}
		if len(labels[k]) > 256 {
			return Errorf(field+"."+k, "value is longer than 256 characters")
		}
		if strings.ContainsRune(labels[k], utf8.RuneError) {
			return Errorf(field+"."+k, "value is not valid UTF-8 text (it holds U+FFFD, which stands for invalid bytes)")
		}
	}
	return nil
}

// cronParser reads standard five-field expressions and descriptors such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a five-field cron expression.
func ParseCron(expr string) (cron.Schedule, error) {
	if strings.HasPrefix(strings.TrimSpace(expr), "TZ=") || strings.HasPrefix(strings.TrimSpace(expr), "CRON_TZ=") {
		return nil, fmt.Errorf("set the time zone with the timezone field, not inside the expression")
	}
	return cronParser.Parse(expr)
}

// ValidateCron checks a five-field cron expression.
func ValidateCron(field, expr string) *FieldError {
	if _, err := ParseCron(expr); err != nil {
		return Errorf(field, "%q is not a valid cron expression (%v); use five fields: minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\"", expr, err)
	}
	return nil
}

// ValidateTimezone checks an IANA time zone name.
func ValidateTimezone(field, zone string) *FieldError {
	if zone == "" {
		return nil
	}
	if _, err := time.LoadLocation(zone); err != nil || zone == "Local" {
		return Errorf(field, "%q is not an IANA time zone; use a name such as UTC or Europe/Berlin", zone)
	}
	return nil
}

// ParseDuration reads durations such as 90s, 10m, 6h or 1d (days are 24h).
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn") {
		d, err := time.ParseDuration(n + "h")
		if err != nil {
			return 0, err
		}
		if d > math.MaxInt64/24 || d < math.MinInt64/24 {
			// d * 24 would wrap around: 300000d would be about 237 years, -1000000d positive.
			return 0, fmt.Errorf("time: invalid duration %q: longer than about 292 years", s)
		}
		return d * 24, nil
	}
	return time.ParseDuration(s)
}

// ValidateDuration checks a duration string and a lower bound.
func ValidateDuration(field, s string, min time.Duration) *FieldError {
	d, err := ParseDuration(s)
	if err != nil {
		return Errorf(field, "%q is not a duration; use a number with a unit such as 30s, 10m, 6h or 1d", s)
	}
	if d < min {
		return Errorf(field, "%q is shorter than the minimum of %s", s, min)
	}
	return nil
}

// ValidateURI checks that a URI is absolute (scheme://...) or an absolute local path.
func ValidateURI(field, raw string) *FieldError {
	if raw == "" {
		return Errorf(field, "is required")
	}
	if strings.HasPrefix(raw, "/") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Errorf(field, "%q is not a URI; use scheme://location (file:///data/x.csv, s3://bucket/key) or an absolute path", raw)
	}
	return nil
}

// ErrUnknownParameter is returned for a run parameter a pipeline does not declare.
var ErrUnknownParameter = errors.New("unknown parameter")

// GateOps are the comparison operators a gate may use.
var GateOps = []string{">=", ">", "<=", "<", "=="}

// ColumnTypes are the types a dataset schema may declare.
var ColumnTypes = []string{"string", "integer", "number", "boolean", "timestamp"}

// DatasetFormats are the formats a dataset may have.
var DatasetFormats = []string{"csv", "jsonl", "parquet"}

// ConcurrencyPolicies say what a schedule does when its previous run is still going.
var ConcurrencyPolicies = []string{"allow", "forbid", "replace"}

func oneOf(field, v string, allowed []string) *FieldError {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return Errorf(field, "%q is not allowed; use one of %s", v, strings.Join(allowed, ", "))
}

// Validate checks a dataset spec.
func (s *DatasetSpec) Validate() *FieldError {
	if err := ValidateURI("uri", s.URI); err != nil {
		return err
	}
	if err := oneOf("format", s.Format, DatasetFormats); err != nil {
		return err
	}
	if err := ValidateLabels("labels", s.Labels); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, c := range s.Schema {
		f := fmt.Sprintf("schema[%d]", i)
		if c.Name == "" {
			return Errorf(f+".name", "is required")
		}
		if seen[c.Name] {
			return Errorf(f+".name", "column %q is declared twice", c.Name)
		}
		seen[c.Name] = true
		if err := oneOf(f+".type", c.Type, ColumnTypes); err != nil {
			return err
		}
	}
	if s.ExpectedDigest != "" && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(s.ExpectedDigest) {
		return Errorf("expected_digest", "%q must look like sha256:<64 lowercase hex digits>", s.ExpectedDigest)
	}
	return nil
}

// MaxSteps bounds the size of a pipeline.
const MaxSteps = 200

// Validate checks a pipeline spec, including that its steps form a DAG.
func (s *PipelineSpec) Validate() *FieldError {
	if len(s.Steps) == 0 {
		return Errorf("steps", "a pipeline needs at least one step")
	}
	if len(s.Steps) > MaxSteps {
		return Errorf("steps", "has %d steps; at most %d are allowed", len(s.Steps), MaxSteps)
	}
	if err := ValidateLabels("labels", s.Labels); err != nil {
		return err
	}
	for _, k := range sortedKeys(s.Parameters) {
		if !paramRE.MatchString(k) {
			return Errorf("parameters", "parameter name %q must be letters, digits and '_', starting with a letter", k)
		}
	}
	for i, d := range s.Datasets {
		if err := ValidateName(fmt.Sprintf("datasets[%d]", i), d); err != nil {
			return err
		}
	}
	if s.PromoteTo != "" {
		if err := ValidateName("promote_to", s.PromoteTo); err != nil {
			return err
		}
	}
	index := map[string]int{}
	for i, st := range s.Steps {
		f := fmt.Sprintf("steps[%d]", i)
		if err := ValidateName(f+".name", st.Name); err != nil {
			return err
		}
		if j, dup := index[st.Name]; dup {
			return Errorf(f+".name", "step %q is declared twice (also steps[%d]); step names must be unique", st.Name, j)
		}
		index[st.Name] = i
		if len(st.Command) == 0 || st.Command[0] == "" {
			return Errorf(f+".command", "step %q needs a command (argv, e.g. [\"python\", \"train.py\"])", st.Name)
		}
		if st.Timeout != "" {
			if err := ValidateDuration(f+".timeout", st.Timeout, time.Second); err != nil {
				return err
			}
		}
		if st.Retries < 0 || st.Retries > 10 {
			return Errorf(f+".retries", "must be between 0 and 10")
		}
		for _, k := range sortedKeys(st.Env) {
			if !envRE.MatchString(k) {
				return Errorf(f+".env", "%q is not a valid environment variable name", k)
			}
		}
	}
	for i, st := range s.Steps {
		for _, d := range st.DependsOn {
			if _, ok := index[d]; !ok {
				return Errorf(fmt.Sprintf("steps[%d].depends_on", i), "step %q depends on unknown step %q", st.Name, d)
			}
			if d == st.Name {
				return Errorf(fmt.Sprintf("steps[%d].depends_on", i), "step %q depends on itself", st.Name)
			}
		}
	}
	if cycle := findCycle(s.Steps, index); cycle != nil {
		i := index[cycle[0]]
		return Errorf(fmt.Sprintf("steps[%d].depends_on", i), "steps form a cycle: %s", strings.Join(cycle, " -> "))
	}
	return nil
}

var (
	paramRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	envRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// findCycle returns the names along one dependency cycle, first name repeated last, or nil.
func findCycle(steps []Step, index map[string]int) []string {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(steps))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = visiting
		stack = append(stack, steps[i].Name)
		for _, d := range steps[i].DependsOn {
			j := index[d]
			switch state[j] {
			case visiting:
				for k, n := range stack {
					if n == d {
						return append(append([]string{}, stack[k:]...), d)
					}
				}
			case unvisited:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range steps {
		if state[i] == unvisited {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// TopoOrder returns the step names in an order where each step follows its dependencies.
// The spec must have passed Validate.
func (s *PipelineSpec) TopoOrder() []string {
	done := map[string]bool{}
	var order []string
	for len(order) < len(s.Steps) {
		for _, st := range s.Steps {
			if done[st.Name] {
				continue
			}
			ready := true
			for _, d := range st.DependsOn {
				ready = ready && done[d]
			}
			if ready {
				done[st.Name] = true
				order = append(order, st.Name)
			}
		}
	}
	return order
}

// Validate checks a model spec.
func (s *ModelSpec) Validate() *FieldError {
	if err := ValidateLabels("labels", s.Labels); err != nil {
		return err
	}
	for i, g := range s.Gates {
		f := fmt.Sprintf("gates[%d]", i)
		if g.Metric == "" {
			return Errorf(f+".metric", "is required")
		}
		if err := oneOf(f+".op", g.Op, GateOps); err != nil {
			return err
		}
		for j, a := range g.Aliases {
			if err := ValidateName(fmt.Sprintf("%s.aliases[%d]", f, j), a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks a model version spec.
func (s *ModelVersionSpec) Validate() *FieldError {
	if err := ValidateURI("artifact_uri", s.ArtifactURI); err != nil {
		return err
	}
	if err := ValidateLabels("labels", s.Labels); err != nil {
		return err
	}
	if s.Dataset != "" {
		if err := ValidateName("dataset", s.Dataset); err != nil {
			return err
		}
	} else if s.DatasetVersion != 0 {
		return Errorf("dataset_version", "is set without dataset; name the dataset too")
	}
	if len(s.Metrics) > 256 || len(s.Params) > 256 {
		return Errorf("metrics", "at most 256 metrics and 256 params are allowed")
	}
	return nil
}

// Validate checks a schedule spec (timing, zone, policy); the pipeline's existence is the server's to check.
func (s *ScheduleSpec) Validate() *FieldError {
	if err := ValidateName("pipeline", s.Pipeline); err != nil {
		return err
	}
	switch {
	case s.Cron != "" && s.Interval != "":
		return Errorf("cron", "set exactly one of cron and interval, not both")
	case s.Cron == "" && s.Interval == "":
		return Errorf("cron", "set exactly one of cron and interval")
	case s.Cron != "":
		if err := ValidateCron("cron", s.Cron); err != nil {
			return err
		}
	default:
		if err := ValidateDuration("interval", s.Interval, MinInterval); err != nil {
			return err
		}
	}
	if err := ValidateTimezone("timezone", s.Timezone); err != nil {
		return err
	}
	if s.ConcurrencyPolicy != "" {
		if err := oneOf("concurrency_policy", s.ConcurrencyPolicy, ConcurrencyPolicies); err != nil {
			return err
		}
	}
	if s.StartAt != nil && s.EndAt != nil && !s.EndAt.After(*s.StartAt) {
		return Errorf("end_at", "must be after start_at")
	}
	return nil
}

// Passes says whether value meets the gate.
func (g Gate) Passes(value float64) bool {
	switch g.Op {
	case ">=":
		return value >= g.Threshold
	case ">":
		return value > g.Threshold
	case "<=":
		return value <= g.Threshold
	case "<":
		return value < g.Threshold
	case "==":
		return value == g.Threshold
	}
	return false
}

// AppliesTo says whether the gate guards the alias; a gate without aliases guards all.
func (g Gate) AppliesTo(alias string) bool {
	if len(g.Aliases) == 0 {
		return true
	}
	for _, a := range g.Aliases {
		if a == alias {
			return true
		}
	}
	return false
}

// EvaluateGates evaluates every gate against a version's metrics.
func EvaluateGates(gates []Gate, metrics map[string]float64) []GateResult {
	results := make([]GateResult, 0, len(gates))
	for _, g := range gates {
		r := GateResult{Gate: g}
		if v, ok := metrics[g.Metric]; ok {
			r.Value = &v
			r.Passed = g.Passes(v)
		}
		results = append(results, r)
	}
	return results
}

// GateFailure describes why a version may not take an alias, or returns "" when it may.
func GateFailure(gates []Gate, metrics map[string]float64, alias string) string {
	var reasons []string
	for _, r := range EvaluateGates(gates, metrics) {
		if !r.AppliesTo(alias) || r.Passed {
			continue
		}
		if r.Value == nil {
			reasons = append(reasons, fmt.Sprintf("metric %q is missing (gate requires %s %s %g)", r.Metric, r.Metric, r.Op, r.Threshold))
		} else {
			reasons = append(reasons, fmt.Sprintf("metric %q is %g, gate requires %s %s %g", r.Metric, *r.Value, r.Metric, r.Op, r.Threshold))
		}
	}
	return strings.Join(reasons, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MinInterval is the shortest interval a schedule may fire at.
const MinInterval = 10 * time.Second
