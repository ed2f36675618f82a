package training_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// slowSchedule creates a pipeline named after the policy whose only step
// outlasts two intervals of its 10s schedule (named after the policy too), and
// returns the schedule's creation time: due times are created+10s, +20s, ...
func slowSchedule(t *testing.T, c *client.Client, policy string) time.Time {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: policy, PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{sh("wait", "sleep 25")},
	}}); err != nil {
		t.Fatal(err)
	}
	sc, err := c.CreateSchedule(ctx, "default", api.CreateScheduleRequest{Name: policy, ScheduleSpec: api.ScheduleSpec{
		Pipeline: policy, Interval: "10s", ConcurrencyPolicy: policy,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sc.ConcurrencyPolicy != policy {
		t.Fatalf("concurrency_policy = %q, want %q", sc.ConcurrencyPolicy, policy)
	}
	return sc.CreatedAt
}

// waitFirstRunRunning waits for the first due time's run to start executing.
func waitFirstRunRunning(t *testing.T, c *client.Client, policy string, created time.Time) {
	t.Helper()
	until(t, created.Add(16*time.Second), "first scheduled run running", func() (bool, string) {
		runs := scheduleRuns(t, c, policy, policy)
		return len(runs) == 1 && runs[0].State == api.RunRunning, runStates(runs)
	})
}

// One server holds a schedule of each policy, so that their timelines (runs
// due at +10s and +20s, each sleeping 25s) run side by side; the subtests
// check each one's outcome at the second due time.
func TestConcurrencyPolicies(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	created := map[string]time.Time{}
	for _, policy := range []string{"forbid", "replace", "allow"} {
		created[policy] = slowSchedule(t, c, policy)
	}
	for policy, at := range created {
		waitFirstRunRunning(t, c, policy, at)
	}

	// forbid: the second due time starts nothing while the first run runs,
	// and the schedule says why.
	t.Run("forbid", func(t *testing.T) {
		created := created["forbid"]
		due2 := created.Add(20 * time.Second)
		var sc *api.Schedule
		until(t, created.Add(26*time.Second), "the second due time recorded as skipped", func() (bool, string) {
			var err error
			sc, err = c.GetSchedule(ctx, "default", "forbid")
			if err != nil {
				t.Fatal(err)
			}
			return sc.LastSkip != "", "last_skip empty"
		})
		for _, want := range []string{"forbid", "run 1", due2.UTC().Truncate(time.Second).Format(time.RFC3339)} {
			if !strings.Contains(sc.LastSkip, want) {
				t.Errorf("last_skip %q does not mention %q", sc.LastSkip, want)
			}
		}
		if sc.LastRunID != 1 || sc.LastRunState != api.RunRunning {
			t.Errorf("last run %d %s, want run 1 still running", sc.LastRunID, sc.LastRunState)
		}
		runs := scheduleRuns(t, c, "forbid", "forbid")
		if len(runs) != 1 || runs[0].State != api.RunRunning {
			t.Fatalf("after a forbidden firing: %s; want only run 1, still running", runStates(runs))
		}
	})

	// replace: the second due time cancels the running run and starts another.
	t.Run("replace", func(t *testing.T) {
		created := created["replace"]
		until(t, created.Add(27*time.Second), "run 1 cancelled and run 2 running", func() (bool, string) {
			runs := scheduleRuns(t, c, "replace", "replace")
			return len(runs) == 2 && runs[0].State == api.RunCancelled && runs[1].State == api.RunRunning, runStates(runs)
		})
		runs := scheduleRuns(t, c, "replace", "replace")
		if due2 := created.Add(20 * time.Second); runs[1].CreatedAt.Before(due2) {
			t.Fatalf("run 2 created %s, before the second due time %s", runs[1].CreatedAt, due2)
		}
		if runs[0].FinishedAt == nil || runs[0].FinishedAt.Sub(runs[1].CreatedAt) > 5*time.Second {
			t.Fatalf("run 1 finished %v; want within seconds of run 2's start %s", runs[0].FinishedAt, runs[1].CreatedAt)
		}
		if st := stepState(&runs[0], "wait").State; st != "cancelled" {
			t.Fatalf("run 1's step ended %q, want cancelled", st)
		}
		sc, _ := c.GetSchedule(ctx, "default", "replace")
		if sc.LastRunID != 2 || sc.LastSkip != "" {
			t.Fatalf("schedule after replace: last run %d, last_skip %q", sc.LastRunID, sc.LastSkip)
		}
	})

	// allow: the second due time starts a second run beside the first.
	t.Run("allow", func(t *testing.T) {
		created := created["allow"]
		until(t, created.Add(27*time.Second), "two runs running at once", func() (bool, string) {
			runs := scheduleRuns(t, c, "allow", "allow")
			return len(runs) == 2 && runs[0].State == api.RunRunning && runs[1].State == api.RunRunning, runStates(runs)
		})
	})
}
