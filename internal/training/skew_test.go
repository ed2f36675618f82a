package training_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// A worker whose clock is behind the queue's (the database's clock on
// PostgreSQL; SQLite's scheduled_at rounded to the millisecond) is handed a
// firing before its due time by its own clock. The schedule must still fire
// and keep firing, not stall with no firing queued.
func TestScheduleFiresWhenTheWorkerClockLags(t *testing.T) {
	t.Parallel()
	// The lag starts after the schedule is written, as on a replica other than
	// the one that served the API request.
	var lag atomic.Int64
	n := startNode(t, storetest.DatabaseURL(t), nodeOptions{Now: func() time.Time { return time.Now().Add(-time.Duration(lag.Load())) }})
	c, ctx := n.Client, context.Background()
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "p", PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{sh("s", "true")},
	}}); err != nil {
		t.Fatal(err)
	}
	sc, err := c.CreateSchedule(ctx, "default", api.CreateScheduleRequest{Name: "s", ScheduleSpec: api.ScheduleSpec{Pipeline: "p", Interval: "10s"}})
	if err != nil {
		t.Fatal(err)
	}
	created := sc.CreatedAt
	lag.Store(int64(400 * time.Millisecond))
	// Two due times: created+10s and created+20s.
	until(t, created.Add(23*time.Second), "two firings", func() (bool, string) {
		runs := scheduleRuns(t, c, "p", "s")
		sc, _ := c.GetSchedule(ctx, "default", "s")
		return len(runs) == 2, runStates(runs) + " next_run_at " + sc.NextRunAt.String()
	})
}
