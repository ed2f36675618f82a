package server_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// hostileCase is one request a careless or hostile client might send. The
// server must answer it quickly with status and a problem naming location
// (errors[].location; "" when only the detail speaks) and saying text.
type hostileCase struct {
	name, method, path string
	body               any
	headers            []string
	status             int
	location, text     string
}

// Valid bodies of each kind, for cases that spoil one field.
func pipelineBody() map[string]any {
	return map[string]any{"name": "train", "steps": []any{map[string]any{"name": "fit", "command": []string{"true"}}}}
}

func monitorBody() map[string]any {
	return map[string]any{"name": "drift", "model": "churn", "baseline_dataset": "base", "current_dataset": "cur"}
}

func deploymentBody() map[string]any {
	return map[string]any{"name": "serve", "model": "churn", "version": 1, "runtime": map[string]any{"url": "http://models.example.com/v{version}"}}
}

func with(body map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i].(string)] = kv[i+1]
	}
	return body
}

func without(body map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		delete(body, k)
	}
	return body
}

// rawWith renders a body with one raw JSON fragment (invalid UTF-8, deep
// nesting) spliced in as the value of field, which json.Marshal cannot write.
func rawWith(body map[string]any, field, raw string) string {
	delete(body, field)
	var b strings.Builder
	b.WriteString("{")
	for k, v := range body {
		fmt.Fprintf(&b, "%q:%s,", k, mustJSON(v))
	}
	fmt.Fprintf(&b, "%q:%s}", field, raw)
	return b.String()
}

func mustJSON(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case int:
		return fmt.Sprint(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = mustJSON(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case []string:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = mustJSON(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		parts := make([]string, 0, len(v))
		for k, e := range v {
			parts = append(parts, fmt.Sprintf("%q:%s", k, mustJSON(e)))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	panic(fmt.Sprintf("mustJSON: %T", v))
}

func manyLabels(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("key-%d", i)] = "v"
	}
	return m
}

func manySteps(n int) []any {
	steps := make([]any, n)
	for i := range steps {
		steps[i] = map[string]any{"name": fmt.Sprintf("s%d", i), "command": []string{"true"}}
	}
	return steps
}

func hostileCases() []hostileCase {
	const (
		pipelines   = "/v1/projects/default/pipelines"
		monitors    = "/v1/projects/default/monitors"
		deployments = "/v1/projects/default/deployments"
		models      = "/v1/projects/default/models"
		schedules   = "/v1/projects/default/schedules"
		datasets    = "/v1/projects/default/datasets"
	)
	limit := fmt.Sprint(server.MaxBodyBytes)
	huge := strings.Repeat("a", server.MaxBodyBytes+1)
	nestedArrays := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	nestedObjects := strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)
	// A cron expression of 1 MiB makes the body too large; one just under the
	// body limit reaches the cron parser.
	cronMiB := strings.Repeat("*", 1<<20)
	cronAlmostMiB := strings.Repeat("*", server.MaxBodyBytes-200)

	cases := []hostileCase{
		// Bodies over the limit, through Huma and through the idempotency middleware.
		{name: "body over 1 MiB: pipeline", method: "POST", path: pipelines, body: with(pipelineBody(), "description", huge), status: 413, text: limit},
		{name: "body over 1 MiB: monitor", method: "PUT", path: monitors + "/drift", body: with(monitorBody(), "description", huge), status: 413, text: limit},
		{name: "body over 1 MiB: deployment with Idempotency-Key", method: "POST", path: deployments, body: with(deploymentBody(), "description", huge),
			headers: []string{"Idempotency-Key", "hostile-1"}, status: 413, text: limit},
		{name: "cron of 1 MiB", method: "POST", path: schedules, body: map[string]any{"name": "s", "pipeline": "p", "cron": cronMiB}, status: 413, text: limit},
		{name: "cron just under the body limit", method: "POST", path: schedules, body: map[string]any{"name": "s", "pipeline": "p", "cron": cronAlmostMiB},
			status: 400, location: "body.cron", text: "not a valid cron expression"},

		// Deep nesting is refused by the decoder, at the top and inside a field.
		{name: "100k nested arrays", method: "POST", path: pipelines, body: nestedArrays, status: 400, location: "body", text: "exceeded max depth"},
		{name: "100k nested arrays with Idempotency-Key", method: "POST", path: monitors, body: nestedArrays,
			headers: []string{"Idempotency-Key", "hostile-2"}, status: 400, location: "body", text: "exceeded max depth"},
		{name: "100k nested objects in labels", method: "POST", path: deployments, body: rawWith(deploymentBody(), "labels", nestedObjects),
			status: 400, location: "body", text: "exceeded max depth"},
		{name: "100k nested arrays in steps", method: "PUT", path: pipelines + "/train", body: rawWith(pipelineBody(), "steps", nestedArrays),
			status: 400, location: "body", text: "exceeded max depth"},

		// Invalid UTF-8 arrives as U+FFFD after decoding; names and labels refuse it.
		{name: "invalid UTF-8 in a pipeline name", method: "POST", path: pipelines, body: rawWith(pipelineBody(), "name", "\"tr\xffin\""),
			status: 400, location: "body.name", text: "not a valid name"},
		{name: "invalid UTF-8 in a monitor name", method: "POST", path: monitors, body: rawWith(monitorBody(), "name", "\"dr\xc3ift\""),
			status: 400, location: "body.name", text: "not a valid name"},
		{name: "invalid UTF-8 in a step name", method: "POST", path: pipelines,
			body:   rawWith(pipelineBody(), "steps", "[{\"name\":\"f\xfe\",\"command\":[\"true\"]}]"),
			status: 400, location: "body.steps[0].name", text: "not a valid name"},
		{name: "invalid UTF-8 in a deployment's model", method: "POST", path: deployments, body: rawWith(deploymentBody(), "model", "\"ch\xffurn\""),
			status: 400, location: "body.model", text: "not a valid name"},
		{name: "invalid UTF-8 in a label key", method: "POST", path: models, body: "{\"name\":\"churn\",\"labels\":{\"te\xffam\":\"risk\"}}",
			status: 400, location: "body.labels", text: "UTF-8"},
		{name: "invalid UTF-8 in a label value", method: "POST", path: pipelines, body: rawWith(pipelineBody(), "labels", "{\"team\":\"ri\xc0sk\"}"),
			status: 400, location: "body.labels.team", text: "UTF-8"},
		{name: "invalid UTF-8 in a monitor label", method: "POST", path: monitors, body: rawWith(monitorBody(), "labels", "{\"\xed\xa0\x80\":\"x\"}"),
			status: 400, location: "body.labels", text: "UTF-8"},
		{name: "invalid UTF-8 in a deployment label", method: "POST", path: deployments, body: rawWith(deploymentBody(), "labels", "{\"tier\":\"\xff\"}"),
			status: 400, location: "body.labels.tier", text: "UTF-8"},

		// Huge collections.
		{name: "10,000 labels on a model", method: "POST", path: models, body: map[string]any{"name": "churn", "labels": manyLabels(10_000)},
			status: 400, location: "body.labels", text: "at most 64"},
		{name: "10,000 labels on a monitor", method: "POST", path: monitors, body: with(monitorBody(), "labels", manyLabels(10_000)),
			status: 400, location: "body.labels", text: "at most 64"},
		{name: "10,000 labels on a deployment", method: "PUT", path: deployments + "/serve", body: without(with(deploymentBody(), "labels", manyLabels(10_000)), "name"),
			status: 400, location: "body.labels", text: "at most 64"},
		{name: "10,000 labels on a dataset", method: "POST", path: datasets,
			body:   map[string]any{"name": "d", "uri": "/nowhere.csv", "format": "csv", "labels": manyLabels(10_000)},
			status: 400, location: "body.labels", text: "at most 64"},
		{name: "10,000 steps", method: "POST", path: pipelines, body: with(pipelineBody(), "steps", manySteps(10_000)),
			status: 400, location: "body.steps", text: "at most 200"},
		{name: "10,000 steps on update", method: "PUT", path: pipelines + "/train", body: map[string]any{"steps": manySteps(10_000)},
			status: 400, location: "body.steps", text: "at most 200"},
	}

	// Names that look like ASCII but are not: refused, never folded into the real one.
	for _, name := range []string{
		"chu\u0433n",      // Cyrillic ge for r
		"\u0441hurn",      // Cyrillic es for c
		"\uff43hurn",      // fullwidth c
		"churn\u200b",     // zero-width space
		"chur\u0578",      // Armenian vo for n
		"c\u0307hurn",     // combining dot
		"\u212aelvin",     // Kelvin sign, folds to k
		"\ufb01le",        // fi ligature
		"ch\u0131rn",      // dotless i
		"churn\u00a0",     // no-break space
		"\u202echurn",     // right-to-left override
		"churn\ufe0f",     // variation selector
		"\U0001d41cchurn", // mathematical bold c
	} {
		cases = append(cases,
			hostileCase{name: fmt.Sprintf("look-alike model name %+q", name), method: "POST", path: models, body: map[string]any{"name": name},
				status: 400, location: "body.name", text: "not a valid name"},
			hostileCase{name: fmt.Sprintf("look-alike pipeline name %+q", name), method: "POST", path: pipelines, body: with(pipelineBody(), "name", name),
				status: 400, location: "body.name", text: "not a valid name"},
			hostileCase{name: fmt.Sprintf("look-alike monitor model %+q", name), method: "POST", path: monitors, body: with(monitorBody(), "model", name),
				status: 400, location: "body.model", text: "not a valid name"},
			hostileCase{name: fmt.Sprintf("look-alike deployment alias %+q", name), method: "POST", path: deployments,
				body: with(deploymentBody(), "version", 0, "alias", name), status: 400, location: "body.alias", text: "not a valid name"},
			// In a path, a look-alike of an existing object is a different, missing object.
			hostileCase{name: fmt.Sprintf("look-alike in a path %+q", name), method: "GET", path: models + "/" + pathEscape(name),
				status: 404, text: "not found"},
		)
	}
	return cases
}

// pathEscape percent-escapes every byte that is not unreserved, so that any
// name, invalid UTF-8 included, makes a valid request target.
func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestHostileRequests(t *testing.T) {
	e := newEnv(t)
	// The objects the look-alikes imitate exist.
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "churn"}), http.StatusCreated)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			start := time.Now()
			r := e.admin(c.method, c.path, c.body, c.headers...)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v; hostile input must be refused quickly", took)
			}
			if r.status >= 500 {
				t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, truncate(r.body))
			}
			if len(r.body) > 4*server.MaxBodyBytes {
				t.Errorf("answer of %d bytes to a hostile request", len(r.body))
			}
			if r.status != c.status {
				t.Fatalf("status = %d, want %d; body: %s", r.status, c.status, truncate(r.body))
			}
			wantProblem(t, r, c.status, c.location, c.text)
		})
	}
}

// TestHostilePathNames puts names no object can have (invalid UTF-8, NUL,
// control characters, look-alikes, dot segments, very long) in the paths of
// reads, writes and deletes of every kind: the answer is a 4xx, never a 5xx.
// With MLOPS_TEST_POSTGRES_URL set it runs on PostgreSQL too, whose text
// columns refuse bytes SQLite keeps.
func TestHostilePathNames(t *testing.T) {
	stores := []string{"sqlite"}
	if os.Getenv(storetest.PostgresURLEnv) != "" {
		stores = append(stores, "postgres")
	}
	names := []string{"a\xffb", "\xc3", "nul\x00byte", "\x00", "tab\tname", "\x7f", "chu\u0433n", "..", ".", "%2F", "a/b",
		strings.Repeat("n", 4096), "\ufffd", "\xed\xa0\x80"}
	for _, st := range stores {
		t.Run(st, func(t *testing.T) {
			t.Setenv(storetest.StoreEnv, st)
			e := newEnv(t)
			want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "churn"}), http.StatusCreated)
			for _, name := range names {
				n := pathEscape(name)
				for _, r := range []struct{ method, path string }{
					{"GET", "/v1/projects/" + n},
					{"PUT", "/v1/projects/" + n},
					{"GET", "/v1/projects/" + n + "/models"},
					{"GET", "/v1/projects/default/models/" + n},
					{"PUT", "/v1/projects/default/models/" + n},
					{"DELETE", "/v1/projects/default/models/" + n},
					{"GET", "/v1/projects/default/models/churn/aliases/" + n},
					{"GET", "/v1/projects/default/models/" + n + "/versions/1"},
					{"GET", "/v1/projects/default/pipelines/" + n},
					{"POST", "/v1/projects/default/pipelines/" + n + "/runs"},
					{"GET", "/v1/projects/default/pipelines/" + n + "/runs"},
					{"PUT", "/v1/projects/default/monitors/" + n},
					{"POST", "/v1/projects/default/monitors/" + n + "/evaluate"},
					{"DELETE", "/v1/projects/default/deployments/" + n},
					{"POST", "/v1/projects/default/deployments/" + n + "/predict"},
					{"DELETE", "/v1/tokens/" + n},
				} {
					var body any
					if r.method == "PUT" || r.method == "POST" {
						body = map[string]any{}
					}
					e.t = t
					if res := e.admin(r.method, r.path, body); res.status >= 500 || res.status < 400 {
						t.Errorf("%s %s: %d %s", r.method, r.path, res.status, truncate(res.body))
					}
				}
				// An Idempotency-Key is stored too; a real server lets bytes >= 0x80 through.
				if strings.ContainsAny(name, "\x00\t\x7f") {
					continue
				}
				res := e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "x y"}, "Idempotency-Key", name)
				if res.status >= 500 || res.status < 400 {
					t.Errorf("POST with Idempotency-Key %+q: %d %s", name, res.status, truncate(res.body))
				}
			}
		})
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}
