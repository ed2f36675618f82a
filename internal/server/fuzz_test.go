package server_test

import (
	"math"
	"net/url"
	"strings"
	"testing"
)

// createPaths are the endpoints that decode and validate a body of each kind.
var createPaths = []struct{ method, path string }{
	{"POST", "/v1/projects"},
	{"PUT", "/v1/projects/default"},
	{"POST", "/v1/projects/default/datasets"},
	{"POST", "/v1/projects/default/pipelines"},
	{"PUT", "/v1/projects/default/pipelines/p"},
	{"POST", "/v1/projects/default/models"},
	{"PUT", "/v1/projects/default/models/m"},
	{"POST", "/v1/projects/default/models/m/versions"},
	{"PUT", "/v1/projects/default/models/m/versions/1"},
	{"POST", "/v1/projects/default/models/m/aliases"},
	{"PUT", "/v1/projects/default/models/m/aliases/a"},
	{"POST", "/v1/projects/default/schedules"},
	{"PUT", "/v1/projects/default/schedules/s"},
	{"POST", "/v1/projects/default/monitors"},
	{"PUT", "/v1/projects/default/monitors/m"},
	{"POST", "/v1/projects/default/deployments"},
	{"PUT", "/v1/projects/default/deployments/d"},
	{"POST", "/v1/tokens"},
}

// FuzzRequestBodies sends arbitrary bodies to every decoder and validator:
// bad input must get a 4xx answer, never a 5xx or a panic.
func FuzzRequestBodies(f *testing.F) {
	seeds := []string{
		`{"name":"p","steps":[{"name":"a","command":["x"],"depends_on":["a"]}]}`,
		`{"name":"d","uri":"file:///etc/passwd","format":"csv","schema":[{"name":"a","type":"integer"}]}`,
		`{"name":"s","pipeline":"p","cron":"*/5 * * * *","timezone":"Europe/Berlin","start_at":"2030-01-01T00:00:00Z"}`,
		`{"name":"m","gates":[{"metric":"auc","op":">=","threshold":1e308,"aliases":["x"]}]}`,
		`{"artifact_uri":"s3://x","metrics":{"auc":-0},"dataset":"d","dataset_version":-1}`,
		`{"alias":"a","version":9223372036854775807}`,
		`{"role":"editor","project":"*"}`,
		`{"name":"m","model":"churn","baseline_dataset":"b","current_dataset":"c","threshold":-1,"feature_thresholds":{"a":1e309},"notification":{"url":"http://169.254.169.254/","secret":""}}`,
		`{"name":"d","model":"churn","version":1,"runtime":{"url":"http://h/{version}","health_path":"x"},"strategy":{"type":"canary","steps":[50,10]},"prediction_logging":{"sample_rate":2}}`,
		`[]`, `null`, `"`, `{"name":null}`, "\x00",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e.t = t
		ep := createPaths[int(which)%len(createPaths)]
		r := e.admin(ep.method, ep.path, body)
		if r.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", ep.method, ep.path, body, r.status, r.body)
		}
	})
}

// specBody builds a create body of one kind whose fields hold the fuzzer's
// values, so that it decodes and reaches every check of that kind's
// validation, not only the JSON decoder. mask drops fields.
func specBody(kind, mask uint8, name, s1, s2 string, n int64, x float64) map[string]any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0 // not expressible in JSON
	}
	drop := func(bit uint8) bool { return mask&(1<<bit) != 0 }
	set := func(m map[string]any, bit uint8, k string, v any) {
		if !drop(bit) {
			m[k] = v
		}
	}
	b := map[string]any{"name": name}
	switch kind % 3 {
	case 0: // pipeline
		st := map[string]any{"name": s1, "command": []string{s2}}
		set(st, 0, "depends_on", []string{name, s1})
		set(st, 1, "timeout", s2)
		set(st, 2, "retries", n)
		set(st, 3, "env", map[string]string{s1: s2})
		b["steps"] = []any{st, map[string]any{"name": s2, "command": []string{"true"}, "depends_on": []string{s1}}}
		set(b, 4, "parameters", map[string]string{s1: s2})
		set(b, 5, "datasets", []string{s1})
		set(b, 6, "promote_to", s2)
		set(b, 7, "labels", map[string]string{s1: s2})
	case 1: // monitor
		b["model"], b["baseline_dataset"] = s1, s1
		if drop(0) {
			b["deployment"], b["current_window"] = s2, n
		} else {
			b["current_dataset"] = s2
		}
		set(b, 1, "features", strings.Split(s1, ","))
		set(b, 2, "metric", s2)
		set(b, 2, "categorical_metric", s1)
		set(b, 3, "threshold", x)
		set(b, 3, "feature_thresholds", map[string]float64{s2: x})
		set(b, 4, "drift_share", x)
		set(b, 4, "min_samples", n)
		set(b, 5, "interval", s2)
		set(b, 5, "cooldown", s1)
		set(b, 6, "notification", map[string]any{"url": s1, "secret": s2})
		set(b, 7, "labels", map[string]string{s1: s2})
	default: // deployment
		b["model"] = s1
		if drop(0) {
			b["alias"] = s2
		} else {
			b["version"] = n
		}
		rt := map[string]any{"health_path": s2}
		if drop(1) {
			rt["command"] = []string{s2, s1}
			set(rt, 2, "env", map[string]string{s1: s2})
		} else {
			rt["url"] = s1
		}
		b["runtime"] = rt
		set(b, 3, "replicas", n)
		set(b, 4, "strategy", map[string]any{"type": s2, "steps": []int64{n, n + 1}, "step_interval": s1, "max_error_rate": x})
		set(b, 5, "prediction_logging", map[string]any{"sample_rate": x, "max_entries": n})
		set(b, 7, "labels", map[string]string{s1: s2})
	}
	return b
}

// FuzzCreateSpecs sends create and update bodies of pipelines, monitors and
// deployments with arbitrary values in their fields through the real
// handler: bad values must get a 4xx, never a 5xx or a panic. The server
// holds no model, dataset or schedule, so nothing accepted here ever runs.
func FuzzCreateSpecs(f *testing.F) {
	f.Add(uint8(0), uint8(0), "p", "train", "10m", int64(3), 0.5)
	f.Add(uint8(0), uint8(0), "p", "a", "a", int64(-1), 0.0)
	f.Add(uint8(1), uint8(0), "m", "churn", "1h", int64(30), 0.1)
	f.Add(uint8(1), uint8(1), "m", "age,age", "https://user:pw@h/x", int64(0), -1.0)
	f.Add(uint8(2), uint8(0), "d", "http://h/v{version}", "/healthz", int64(1), 0.05)
	f.Add(uint8(2), uint8(3), "d", "serve", "canary", int64(50), 2.0)
	f.Add(uint8(5), uint8(0xff), "\xff", "k\xff", "\x00", int64(math.MaxInt64), 1e308)
	e := newEnv(f)
	collections := []string{"pipelines", "monitors", "deployments"}
	f.Fuzz(func(t *testing.T, kind, mask uint8, name, s1, s2 string, n int64, x float64) {
		e.t = t
		body := specBody(kind, mask, name, s1, s2, n, x)
		path := "/v1/projects/default/" + collections[kind%3]
		r := e.admin("POST", path, body)
		if r.status >= 500 {
			t.Fatalf("POST %s with %v: %d %s", path, body, r.status, r.body)
		}
		delete(body, "name")
		path += "/" + url.PathEscape(name)
		if r = e.admin("PUT", path, body); r.status >= 500 {
			t.Fatalf("PUT %s with %v: %d %s", path, body, r.status, r.body)
		}
	})
}

// pathKinds are the addressable objects: a collection under a project, and
// the sub-paths of one object.
var pathKinds = []struct {
	collection string
	subs       []string
}{
	{"", nil}, // the project itself
	{"datasets", []string{"", "/profile", "/refresh"}},
	{"pipelines", []string{"", "/revisions", "/revisions/1", "/runs", "/runs/1", "/runs/1/logs", "/runs/1/cancel"}},
	{"models", []string{"", "/versions", "/versions/1", "/aliases", "/aliases/champion"}},
	{"schedules", []string{""}},
	{"monitors", []string{"", "/evaluations", "/evaluations/1", "/evaluate"}},
	{"deployments", []string{"", "/predict"}},
}

// headerSafe keeps the bytes a real HTTP server lets through in a header value.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// FuzzPathNames puts arbitrary names (any bytes, percent-escaped) into the
// paths and queries of GET, PUT, POST and DELETE: the answer is a 4xx for a
// name that is no object, never a 5xx or a panic.
func FuzzPathNames(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint8(0), "default", "churn", "", "")
	f.Add(uint8(1), uint8(3), uint8(4), "default", "chu\u0433n", "x", "k")
	f.Add(uint8(2), uint8(2), uint8(2), "a/b", "..", "eyJ4IjoxfQ", "")
	f.Add(uint8(3), uint8(5), uint8(1), "default", "%00", "\x00", "\xff")
	f.Add(uint8(0), uint8(6), uint8(1), "\xff", "a\xffb", "\xff\xfe", "")
	f.Add(uint8(1), uint8(0), uint8(0), "NUL\x00", "", "", "")
	e := newEnv(f)
	methods := []string{"GET", "PUT", "DELETE", "POST"}
	f.Fuzz(func(t *testing.T, method, kind, sub uint8, project, name, pageToken, idemKey string) {
		e.t = t
		k := pathKinds[int(kind)%len(pathKinds)]
		m := methods[int(method)%len(methods)]
		path := "/v1/projects/" + url.PathEscape(project)
		if k.collection != "" {
			path += "/" + k.collection + "/" + url.PathEscape(name) + k.subs[int(sub)%len(k.subs)]
		} else if m == "DELETE" && project == "default" {
			return // keep the project the other inputs address
		}
		var body any
		if m == "PUT" || m == "POST" {
			body = map[string]any{}
		}
		r := e.admin(m, path, body, "Idempotency-Key", headerSafe(idemKey), "If-Match", headerSafe(pageToken))
		if r.status >= 500 {
			t.Fatalf("%s %s: %d %s", m, path, r.status, r.body)
		}
		// The collection itself, with an arbitrary page token.
		if k.collection != "" {
			list := "/v1/projects/" + url.PathEscape(project) + "/" + k.collection + "?page_size=1&page_token=" + url.QueryEscape(pageToken)
			if r := e.admin("GET", list, nil); r.status >= 500 {
				t.Fatalf("GET %s: %d %s", list, r.status, r.body)
			}
		}
	})
}
