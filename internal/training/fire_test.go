package training

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// A firing job can be handed out a little before its due time by the engine's
// own clock: River on SQLite rounds scheduled_at to the millisecond (so up to
// 0.5 ms early), and on PostgreSQL it compares against the database's clock,
// which may run ahead of a replica's. Such a firing must still start its run
// and queue the next due time; before the fix it started nothing, re-queued
// the same due time (a no-op: that unique job already exists) and so left
// the schedule with no firing queued at all.
func TestFireDeliveredEarlyStillFires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	var clock time.Time
	e, err := New(ctx, Config{Store: st, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	p := api.Pipeline{Project: "default", Name: "p", Revision: 1, PipelineSpec: api.PipelineSpec{
		Steps: []api.Step{{Name: "s", Command: []string{"true"}}},
	}}
	sc := api.Schedule{Project: "default", Name: "s", ScheduleSpec: api.ScheduleSpec{
		Pipeline: "p", Interval: "10s", Timezone: "UTC", ConcurrencyPolicy: "forbid",
	}}
	so := &store.Object{Key: store.ScheduleKey("default", "s"), Data: mustJSON(sc)}
	clock = time.Now()
	if err := st.InTx(ctx, func(tx store.Store) error {
		for _, o := range []*store.Object{
			{Key: store.ProjectKey("default"), Data: []byte(`{"name":"default"}`)},
			{Key: store.PipelineKey("default", "p"), Data: mustJSON(p)},
			{Key: store.PipelineRevisionKey("default", "p", 1), Data: mustJSON(api.PipelineRevision{Pipeline: "p", Revision: 1, Steps: p.Steps})},
			so,
		} {
			if err := tx.Create(ctx, o); err != nil {
				return err
			}
		}
		return e.SyncSchedule(ctx, tx, "default", "s")
	}); err != nil {
		t.Fatal(err)
	}
	state, err := LoadScheduleState(ctx, st, "default", "s")
	if err != nil || state.NextFireAt == nil {
		t.Fatalf("no firing queued after create: %+v %v", state, err)
	}
	due := *state.NextFireAt

	// The queue hands the job out 300µs before due by our clock.
	clock = due.Add(-300 * time.Microsecond)
	if err := e.fire(ctx, fireArgs{Project: "default", Schedule: "s", Incarnation: so.CreatedAt.UnixMicro(), Due: due}); err != nil {
		t.Fatal(err)
	}
	runs, _, err := st.List(ctx, store.ListQuery{Kind: store.KindPipelineRun, Project: "default", Parent: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("a firing delivered 300µs early started %d runs, want 1", len(runs))
	}
	var r api.PipelineRun
	if err := json.Unmarshal(runs[0].Data, &r); err != nil || r.Trigger != "schedule:s" {
		t.Fatalf("run %+v %v", r, err)
	}
	state, _ = LoadScheduleState(ctx, st, "default", "s")
	if state.NextFireAt == nil || !state.NextFireAt.Equal(due.Add(10*time.Second)) {
		t.Fatalf("next firing %v, want %v (the schedule would stall)", state.NextFireAt, due.Add(10*time.Second))
	}
	var queued int
	if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'schedule_fire' AND json_extract(args, '$.due') = ?`,
		due.Add(10*time.Second).UTC().Format(time.RFC3339Nano)).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 1 {
		t.Fatalf("%d jobs queued for the next due time, want 1", queued)
	}
}
