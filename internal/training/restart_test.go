package training_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// A schedule created before a stop fires after the restart: with catchup
// false once for all the due times missed while down, with catchup true once
// per missed due time; then it keeps firing, and no due time ever fires twice.
// The two servers run one after another on the same database, as a restarted
// mlopsd does (SQLite file, or PostgreSQL with MLOPS_TEST_STORE=postgres).
func TestRestartFiresMissedTimesOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		catchup bool
		missed  int // due times that pass while no server runs
		want    int // runs the restart starts for them
	}{
		{catchup: false, missed: 2, want: 1},
		{catchup: true, missed: 3, want: 3},
	} {
		t.Run(fmt.Sprintf("catchup=%v", tc.catchup), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := storetest.DatabaseURL(t)
			first := startNode(t, url, nodeOptions{})
			if _, err := first.Client.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "p", PipelineSpec: api.PipelineSpec{
				Steps: []api.Step{sh("s", "true")},
			}}); err != nil {
				t.Fatal(err)
			}
			// start_at pins the due times: start, start+10s, start+20s, ...
			start := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
			if _, err := first.Client.CreateSchedule(ctx, "default", api.CreateScheduleRequest{Name: "s", ScheduleSpec: api.ScheduleSpec{
				Pipeline: "p", Interval: "10s", StartAt: &start, Catchup: tc.catchup, ConcurrencyPolicy: "allow",
			}}); err != nil {
				t.Fatal(err)
			}
			due := func(i int) time.Time { return start.Add(time.Duration(i) * 10 * time.Second) }

			// Stop a second before the first due time; nothing has fired yet.
			sleepUntil(due(0).Add(-time.Second))
			first.Stop()
			if time.Now().After(due(0)) {
				t.Fatalf("the first server stopped after the first due time %s", due(0))
			}

			// Restart two seconds after the last missed due time.
			sleepUntil(due(tc.missed - 1).Add(2 * time.Second))
			restarted := time.Now()
			second := startNode(t, url, nodeOptions{})
			c := second.Client
			// The restarted engine may fire the missed times before startNode
			// returns; runs created before the restart are caught below.
			// River releases scheduled jobs on a 5s tick; a loaded machine adds more.
			until(t, restarted.Add(15*time.Second), "the missed due times fire", func() (bool, string) {
				runs := scheduleRuns(t, c, "p", "s")
				return len(runs) >= tc.want, runStates(runs)
			})
			// Give a wrong extra firing time to show up before counting.
			time.Sleep(1500 * time.Millisecond)
			runs := scheduleRuns(t, c, "p", "s")
			if len(runs) != tc.want {
				t.Fatalf("%d due times missed with catchup=%v started %d runs, want %d: %s", tc.missed, tc.catchup, len(runs), tc.want, runStates(runs))
			}
			for _, r := range runs {
				if r.CreatedAt.Before(restarted) {
					t.Fatalf("run %d created %s, before the restart %s", r.ID, r.CreatedAt, restarted)
				}
			}

			// Firings continue: the next due time fires once.
			next := due(tc.missed)
			sc, err := c.GetSchedule(ctx, "default", "s")
			if err != nil {
				t.Fatal(err)
			}
			if sc.NextRunAt == nil || !sc.NextRunAt.Equal(next) {
				t.Fatalf("next_run_at %v, want %s", sc.NextRunAt, next)
			}
			until(t, next.Add(8*time.Second), "the first due time after the restart fires", func() (bool, string) {
				runs := scheduleRuns(t, c, "p", "s")
				return len(runs) == tc.want+1, runStates(runs)
			})
			time.Sleep(time.Second)
			runs = scheduleRuns(t, c, "p", "s")
			// Due times since creation: the missed ones and next. Catchup runs
			// one per due time; without it the missed ones share one run.
			dues := tc.missed + 1
			wantRuns := dues
			if !tc.catchup {
				wantRuns = dues - (tc.missed - 1)
			}
			if len(runs) != wantRuns {
				t.Fatalf("%d runs for %d due times (catchup=%v), want %d: %s", len(runs), dues, tc.catchup, wantRuns, runStates(runs))
			}
			last := runs[len(runs)-1]
			// River releases scheduled jobs every few seconds; lateness is the bench's
			// concern, exactly-once is this test's.
			if last.CreatedAt.Before(next) || last.CreatedAt.After(next.Add(8*time.Second)) {
				t.Fatalf("the run due %s was created %s", next, last.CreatedAt)
			}
			if gap := last.CreatedAt.Sub(runs[len(runs)-2].CreatedAt); gap < 5*time.Second {
				t.Fatalf("run %d came %s after the previous one: a due time fired twice? %s", last.ID, gap, runStates(runs))
			}
		})
	}
}
