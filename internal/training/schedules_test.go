package training

import (
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/schedule"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDueTimes(t *testing.T) {
	anchor := mustTime("2026-01-01T00:00:00Z")
	cases := []struct {
		name    string
		spec    api.ScheduleSpec
		due     string
		now     string
		catchup bool
		want    []string
	}{
		{"on time fires once", api.ScheduleSpec{Cron: "0 * * * *"}, "2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z", false,
			[]string{"2026-03-01T10:00:00Z"}},
		{"early fires nothing", api.ScheduleSpec{Cron: "0 * * * *"}, "2026-03-01T10:00:00Z", "2026-03-01T09:59:59Z", false, nil},
		{"downtime without catchup fires the latest missed time once", api.ScheduleSpec{Cron: "0 * * * *"}, "2026-03-01T10:00:00Z", "2026-03-01T13:30:00Z", false,
			[]string{"2026-03-01T13:00:00Z"}},
		{"downtime with catchup fires every missed time", api.ScheduleSpec{Cron: "0 * * * *", Catchup: true}, "2026-03-01T10:00:00Z", "2026-03-01T13:30:00Z", true,
			[]string{"2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z", "2026-03-01T13:00:00Z"}},
		{"interval catchup", api.ScheduleSpec{Interval: "6h"}, "2026-01-01T06:00:00Z", "2026-01-02T01:00:00Z", true,
			[]string{"2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z"}},
		// Berlin springs forward on 2026-03-29 (02:00 -> 03:00): that day has no
		// 02:30, so a 02:30 job skips it (as cron and Kubernetes CronJob do), and
		// the next day's 02:30 is an hour earlier in UTC.
		{"cron across spring-forward in a zone", api.ScheduleSpec{Cron: "30 2 * * *", Timezone: "Europe/Berlin"}, "2026-03-28T01:30:00Z", "2026-03-30T12:00:00Z", true,
			[]string{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"}},
		// Falling back on 2026-10-25 repeats 02:00-03:00; a 02:30 job fires once.
		{"cron across fall-back in a zone", api.ScheduleSpec{Cron: "30 2 * * *", Timezone: "Europe/Berlin"}, "2026-10-24T00:30:00Z", "2026-10-26T12:00:00Z", true,
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"end_at stops catchup", api.ScheduleSpec{Cron: "0 * * * *", EndAt: ptrTime(mustTime("2026-03-01T11:30:00Z"))}, "2026-03-01T10:00:00Z", "2026-03-01T15:00:00Z", true,
			[]string{"2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			timing, err := schedule.Parse(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := dueTimes(timing, mustTime(c.due), mustTime(c.now), anchor, c.catchup)
			if len(got) != len(c.want) {
				t.Fatalf("due times = %v, want %v", got, c.want)
			}
			for i := range got {
				if !got[i].Equal(mustTime(c.want[i])) {
					t.Fatalf("due times = %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestDueTimesCatchupIsBounded(t *testing.T) {
	timing, _ := schedule.Parse(api.ScheduleSpec{Cron: "* * * * *"})
	due := mustTime("2026-03-01T00:00:00Z")
	got := dueTimes(timing, due, due.Add(24*time.Hour), due, true)
	if len(got) != MaxCatchup || !got[len(got)-1].Equal(due.Add(24*time.Hour)) {
		t.Fatalf("%d firings ending %v; want the latest %d", len(got), got[len(got)-1], MaxCatchup)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
