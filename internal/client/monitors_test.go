package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// TestMonitorRoutes pins the monitor methods to their routes, as TestRoutes does for the others.
func TestMonitorRoutes(t *testing.T) {
	type seen struct{ method, path, key string }
	var got seen
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Idempotency-Key")}
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, map[string]any{})
		}
	})
	ctx := context.Background()
	ignore := func(_ any, err error) error { return err }
	cases := []struct {
		call         func() error
		method, path string
	}{
		{func() error { return ignore(c.ListMonitors(ctx, "p")) }, "GET", "/v1/projects/p/monitors"},
		{func() error { return ignore(c.GetMonitor(ctx, "p", "m")) }, "GET", "/v1/projects/p/monitors/m"},
		{func() error { return ignore(c.CreateMonitor(ctx, "p", api.CreateMonitorRequest{Name: "m"})) }, "POST", "/v1/projects/p/monitors"},
		{func() error { return ignore(c.UpdateMonitor(ctx, "p", "m", api.MonitorSpec{}, 0)) }, "PUT", "/v1/projects/p/monitors/m"},
		{func() error { return c.DeleteMonitor(ctx, "p", "m", 0) }, "DELETE", "/v1/projects/p/monitors/m"},
		{func() error { return ignore(c.EvaluateMonitor(ctx, "p", "m")) }, "POST", "/v1/projects/p/monitors/m/evaluate"},
		{func() error { return ignore(c.ListMonitorEvaluations(ctx, "p", "m")) }, "GET", "/v1/projects/p/monitors/m/evaluations"},
		{func() error { return ignore(c.GetMonitorEvaluation(ctx, "p", "m", 4)) }, "GET", "/v1/projects/p/monitors/m/evaluations/4"},
	}
	for _, tc := range cases {
		got = seen{}
		if err := tc.call(); err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		if got.method != tc.method || got.path != tc.path {
			t.Errorf("want %s %s, server saw %s %s", tc.method, tc.path, got.method, got.path)
		}
		if (got.key != "") != (tc.method == "POST") {
			t.Errorf("%s %s: Idempotency-Key %q", tc.method, tc.path, got.key)
		}
	}
}

// The secret goes out on create and update, and what comes back only says whether one is stored.
func TestMonitorSecretIsSentNotReturned(t *testing.T) {
	var bodies []map[string]any
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b map[string]any
		_ = json.Unmarshal(raw, &b)
		bodies = append(bodies, b)
		writeJSON(w, http.StatusOK, map[string]any{
			"project": "p", "name": "m", "status": "pending",
			"notification": map[string]any{"url": "https://hooks.example.com/x", "secret_set": true},
		})
	})
	ctx := context.Background()
	spec := api.MonitorSpec{Model: "churn", BaselineDataset: "a", CurrentDataset: "b",
		Notification: &api.MonitorNotification{URL: "https://hooks.example.com/x", Secret: "s3cr3t"}}
	m, err := c.CreateMonitor(ctx, "p", api.CreateMonitorRequest{Name: "m", MonitorSpec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if m.Notification == nil || !m.Notification.SecretSet || m.Notification.Secret != "" || m.Status != api.MonitorPending {
		t.Errorf("decoded %+v", m)
	}
	if _, err := c.UpdateMonitor(ctx, "p", "m", spec, 3); err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		n, _ := b["notification"].(map[string]any)
		if n["secret"] != "s3cr3t" {
			t.Errorf("request %d sent notification %v, want the secret", i, n)
		}
	}
	if bodies[0]["name"] != "m" || bodies[1]["name"] != nil {
		t.Errorf("name belongs in the create body only: %v", bodies)
	}
}
