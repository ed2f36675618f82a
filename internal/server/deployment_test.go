package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
)

func TestDeploymentValidation(t *testing.T) {
	e := newEnv(t)
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "churn"}), http.StatusCreated)
	want(t, e.admin("POST", "/v1/projects/default/models/churn/versions", map[string]any{"artifact_uri": "s3://b/m.bin"}), http.StatusCreated)
	base := "/v1/projects/default/deployments"
	valid := func() map[string]any {
		return map[string]any{"name": "d", "model": "churn", "version": 1, "runtime": map[string]any{"url": "http://models.example.com/v{version}"}}
	}
	cases := []struct {
		name     string
		set      map[string]any
		location string
		text     string
	}{
		{"unknown model", map[string]any{"model": "nope"}, "body.model", `model "nope"`},
		{"unknown version", map[string]any{"version": 7}, "body.version", "no version 7"},
		{"unknown alias", map[string]any{"version": 0, "alias": "champion"}, "body.alias", "no alias champion"},
		{"version and alias", map[string]any{"alias": "champion"}, "body.version", "exactly one"},
		{"neither", map[string]any{"version": 0}, "body.version", "exactly one"},
		{"no runtime", map[string]any{"runtime": map[string]any{}}, "body.runtime.command", "runtime.url"},
		{"both runtimes", map[string]any{"runtime": map[string]any{"url": "http://x", "command": []string{"serve"}}}, "body.runtime.command", "not both"},
		{"ftp runtime", map[string]any{"runtime": map[string]any{"url": "ftp://x/y"}}, "body.runtime.url", "http or https"},
		{"relative health path", map[string]any{"runtime": map[string]any{"url": "http://x", "health_path": "healthz"}}, "body.runtime.health_path", "start with /"},
		{"canary without steps", map[string]any{"strategy": map[string]any{"type": "canary"}}, "body.strategy.steps", "at least one step"},
		{"steps out of order", map[string]any{"strategy": map[string]any{"type": "canary", "steps": []int{50, 10}}}, "body.strategy.steps[1]", "increasing"},
		{"steps without canary", map[string]any{"strategy": map[string]any{"steps": []int{10}}}, "body.strategy.steps", "type canary"},
		{"sample rate above 1", map[string]any{"prediction_logging": map[string]any{"sample_rate": 1.5}}, "body.prediction_logging.sample_rate", ""},
		{"bad step interval", map[string]any{"strategy": map[string]any{"type": "canary", "steps": []int{10}, "step_interval": "soon"}}, "body.strategy.step_interval", "not a duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := valid()
			for k, v := range c.set {
				body[k] = v
			}
			wantProblem(t, e.admin("POST", base, body), http.StatusBadRequest, c.location, c.text)
		})
	}

	var d api.Deployment
	body := valid()
	body["strategy"] = map[string]any{"type": "canary", "steps": []int{10, 50}}
	want(t, e.admin("POST", base, body), http.StatusCreated).decode(t, &d)
	s := d.Strategy
	if d.Runtime.HealthPath != "/healthz" || d.Replicas != 1 || s.StepInterval != "1m" || *s.MaxErrorRate != 0.05 || *s.MinRequests != 20 || !*s.AutoRollback {
		t.Fatalf("defaults not stored explicitly: %+v %+v", d.DeploymentSpec, s)
	}
	if d.URL != e.ts.URL+base+"/d" {
		t.Fatalf("url %q", d.URL)
	}
	want(t, e.admin("DELETE", base+"/d", nil), http.StatusNoContent)
}

// The gateway answers only callers who may read the deployment's project.
func TestGatewayAuthorization(t *testing.T) {
	e := newEnv(t)
	want(t, e.admin("POST", "/v1/projects", map[string]any{"name": "p"}), http.StatusCreated)
	path := "/v1/projects/p/deployments/d/predict"
	wantProblem(t, e.do("POST", path, "", map[string]any{}), http.StatusUnauthorized, "", "bearer token")
	wantProblem(t, e.do("POST", path, e.ts.Token(t, api.RoleViewer, "default"), map[string]any{}), http.StatusForbidden, "", "")
	wantProblem(t, e.do("POST", path, e.ts.Token(t, api.RoleViewer, "p"), map[string]any{}), http.StatusNotFound, "", "")
}

// An Idempotency-Key on a prediction is passed to the model server, which
// decides what it means; mlopsd neither buffers nor replays the prediction.
func TestGatewayPassesIdempotencyKeyThrough(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		fmt.Fprintf(w, `{"call":%d,"key":%q}`, n, r.Header.Get("Idempotency-Key"))
	}))
	t.Cleanup(backend.Close)
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.ts.Gateway.Set("default/d", gateway.Route{Weights: map[int64]int{1: 100}, Backends: []gateway.Backend{{Version: 1, URL: u}}})
	for i := 1; i <= 2; i++ {
		req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/projects/default/deployments/d/predict", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.ts.AdminToken)
		req.Header.Set("Idempotency-Key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf(`{"call":%d,"key":"k1"}`, i); resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("prediction %d: %d %s, want 200 %s", i, resp.StatusCode, body, want)
		}
	}
}
