// Package schedule computes when a retraining schedule fires. The firing
// engine builds on it; the API uses it to report next_run_at.
package schedule

import (
	"fmt"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// Timing is a parsed schedule: a cron expression in a zone, or a fixed interval.
type Timing struct {
	spec     api.ScheduleSpec
	loc      *time.Location
	interval time.Duration
	cron     interface{ Next(time.Time) time.Time }
}

// Parse reads the timing fields of a spec that has passed Validate.
func Parse(spec api.ScheduleSpec) (*Timing, error) {
	t := &Timing{spec: spec, loc: time.UTC}
	if spec.Timezone != "" {
		loc, err := time.LoadLocation(spec.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone: %w", err)
		}
		t.loc = loc
	}
	if spec.Cron != "" {
		c, err := api.ParseCron(spec.Cron)
		if err != nil {
			return nil, fmt.Errorf("cron: %w", err)
		}
		t.cron = c
		return t, nil
	}
	d, err := api.ParseDuration(spec.Interval)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("interval %q is not a positive duration", spec.Interval)
	}
	t.interval = d
	return t, nil
}

// Next returns the first firing strictly after `after`, honouring start_at,
// end_at and paused. ok is false when the schedule will not fire again.
// Intervals count from start_at when set, else from anchor (the schedule's
// creation), so firings do not drift with restarts.
func (t *Timing) Next(after, anchor time.Time) (next time.Time, ok bool) {
	if t.spec.Paused {
		return time.Time{}, false
	}
	from := after
	if t.spec.StartAt != nil && t.spec.StartAt.After(from) {
		// A firing exactly at start_at counts.
		from = t.spec.StartAt.Add(-time.Nanosecond)
	}
	if t.cron != nil {
		next = t.cron.Next(from.In(t.loc))
		// When clocks fall back, an hour of wall-clock times happens twice;
		// a job fires at the first of them only (cron's own Next fires twice).
		for !next.IsZero() && repeatedWallClock(next, t.loc) {
			next = t.cron.Next(next)
		}
		next = next.UTC()
	} else {
		base := anchor
		if t.spec.StartAt != nil {
			base = *t.spec.StartAt
		}
		if from.Before(base) {
			next = base
		} else {
			n := from.Sub(base)/t.interval + 1
			next = base.Add(n * t.interval)
		}
		next = next.UTC()
	}
	if next.IsZero() || (t.spec.EndAt != nil && next.After(*t.spec.EndAt)) {
		return time.Time{}, false
	}
	return next, true
}

// repeatedWallClock says whether t's local date and time already occurred an
// hour earlier: t is the second pass through a fall-back hour.
func repeatedWallClock(t time.Time, loc *time.Location) bool {
	a, b := t.In(loc), t.Add(-time.Hour).In(loc)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay() && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}
