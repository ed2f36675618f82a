package training_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/training"
)

// BenchmarkSchedulerMinute is the steady-load counterpart of
// BenchmarkScheduler: MLOPS_BENCH_SCHEDULES (default 10000) schedules, each
// with its own pipeline, fall due once, spread evenly over one minute
// (MLOPS_BENCH_SPREAD_S, default 60), on one engine on SQLite with mlopsd's
// default settings (MLOPS_BENCH_POLL_MS overrides the poll interval). An
// engine that keeps up fires each schedule right when it is due; one that
// does not falls further behind as the minute goes on. As in
// BenchmarkScheduler the engine has no executor: firing is measured, not
// execution.
//
// Reported: fires/s (schedules fired per second from the first due time to
// the last run created), offered/s (schedules falling due per second),
// keepup-ratio (fires/s ÷ offered/s: 1 keeps up) and lateness_p50_ms /
// lateness_p99_ms / lateness_max_ms (a run's created_at minus its due time).
func BenchmarkSchedulerMinute(b *testing.B) {
	n := benchEnv(b, "MLOPS_BENCH_SCHEDULES", 10000)
	spread := time.Duration(benchEnv(b, "MLOPS_BENCH_SPREAD_S", 60)) * time.Second
	var poll time.Duration // mlopsd's default
	if v := benchEnv(b, "MLOPS_BENCH_POLL_MS", -1); v > 0 {
		poll = time.Duration(v) * time.Millisecond
	}
	for range b.N {
		b.StopTimer()
		benchFireSpread(b, n, spread, poll)
	}
}

// benchFireSpread writes n schedules due evenly over spread, starts firing
// them and reports how fast and how late they fired.
func benchFireSpread(b *testing.B, n int, spread, poll time.Duration) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(dir, "mlops.db"), true)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	engine, err := training.New(ctx, training.Config{
		Store: st, Logger: slog.New(slog.DiscardHandler), Work: true, DataDir: filepath.Join(dir, "runs"), PollInterval: poll,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = engine.Stop(sctx)
	}()

	name := func(i int) string { return fmt.Sprintf("m-%05d", i) }
	const batch = 500
	inBatches := func(from, to int, fn func(tx store.Store, i int) error) {
		for lo := from; lo < to; lo += batch {
			if err := st.InTx(ctx, func(tx store.Store) error {
				for i := lo; i < min(lo+batch, to); i++ {
					if err := fn(tx, i); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	put := func(tx store.Store, k store.Key, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Create(ctx, &store.Object{Key: k, Data: data})
	}

	// k more schedules, due only the next day, time how long writing one
	// takes, so that the measured ones can all be written before the first
	// falls due: on a busy machine that can take several times as long.
	k := max(n/20, 50)
	setup := time.Now()
	if err := put(st, store.ProjectKey("default"), api.Project{Name: "default"}); err != nil {
		b.Fatal(err)
	}
	steps := []api.Step{{Name: "s", Command: []string{"true"}}}
	inBatches(0, n+k, func(tx store.Store, i int) error {
		if err := put(tx, store.PipelineKey("default", name(i)),
			api.Pipeline{Project: "default", Name: name(i), Revision: 1, PipelineSpec: api.PipelineSpec{Steps: steps}}); err != nil {
			return err
		}
		return put(tx, store.PipelineRevisionKey("default", name(i), 1), api.PipelineRevision{Pipeline: name(i), Revision: 1, Steps: steps})
	})
	schedule := func(i int, start time.Time) func(tx store.Store) error {
		return func(tx store.Store) error {
			sc := api.Schedule{Project: "default", Name: name(i), ScheduleSpec: api.ScheduleSpec{
				Pipeline: name(i), Interval: "24h", StartAt: &start, Timezone: "UTC", ConcurrencyPolicy: "forbid",
			}}
			if err := put(tx, store.ScheduleKey("default", name(i)), sc); err != nil {
				return err
			}
			return engine.SyncSchedule(ctx, tx, "default", name(i))
		}
	}
	calibrate := time.Now()
	inBatches(n, n+k, func(tx store.Store, i int) error { return schedule(i, calibrate.Add(24*time.Hour))(tx) })
	perSchedule := time.Since(calibrate) / time.Duration(k)
	t0 := time.Now().Add(2*time.Second + 2*time.Duration(n)*perSchedule).Truncate(time.Second).Add(time.Second)
	due := func(i int) time.Time { return t0.Add(time.Duration(i) * spread / time.Duration(n)) }
	inBatches(0, n, func(tx store.Store, i int) error { return schedule(i, due(i))(tx) })
	if time.Now().After(t0) {
		b.Fatalf("writing %d schedules took %s, past their first due time", n, time.Since(setup))
	}
	b.Logf("%d schedules written in %s; due from %s over %s", n, time.Since(setup).Round(time.Millisecond), t0.Format("15:04:05"), spread)

	time.Sleep(time.Until(t0))
	late, end := awaitFirings(ctx, b, st, n, "m-", due, 200*time.Millisecond)
	// The span is at least the spread: firing cannot be early.
	fires := float64(n) / max(end.Sub(t0), spread).Seconds()
	offered := float64(n) / spread.Seconds()
	b.ReportMetric(float64(n), "schedules")
	b.ReportMetric(spread.Seconds(), "spread-s")
	b.ReportMetric(fires, "fires/s")
	b.ReportMetric(offered, "offered/s")
	b.ReportMetric(fires/offered, "keepup-ratio")
	b.ReportMetric(millis(late[n/2]), "lateness_p50_ms")
	b.ReportMetric(millis(late[n*99/100]), "lateness_p99_ms")
	b.ReportMetric(millis(late[n-1]), "lateness_max_ms")
}
