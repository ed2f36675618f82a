package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func TestSchedules(t *testing.T) {
	e := newEnv(t)
	want(t, e.admin("POST", "/v1/projects/default/pipelines", map[string]any{"name": "train", "steps": []any{step("a")}}), http.StatusCreated)
	base := "/v1/projects/default/schedules"
	var s api.Schedule
	want(t, e.admin("POST", base, map[string]any{"name": "nightly", "pipeline": "train", "cron": "0 3 * * *"}), http.StatusCreated).decode(t, &s)
	if s.Timezone != "UTC" || s.ConcurrencyPolicy != "forbid" || s.NextRunAt == nil {
		t.Fatalf("defaults not applied: %+v", s)
	}
	if n := *s.NextRunAt; n.Hour() != 3 || n.Minute() != 0 || !n.After(time.Now()) || n.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("next_run_at = %v, want the next 03:00 UTC", n)
	}
	want(t, e.admin("PUT", base+"/nightly", map[string]any{"pipeline": "train", "cron": "0 3 * * *", "paused": true}), http.StatusOK).decode(t, &s)
	if s.NextRunAt != nil || !s.Paused {
		t.Fatalf("paused schedule %+v", s)
	}
	want(t, e.admin("PUT", base+"/nightly", map[string]any{"pipeline": "train", "interval": "6h", "timezone": "Asia/Tokyo", "concurrency_policy": "replace"}), http.StatusOK).decode(t, &s)
	if s.Interval != "6h" || s.Cron != "" || s.Timezone != "Asia/Tokyo" || s.NextRunAt == nil {
		t.Fatalf("switched to interval: %+v", s)
	}

	cases := []struct {
		name     string
		body     map[string]any
		location string
		text     string
	}{
		{"bad cron", map[string]any{"pipeline": "train", "cron": "0 3 * *"}, "body.cron", "not a valid cron"},
		{"cron and interval", map[string]any{"pipeline": "train", "cron": "0 3 * * *", "interval": "1h"}, "body.cron", "exactly one"},
		{"neither", map[string]any{"pipeline": "train"}, "body.cron", "exactly one"},
		{"bad zone", map[string]any{"pipeline": "train", "cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "body.timezone", "IANA"},
		{"short interval", map[string]any{"pipeline": "train", "interval": "5s"}, "body.interval", "minimum"},
		{"bad policy", map[string]any{"pipeline": "train", "interval": "1h", "concurrency_policy": "sometimes"}, "body.concurrency_policy", ""},
		{"end before start", map[string]any{"pipeline": "train", "interval": "1h", "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}, "body.end_at", "after start_at"},
		{"unknown pipeline", map[string]any{"pipeline": "nope", "interval": "1h"}, "body.pipeline", `pipeline "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.body["name"] = "s"
			wantProblem(t, e.admin("POST", base, c.body), http.StatusBadRequest, c.location, c.text)
		})
	}
	want(t, e.admin("DELETE", base+"/nightly", nil), http.StatusNoContent)
	want(t, e.admin("GET", base+"/nightly", nil), http.StatusNotFound)
}
