package server_test

import (
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
