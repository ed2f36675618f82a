package training

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// fireJobs lists the firing jobs, by due time.
func fireJobs(t *testing.T, e *Engine) map[time.Time]*rivertype.JobRow {
	t.Helper()
	res, err := e.river.JobList(context.Background(), river.NewJobListParams().Kinds(fireArgs{}.Kind()).First(1000))
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[time.Time]*rivertype.JobRow{}
	for _, j := range res.Jobs {
		var a fireArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		jobs[a.Due.UTC()] = j
	}
	return jobs
}

// promote makes a firing due within promoteLookahead available and leaves a
// later one scheduled. The engine is not started: River's scheduler does not run.
func TestPromoteMakesDueFiringsAvailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	e, err := New(ctx, Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	soon, later := now.Add(promoteLookahead/2), now.Add(time.Hour)
	if err := st.InTx(ctx, func(tx store.Store) error {
		for _, due := range []time.Time{soon, later} {
			if err := e.enqueueFire(ctx, tx, "default", "s", now, due); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.promote(ctx); err != nil {
		t.Fatal(err)
	}
	jobs := fireJobs(t, e)
	if j := jobs[soon]; j == nil || j.State != rivertype.JobStateAvailable {
		t.Errorf("the firing due in %s: %+v, want available", promoteLookahead/2, j)
	}
	if j := jobs[later]; j == nil || j.State != rivertype.JobStateScheduled {
		t.Errorf("the firing due in an hour: %+v, want still scheduled", j)
	}
}

// Firings enqueued shortly before their due time start within a fraction of
// a second of it. River's own scheduler alone would leave the worst of them
// at least 3s late: it releases scheduled jobs every 5s, and these firings are
// enqueued 0.8s apart, each 1s before it is due, so one of them is enqueued
// just after a tick and waits for the next.
func TestFiringsDoNotWaitForRiversScheduler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, storetest.DatabaseURL(t), true)
	if err != nil {
		t.Fatal(err)
	}
	storetest.LimitConnections(st)
	t.Cleanup(func() { _ = st.Close() })
	e, err := New(ctx, Config{Store: st, Work: true, PollInterval: 100 * time.Millisecond, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Stop(sctx)
	})
	if err := st.Create(ctx, &store.Object{Key: store.ProjectKey("default"), Data: []byte(`{"name":"default"}`)}); err != nil {
		t.Fatal(err)
	}

	const n = 6
	steps := []api.Step{{Name: "s", Command: []string{"true"}}}
	dues := make([]time.Time, n)
	begin := time.Now()
	for i := range n {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * 800 * time.Millisecond)))
		name := fmt.Sprintf("s%d", i)
		dues[i] = time.Now().Add(time.Second).UTC().Truncate(time.Millisecond)
		sc := api.Schedule{Project: "default", Name: name, ScheduleSpec: api.ScheduleSpec{
			Pipeline: name, Interval: "1h", StartAt: &dues[i], Timezone: "UTC", ConcurrencyPolicy: "allow",
		}}
		if err := st.InTx(ctx, func(tx store.Store) error {
			for _, o := range []*store.Object{
				{Key: store.PipelineKey("default", name), Data: mustJSON(api.Pipeline{Project: "default", Name: name, Revision: 1, PipelineSpec: api.PipelineSpec{Steps: steps}})},
				{Key: store.PipelineRevisionKey("default", name, 1), Data: mustJSON(api.PipelineRevision{Pipeline: name, Revision: 1, Steps: steps})},
				{Key: store.ScheduleKey("default", name), Data: mustJSON(sc)},
			} {
				if err := tx.Create(ctx, o); err != nil {
					return err
				}
			}
			return e.SyncSchedule(ctx, tx, "default", name)
		}); err != nil {
			t.Fatal(err)
		}
	}

	var late []time.Duration
	for deadline := dues[n-1].Add(15 * time.Second); ; {
		jobs := fireJobs(t, e)
		late = late[:0]
		for _, due := range dues {
			if j := jobs[due]; j != nil && j.AttemptedAt != nil {
				late = append(late, j.AttemptedAt.Sub(j.ScheduledAt))
			}
		}
		if len(late) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d firings started by %s", len(late), n, deadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("firings started after their due time by %v", late)
	// Typically under 0.3s; the margin is for a loaded machine.
	for i, d := range late {
		if d > 2*time.Second {
			t.Errorf("the firing of s%d started %s after its due time, as if waiting for River's 5s scheduler", i, d)
		}
	}
}
