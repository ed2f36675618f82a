package training_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/training"
)

// benchEnv reads a positive number from the environment, or def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// BenchmarkScheduler measures how fast one engine on SQLite fires schedules
// that all fall due within the same second, and how late: each of
// MLOPS_BENCH_SCHEDULES (default 10000) schedules has its own pipeline and is
// due once in that second. The engine has no executor, so its runs fail at
// once: what is measured is firing (one transaction that starts a run and
// queues the next firing), not execution. The poll interval is mlopsd's (1s)
// unless MLOPS_BENCH_POLL_MS says otherwise.
//
// The schedules queue polls every 200ms (less if the poll interval is less)
// and fetches at most as many firings as it has workers (32) per 20ms
// cooldown (1600/s), well above the rate at which SQLite fires them.
//
// Reported: fires/s (schedules fired per second from the first due time to
// the last run created) and lateness_p50_ms / lateness_p99_ms / lateness_max_ms
// (a run's created_at minus its due time). ns/op is the time from the first
// due time until every schedule has fired.
func BenchmarkScheduler(b *testing.B) {
	n := benchEnv(b, "MLOPS_BENCH_SCHEDULES", 10000)
	poll := time.Duration(benchEnv(b, "MLOPS_BENCH_POLL_MS", 1000)) * time.Millisecond
	for range b.N {
		b.StopTimer()
		benchFireOnce(b, n, poll)
	}
}

func benchFireOnce(b *testing.B, n int, poll time.Duration) {
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

	name := func(i int) string { return fmt.Sprintf("b-%05d", i) }
	const batch = 500
	inBatches := func(fn func(tx store.Store, i int) error) {
		for lo := 0; lo < n; lo += batch {
			if err := st.InTx(ctx, func(tx store.Store) error {
				for i := lo; i < min(lo+batch, n); i++ {
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
	mustCreate := func(tx store.Store, k store.Key, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Create(ctx, &store.Object{Key: k, Data: data})
	}

	setup := time.Now()
	if err := mustCreate(st, store.ProjectKey("default"), api.Project{Name: "default"}); err != nil {
		b.Fatal(err)
	}
	steps := []api.Step{{Name: "s", Command: []string{"true"}}}
	inBatches(func(tx store.Store, i int) error {
		if err := mustCreate(tx, store.PipelineKey("default", name(i)),
			api.Pipeline{Project: "default", Name: name(i), Revision: 1, PipelineSpec: api.PipelineSpec{Steps: steps}}); err != nil {
			return err
		}
		return mustCreate(tx, store.PipelineRevisionKey("default", name(i), 1), api.PipelineRevision{Pipeline: name(i), Revision: 1, Steps: steps})
	})
	// Writing a schedule (with its firing job) takes about 1ms here; all fall
	// due, spread evenly, in the second starting at t0, once written.
	t0 := time.Now().Add(2*time.Second + time.Duration(n)*5*time.Millisecond/2).Truncate(time.Second)
	due := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second / time.Duration(n)) }
	inBatches(func(tx store.Store, i int) error {
		start := due(i)
		sc := api.Schedule{Project: "default", Name: name(i), ScheduleSpec: api.ScheduleSpec{
			Pipeline: name(i), Interval: "1h", StartAt: &start, Timezone: "UTC", ConcurrencyPolicy: "forbid",
		}}
		if err := mustCreate(tx, store.ScheduleKey("default", name(i)), sc); err != nil {
			return err
		}
		return engine.SyncSchedule(ctx, tx, "default", name(i))
	})
	if time.Now().After(t0) {
		b.Fatalf("writing %d schedules took %s, past their due time", n, time.Since(setup))
	}
	b.Logf("%d schedules written in %s; due from %s", n, time.Since(setup).Round(time.Millisecond), t0.Format("15:04:05"))

	sleepUntil(t0)
	late, end := awaitFirings(ctx, b, st, n, "b-", due, 100*time.Millisecond)
	b.ReportMetric(float64(n)/end.Sub(t0).Seconds(), "fires/s")
	b.ReportMetric(millis(late[n/2]), "lateness_p50_ms")
	b.ReportMetric(millis(late[n*99/100]), "lateness_p99_ms")
	b.ReportMetric(millis(late[n-1]), "lateness_max_ms")
}

// awaitFirings times (with b's timer) how long the n schedules named
// prefix+i take to each start one run, and returns how late each run was
// created against due(i), sorted, and when the last one was. A schedule that
// fired twice, or a minute without progress, fails the benchmark.
func awaitFirings(ctx context.Context, b *testing.B, st *sqlstore.Store, n int, prefix string, due func(int) time.Time, poll time.Duration) ([]time.Duration, time.Time) {
	b.Helper()
	count := func() int {
		var c int
		if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM objects WHERE kind = ?`, string(store.KindPipelineRun)).Scan(&c); err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.StartTimer()
	last, progressed := 0, time.Now()
	for {
		c := count()
		if c >= n {
			break
		}
		if c > last {
			last, progressed = c, time.Now()
		}
		if time.Since(progressed) > time.Minute {
			b.Fatalf("%d of %d schedules fired; none for a minute", c, n)
		}
		time.Sleep(poll)
	}
	b.StopTimer()

	rows, err := st.DB().QueryContext(ctx, `SELECT parent, created_at FROM objects WHERE kind = ?`, string(store.KindPipelineRun))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	late := make([]time.Duration, 0, n)
	seen := make(map[string]bool, n)
	var end time.Time
	for rows.Next() {
		var parent string
		var micros int64
		if err := rows.Scan(&parent, &micros); err != nil {
			b.Fatal(err)
		}
		i, err := strconv.Atoi(strings.TrimPrefix(parent, prefix))
		if err != nil || seen[parent] {
			b.Fatalf("unexpected run of %q (fired twice?)", parent)
		}
		seen[parent] = true
		created := time.UnixMicro(micros)
		late = append(late, created.Sub(due(i)))
		if created.After(end) {
			end = created
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if len(late) != n {
		b.Fatalf("%d runs for %d schedules", len(late), n)
	}
	slices.Sort(late)
	return late, end
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
