package training_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to read River's tables

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// Two `mlopsd serve` replicas on one PostgreSQL fire each due time of 100
// schedules exactly once between them, and when one is killed with SIGKILL the
// other fires the following due times alone, none lost and none doubled.
//
// The killed replica is the one that is not River's leader. (Killing the
// leader works too: every replica makes due jobs available itself, see
// promoteLoop in engine.go, rather than waiting about 15s for River's
// leadership to expire and its scheduler to resume.)
func TestReplicasFireEachDueTimeOnce(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t) // skips without MLOPS_TEST_POSTGRES_URL
	bin := buildMlopsd(t)
	const admin = "replicas-admin-token-0123456789"
	dir := t.TempDir()
	serve := func(name string) *mlopsd {
		return startMlopsd(t, bin, []string{"MLOPSD_ADMIN_TOKEN=" + admin}, "--database", dbURL, "--role", "all",
			"--executor", "local", "--data-dir", filepath.Join(dir, name), "--data-root", dir)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	leader := func() string {
		var id string
		if err := db.QueryRow(`SELECT leader_id FROM river_leader`).Scan(&id); err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return id
	}

	// A starts alone (and migrates alone) and becomes River's leader.
	a := serve("a")
	until(t, time.Now().Add(15*time.Second), "replica a elected leader", func() (bool, string) { return leader() != "", "no leader" })
	idA := leader()
	b := serve("b")
	replicas := map[string]*mlopsd{"a": a, "b": b}

	ctx := context.Background()
	ca := a.client(t, admin)
	const n = 100
	name := func(i int) string { return fmt.Sprintf("rep-%03d", i) }
	pipelinesFrom := time.Now()
	for i := range n {
		if _, err := ca.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: name(i), PipelineSpec: api.PipelineSpec{
			Steps: []api.Step{sh("s", "true")},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	// start_at spreads the due times of the schedules over 2s (longer than
	// the replicas' 1s poll, so that both take firings): schedule i is due at
	// t0+i*20ms, then every 10s.
	// Creating the schedules must end before the first due time: leave
	// 10s, or three times what creating the pipelines took on a loaded machine.
	leadTime := max(10*time.Second, 3*time.Since(pipelinesFrom))
	t0 := time.Now().Add(leadTime).UTC().Truncate(time.Second)
	starts := make([]time.Time, n)
	created := make([]time.Time, n)
	for i := range n {
		starts[i] = t0.Add(time.Duration(i) * 20 * time.Millisecond)
		sc, err := ca.CreateSchedule(ctx, "default", api.CreateScheduleRequest{Name: name(i), ScheduleSpec: api.ScheduleSpec{
			Pipeline: name(i), Interval: "10s", StartAt: &starts[i], ConcurrencyPolicy: "allow",
		}})
		if err != nil {
			t.Fatal(err)
		}
		created[i] = sc.CreatedAt
	}
	if last := created[n-1]; !last.Before(t0) {
		t.Fatalf("creating the schedules took until %s, past the first due time %s", last, t0)
	}
	lastDue := func(round int) time.Time { return starts[n-1].Add(time.Duration(round) * 10 * time.Second) }
	// finished waits until every firing of the rounds up to round has completed.
	finished := func(round int, deadline time.Time) {
		until(t, deadline, fmt.Sprintf("firings of rounds 0-%d finished", round), func() (bool, string) {
			var unfinished int
			if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'schedule_fire'
				AND scheduled_at <= $1 AND state <> 'completed'`, lastDue(round)).Scan(&unfinished); err != nil {
				t.Fatal(err)
			}
			return unfinished == 0, fmt.Sprintf("%d unfinished", unfinished)
		})
	}

	// Rounds 0 and 1 fire on both replicas; in the quiet time after round 1
	// (once every firing of rounds 0 and 1 has finished: under load that can
	// take seconds) the replica that is not the leader dies. A replica killed
	// mid-firing leaves that job to River's stuck-job rescue, minutes later,
	// which this test does not wait for.
	sleepUntil(lastDue(1).Add(time.Second))
	finished(1, t0.Add(19*time.Second))
	lead := leader()
	victim, survivor := "b", "a"
	if lead != idA {
		victim, survivor = "a", "b"
	}
	killedAt := time.Now()
	replicas[victim].Kill()
	t.Logf("killed replica %s (not the leader) at %s", victim, killedAt.Format("15:04:05.000"))
	cs := replicas[survivor].client(t, admin)

	// Round 2 fires on the survivor alone; in the quiet time after it every
	// schedule is paused.
	sleepUntil(lastDue(2).Add(time.Second))
	finished(2, t0.Add(27*time.Second))
	// Paused from 8 goroutines: one by one takes seconds under load.
	paused := make([]time.Time, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sc, err := cs.UpdateSchedule(ctx, "default", name(i), api.ScheduleSpec{
				Pipeline: name(i), Interval: "10s", StartAt: &starts[i], ConcurrencyPolicy: "allow", Paused: true,
			}, 0)
			if err != nil {
				errs[i] = err
				return
			}
			paused[i] = sc.UpdatedAt
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	lastPaused := slices.MaxFunc(paused, func(a, b time.Time) int { return a.Compare(b) })
	if next := t0.Add(30 * time.Second); !lastPaused.Before(next) {
		t.Fatalf("pausing took until %s, past the next due time %s", lastPaused, next)
	}

	// Every due time between creation and pause fired exactly once, on time.
	for i := range n {
		var dues []time.Time
		for d := starts[i]; !d.After(paused[i]); d = d.Add(10 * time.Second) {
			if d.After(created[i]) {
				dues = append(dues, d)
			}
		}
		runs := scheduleRuns(t, cs, name(i), name(i))
		if len(runs) != len(dues) {
			t.Errorf("schedule %s: %d runs for %d due times %v: %s", name(i), len(runs), len(dues), dues, runStates(runs))
			continue
		}
		for k, r := range runs {
			if late := r.CreatedAt.Sub(dues[k]); late < 0 || late > 5*time.Second {
				t.Errorf("schedule %s: run %d created %s for the due time %s", name(i), r.ID, r.CreatedAt, dues[k])
			}
		}
	}

	// Both replicas took firings before the kill; only the survivor after it.
	rows, err := db.Query(`SELECT scheduled_at, state, array_to_string(attempted_by, ' ') FROM river_job
		WHERE kind = 'schedule_fire' AND scheduled_at <= $1`, lastDue(2))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	before, after := map[string]int{}, map[string]int{}
	for rows.Next() {
		var at time.Time
		var state, by string
		if err := rows.Scan(&at, &state, &by); err != nil {
			t.Fatal(err)
		}
		if state != "completed" || by == "" {
			t.Errorf("firing due %s is %s (attempted by %s)", at, state, by)
		}
		for _, id := range strings.Fields(by) {
			if at.Before(killedAt) {
				before[id]++
			} else {
				after[id]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("firings worked per replica: before the kill %v, after %v", before, after)
	if len(before) != 2 {
		t.Errorf("before the kill %d replica(s) worked firings, want both: %v", len(before), before)
	}
	if len(after) != 1 || after[lead] != n {
		t.Errorf("after the kill firings were worked by %v, want the survivor %s alone, %d times", after, lead, n)
	}
}
