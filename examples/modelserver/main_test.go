package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tinyArtifact is a model.bin.json as examples/trainer writes it, small enough
// to score by hand: z = -(tenure-10)/5 + 2·[plan=basic].
const tinyArtifact = `{
  "kind": "logistic-regression",
  "label": "churned",
  "features": ["tenure_months", "plan=basic", "plan=pro"],
  "mean": [10, 0, 0],
  "std": [5, 1, 1],
  "weights": [-1, 2, 0],
  "bias": 0,
  "threshold": 0.5
}`

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func writeArtifact(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.bin.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// newTestServer serves tinyArtifact through the handler, configured by vars
// on top of a valid base.
func newTestServer(t *testing.T, vars map[string]string) (*server, *httptest.Server) {
	t.Helper()
	base := map[string]string{
		"PORT": "0", "MLOPS_ARTIFACT_URI": "file://" + writeArtifact(t, tinyArtifact),
		"MLOPS_MODEL": "churn", "MLOPS_MODEL_VERSION": "7",
	}
	for k, v := range vars {
		base[k] = v
	}
	c, err := parseConfig(env(base))
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadModel(c.artifact)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cfg: c, rand: func() float64 { return 0.5 }}
	s.model.Store(m)
	ts := httptest.NewServer(s.routes())
	t.Cleanup(ts.Close)
	return s, ts
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url+"/predict", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("status %d, body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func TestPredict(t *testing.T) {
	_, ts := newTestServer(t, nil)
	status, out := post(t, ts.URL, `{"instances": [
		{"tenure_months": 10, "plan": "basic", "customer_id": "c-1"},
		{"tenure_months": 20, "plan": "pro"},
		{"tenure_months": 5, "plan=basic": 0, "plan=pro": true}
	]}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, out)
	}
	if out["model"] != "churn" || out["version"] != 7.0 {
		t.Errorf("model, version = %v, %v; want churn, 7", out["model"], out["version"])
	}
	preds, _ := out["predictions"].([]any)
	want := []struct {
		p       float64
		churned bool
	}{{sigmoid(2), true}, {sigmoid(-2), false}, {sigmoid(1), true}}
	if len(preds) != len(want) {
		t.Fatalf("predictions = %v, want %d", preds, len(want))
	}
	for i, w := range want {
		p, _ := preds[i].(map[string]any)
		if got, _ := p["probability"].(float64); math.Abs(got-w.p) > 1e-12 || p["churned"] != w.churned {
			t.Errorf("prediction %d = %v, want probability %v, churned %v", i, p, w.p, w.churned)
		}
	}
}

func TestPredictBadInput(t *testing.T) {
	_, ts := newTestServer(t, nil)
	for _, tc := range []struct{ body, want string }{
		{`not json`, "invalid JSON body"},
		{`{"instances": []}`, `needs "instances"`},
		{`{}`, `needs "instances"`},
		{`{"instance": [{"tenure_months": 1, "plan": "pro"}]}`, `unknown field "instance"`},
		{`{"instances": [{"tenure_months": 1, "plan": "pro"}]} {}`, "more than one JSON value"},
		{`{"instances": [3]}`, "invalid JSON body"},
		{`{"instances": [{"plan": "pro"}]}`, `instances[0]: missing feature "tenure_months"`},
		{`{"instances": [{"tenure_months": 1, "plan": "pro"}, {"tenure_months": "12", "plan": "pro"}]}`, `instances[1]: "tenure_months" must be a number, got a string`},
		{`{"instances": [{"tenure_months": 1}]}`, `missing feature "plan" (one of basic, pro)`},
		{`{"instances": [{"tenure_months": 1, "plan": "gold"}]}`, `"plan" must be one of basic, pro, got "gold"`},
		{`{"instances": [{"tenure_months": true, "plan": "pro"}]}`, "must be a number, got a boolean"},
		{`{"instances": [null]}`, "missing feature"},
	} {
		status, out := post(t, ts.URL, tc.body)
		msg, _ := out["error"].(string)
		if status != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: status %d, error %q; want 400 with %q", tc.body, status, msg, tc.want)
		}
	}

	big := `{"instances": [{"tenure_months": 1, "plan": "` + strings.Repeat("x", maxBody) + `"}]}`
	if status, _ := post(t, ts.URL, big); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", status)
	}
	resp, err := http.Get(ts.URL + "/predict")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /predict: status %d, want 405", resp.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	s, ts := newTestServer(t, nil)
	get := func() int {
		resp, err := http.Get(ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != http.StatusOK {
		t.Errorf("loaded: status %d, want 200", got)
	}
	s.model.Store(nil)
	if got := get(); got != http.StatusServiceUnavailable {
		t.Errorf("not loaded: status %d, want 503", got)
	}
	if status, _ := post(t, ts.URL, `{"instances": [{"tenure_months": 1, "plan": "pro"}]}`); status != http.StatusServiceUnavailable {
		t.Errorf("predict before load: status %d, want 503", status)
	}
}

func TestFaultErrorRate(t *testing.T) {
	const body = `{"instances": [{"tenure_months": 1, "plan": "pro"}]}`
	for _, tc := range []struct {
		rate string
		roll float64 // what the server's random draw returns
		want int
	}{
		{"1", 0.999, http.StatusInternalServerError},
		{"0.3", 0.2, http.StatusInternalServerError},
		{"0.3", 0.3, http.StatusOK},
		{"0", 0, http.StatusOK},
	} {
		s, ts := newTestServer(t, map[string]string{"MLOPS_FAULT_ERROR_RATE": tc.rate})
		s.rand = func() float64 { return tc.roll }
		status, out := post(t, ts.URL, body)
		if status != tc.want {
			t.Errorf("rate %s, draw %v: status %d (%v), want %d", tc.rate, tc.roll, status, out, tc.want)
		}
		if status == http.StatusInternalServerError && !strings.Contains(out["error"].(string), "injected") {
			t.Errorf("rate %s: error %v does not say the fault was injected", tc.rate, out["error"])
		}
	}

	// With the real random source about the given share fails, and health
	// checks never do: the replica must stay in routing to be judged.
	s, ts := newTestServer(t, map[string]string{"MLOPS_FAULT_ERROR_RATE": "0.5"})
	s.rand = rand.Float64
	failed := 0
	for range 400 {
		if status, _ := post(t, ts.URL, body); status == http.StatusInternalServerError {
			failed++
		}
	}
	if failed < 140 || failed > 260 {
		t.Errorf("%d of 400 requests failed at rate 0.5", failed)
	}
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: status %d, want 200 whatever the error rate", resp.StatusCode)
	}
}

func TestFaultLatency(t *testing.T) {
	_, ts := newTestServer(t, map[string]string{"MLOPS_FAULT_LATENCY_MS": "150"})
	start := time.Now()
	status, _ := post(t, ts.URL, `{"instances": [{"tenure_months": 1, "plan": "pro"}]}`)
	if took := time.Since(start); status != http.StatusOK || took < 150*time.Millisecond {
		t.Errorf("status %d after %s, want 200 after at least 150ms", status, took)
	}
}

func TestParseConfig(t *testing.T) {
	art := writeArtifact(t, tinyArtifact)
	base := func(k, v string) map[string]string {
		m := map[string]string{"PORT": "8501", "MLOPS_ARTIFACT_URI": art}
		m[k] = v
		return m
	}
	c, err := parseConfig(env(base("MLOPS_ARTIFACT_URI", "file://"+art)))
	if err != nil || c.artifact != art || c.version != nil {
		t.Errorf("file URI: config %+v, err %v; want path %s and no version", c, err, art)
	}
	c, err = parseConfig(env(base("MLOPS_ARTIFACT_URI", "file://localhost"+art)))
	if err != nil || c.artifact != art {
		t.Errorf("file://localhost URI: config %+v, err %v", c, err)
	}
	for _, tc := range []struct{ k, v, want string }{
		{"PORT", "", "PORT"},
		{"PORT", "http", "PORT"},
		{"PORT", "70000", "PORT"},
		{"MLOPS_ARTIFACT_URI", "", "MLOPS_ARTIFACT_URI is not set"},
		{"MLOPS_ARTIFACT_URI", "s3://bucket/model.bin.json", "only file paths"},
		{"MLOPS_ARTIFACT_URI", "file://otherhost/model.bin.json", "no host"},
		{"MLOPS_MODEL_VERSION", "v2", "MLOPS_MODEL_VERSION"},
		{"MLOPS_FAULT_ERROR_RATE", "1.5", "from 0 to 1"},
		{"MLOPS_FAULT_ERROR_RATE", "NaN", "from 0 to 1"},
		{"MLOPS_FAULT_LATENCY_MS", "-5", "milliseconds"},
	} {
		if _, err := parseConfig(env(base(tc.k, tc.v))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: err = %v, want one mentioning %q", tc.k, tc.v, err, tc.want)
		}
	}
}

func TestLoadModelRejectsBadArtifacts(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"kind": "tree"}`, `kind "tree" is not supported`},
		{`{"kind": "logistic-regression"}`, "no features"},
		{`{"kind": "logistic-regression", "features": ["a"], "mean": [0], "std": [1]}`, "1 features but 1 means, 1 stds and 0 weights"},
		{`{"kind": "logistic-regression", "features": ["a"], "mean": [0], "std": [0], "weights": [1]}`, "std 0"},
		{`a,b,c`, "not a model artifact"},
	} {
		if _, err := loadModel(writeArtifact(t, tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.body, err, tc.want)
		}
	}
	if _, err := loadModel(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing artifact loaded")
	}
}

// TestRunServesAndShutsDown runs the whole program: it listens on PORT,
// answers once the model is loaded and returns cleanly when told to stop.
func TestRunServesAndShutsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, env(map[string]string{
			"PORT": port, "MLOPS_ARTIFACT_URI": writeArtifact(t, tinyArtifact), "MLOPS_MODEL_VERSION": "3",
		}), io.Discard)
	}()
	url := "http://127.0.0.1:" + port
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy after 5s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, out := post(t, url, `{"instances": [{"tenure_months": 10, "plan": "basic"}]}`); status != http.StatusOK || out["version"] != 3.0 {
		t.Fatalf("predict: status %d, %v", status, out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want a clean shutdown", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still answering after shutdown")
	}
}

func TestRunFailsOnBadArtifact(t *testing.T) {
	err := run(t.Context(), env(map[string]string{
		"PORT": "0", "MLOPS_ARTIFACT_URI": writeArtifact(t, `{"kind": "tree"}`),
	}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("run = %v, want the artifact rejected", err)
	}
}
