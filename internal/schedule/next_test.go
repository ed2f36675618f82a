package schedule

import (
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

func TestNext(t *testing.T) {
	anchor := at("2026-01-01T00:00:00Z")
	tests := []struct {
		name   string
		spec   api.ScheduleSpec
		after  string
		want   string
		wantOK bool
	}{
		{"daily cron in UTC", api.ScheduleSpec{Cron: "0 3 * * *"}, "2026-03-10T04:00:00Z", "2026-03-11T03:00:00Z", true},
		{"cron read in the schedule's zone", api.ScheduleSpec{Cron: "0 3 * * *", Timezone: "Europe/Berlin"}, "2026-01-10T00:00:00Z", "2026-01-10T02:00:00Z", true},
		// Berlin moves to summer time on 2026-03-29: 03:00 local is then 01:00 UTC.
		{"cron across a DST change", api.ScheduleSpec{Cron: "0 3 * * *", Timezone: "Europe/Berlin"}, "2026-03-29T12:00:00Z", "2026-03-30T01:00:00Z", true},
		// Berlin falls back on 2026-10-25: 02:30 happens at 00:30Z and again at 01:30Z; the job fires once.
		{"cron fires once in a repeated hour", api.ScheduleSpec{Cron: "30 2 * * *", Timezone: "Europe/Berlin"}, "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", true},
		{"descriptor", api.ScheduleSpec{Cron: "@hourly"}, "2026-03-10T04:10:00Z", "2026-03-10T05:00:00Z", true},
		{"interval counts from the anchor", api.ScheduleSpec{Interval: "6h"}, "2026-01-01T07:00:00Z", "2026-01-01T12:00:00Z", true},
		{"interval fires strictly after", api.ScheduleSpec{Interval: "6h"}, "2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", true},
		{"interval in days", api.ScheduleSpec{Interval: "1d"}, "2026-01-01T00:00:01Z", "2026-01-02T00:00:00Z", true},
		{"start_at in the future", api.ScheduleSpec{Interval: "1h", StartAt: ptr(at("2026-05-01T10:30:00Z"))}, "2026-01-01T00:00:00Z", "2026-05-01T10:30:00Z", true},
		{"cron waits for start_at", api.ScheduleSpec{Cron: "0 * * * *", StartAt: ptr(at("2026-05-01T10:30:00Z"))}, "2026-01-01T00:00:00Z", "2026-05-01T11:00:00Z", true},
		{"past end_at", api.ScheduleSpec{Cron: "0 3 * * *", EndAt: ptr(at("2026-03-11T02:00:00Z"))}, "2026-03-10T04:00:00Z", "", false},
		{"paused", api.ScheduleSpec{Cron: "0 3 * * *", Paused: true}, "2026-03-10T04:00:00Z", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timing, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := timing.Next(at(tt.after), anchor)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (next %v)", ok, tt.wantOK, got)
			}
			if ok && !got.Equal(at(tt.want)) {
				t.Fatalf("next = %v, want %v", got, tt.want)
			}
		})
	}
}
