package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

func monitorEnv(t *testing.T) *env {
	e := newEnv(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "d.csv", "age,plan\n31,basic\n45,pro\n")
	for _, name := range []string{"base", "cur"} {
		want(t, e.admin("POST", "/v1/projects/default/datasets", map[string]any{"name": name, "uri": path, "format": "csv"}), http.StatusCreated)
	}
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "churn"}), http.StatusCreated)
	return e
}

func TestMonitors(t *testing.T) {
	e := monitorEnv(t)
	base := "/v1/projects/default/monitors"
	var m api.Monitor
	want(t, e.admin("POST", base, map[string]any{
		"name": "drift", "model": "churn", "baseline_dataset": "base", "current_dataset": "cur",
		"notification": map[string]any{"url": "https://hooks.example.com/x", "secret": "s3cret-value"},
	}), http.StatusCreated).decode(t, &m)
	if m.Metric != "psi" || m.CategoricalMetric != "jensen_shannon" || m.Interval != "1h" || m.Cooldown != "1h" ||
		m.DriftShare == nil || *m.DriftShare != 0.5 || m.MinSamples == nil || *m.MinSamples != 30 {
		t.Fatalf("defaults not stored explicitly: %+v", m.MonitorSpec)
	}
	if m.Notification == nil || m.Notification.Secret != "" || !m.Notification.SecretSet {
		t.Fatalf("notification in the response: %+v", m.Notification)
	}

	res := want(t, e.admin("GET", base+"/drift", nil), http.StatusOK)
	if strings.Contains(string(res.body), "s3cret-value") {
		t.Fatalf("GET echoes the secret: %s", res.body)
	}
	var list api.List[api.Monitor]
	want(t, e.admin("GET", base, nil), http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Notification.Secret != "" {
		t.Fatalf("list: %+v", list.Items)
	}

	// Updating without a secret stores none.
	want(t, e.admin("PUT", base+"/drift", map[string]any{
		"model": "churn", "baseline_dataset": "base", "current_dataset": "cur", "metric": "ks", "threshold": 0.01,
		"notification": map[string]any{"url": "https://hooks.example.com/x"},
	}), http.StatusOK).decode(t, &m)
	if m.Metric != "ks" || *m.Threshold != 0.01 || m.Notification.SecretSet {
		t.Fatalf("after update: %+v %+v", m.MonitorSpec, m.Notification)
	}
	want(t, e.admin("GET", base+"/drift/evaluations/999", nil), http.StatusNotFound)
	want(t, e.admin("GET", base+"/nope/evaluations", nil), http.StatusNotFound)

	want(t, e.admin("DELETE", base+"/drift", nil), http.StatusNoContent)
	want(t, e.admin("GET", base+"/drift", nil), http.StatusNotFound)
	want(t, e.admin("GET", base+"/drift/evaluations", nil), http.StatusNotFound)
}

func TestMonitorValidation(t *testing.T) {
	e := monitorEnv(t)
	valid := func() map[string]any {
		return map[string]any{"name": "m", "model": "churn", "baseline_dataset": "base", "current_dataset": "cur"}
	}
	cases := []struct {
		name     string
		set      map[string]any
		location string
		text     string
	}{
		{"unknown model", map[string]any{"model": "nope"}, "body.model", `model "nope"`},
		{"unknown baseline", map[string]any{"baseline_dataset": "nope"}, "body.baseline_dataset", `dataset "nope"`},
		{"unknown current", map[string]any{"current_dataset": "nope"}, "body.current_dataset", `dataset "nope"`},
		{"unknown schedule", map[string]any{"retrain_schedule": "nope"}, "body.retrain_schedule", `schedule "nope"`},
		{"bad metric", map[string]any{"metric": "chi_squared"}, "body.metric", ""},
		{"bad categorical metric", map[string]any{"categorical_metric": "ks"}, "body.categorical_metric", ""},
		{"p-value above 1", map[string]any{"metric": "ks", "threshold": 5}, "body.threshold", "p-value"},
		{"negative threshold", map[string]any{"threshold": -1}, "body.threshold", "at least 0"},
		{"drift share 0", map[string]any{"drift_share": 0}, "body.drift_share", "greater than 0"},
		{"short interval", map[string]any{"interval": "1s"}, "body.interval", "minimum"},
		{"bad cooldown", map[string]any{"cooldown": "soon"}, "body.cooldown", "not a duration"},
		{"duplicate feature", map[string]any{"features": []string{"age", "age"}}, "body.features[1]", "twice"},
		{"threshold for an unlisted feature", map[string]any{"features": []string{"age"}, "feature_thresholds": map[string]float64{"plan": 0.2}}, "body.feature_thresholds.plan", "not in features"},
		{"current dataset and deployment", map[string]any{"deployment": "api"}, "body.current_dataset", "exactly one"},
		{"no current data", map[string]any{"current_dataset": ""}, "body.current_dataset", "deployment"},
		{"unknown deployment", map[string]any{"current_dataset": "", "deployment": "nope"}, "body.deployment", `deployment "nope"`},
		{"ftp webhook", map[string]any{"notification": map[string]any{"url": "ftp://example.com/x"}}, "body.notification.url", "http or https"},
		{"webhook with credentials", map[string]any{"notification": map[string]any{"url": "https://u:p@example.com/x"}}, "body.notification.url", "credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := valid()
			for k, v := range c.set {
				body[k] = v
			}
			wantProblem(t, e.admin("POST", "/v1/projects/default/monitors", body), http.StatusBadRequest, c.location, c.text)
		})
	}
}

// A server that does not allow private webhooks refuses URLs that point
// inside its network, naming the flag that would allow them.
func TestMonitorWebhookPrivateAddressPolicy(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	srv, err := server.New(ctx, server.Config{Store: st, DataRoots: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := server.IssueToken(ctx, st, api.RoleAdmin, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.7/x", "http://[::1]/x"} {
		req := httptest.NewRequest(http.MethodPost, "/v1/projects/default/monitors", strings.NewReader(
			`{"name":"m","model":"churn","baseline_dataset":"b","current_dataset":"c","notification":{"url":"`+url+`"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin.Secret)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusBadRequest || !strings.Contains(body, "notification.url") || !strings.Contains(body, "--allow-private-webhooks") {
			t.Errorf("%s: %d %s", url, rec.Code, body)
		}
	}
}
