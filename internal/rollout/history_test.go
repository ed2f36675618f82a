package rollout

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// The status keeps the rollout's events (phase, versions, weight) with it,
// newest MaxEvents, in the document the API reads its status from.
func TestStatusKeepsRolloutEvents(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(Config{Store: st, Now: func() time.Time { return now }})
	if err := st.Create(ctx, &store.Object{Key: store.DeploymentKey("default", "d"), Data: []byte(`{"model":"m"}`)}); err != nil {
		t.Fatal(err)
	}
	save := func(s api.DeploymentStatus) {
		t.Helper()
		now = now.Add(time.Minute)
		if err := c.saveStatus(ctx, "default", "d", s); err != nil {
			t.Fatal(err)
		}
	}
	save(api.DeploymentStatus{Phase: api.PhaseProgressing, TargetVersion: 1})
	save(api.DeploymentStatus{Phase: api.PhaseHealthy, TargetVersion: 1, StableVersion: 1, ObservedGeneration: 1})
	save(api.DeploymentStatus{Phase: api.PhaseHealthy, TargetVersion: 1, StableVersion: 1, ObservedGeneration: 2}) // no event
	save(api.DeploymentStatus{Phase: api.PhaseProgressing, TargetVersion: 2, StableVersion: 1, CanaryVersion: 2, CanaryWeight: 10, Message: "waiting (0 of 20)"})
	save(api.DeploymentStatus{Phase: api.PhaseProgressing, TargetVersion: 2, StableVersion: 1, CanaryVersion: 2, CanaryWeight: 10, Message: "waiting (5 of 20)"}) // no event
	save(api.DeploymentStatus{Phase: api.PhaseRolledBack, TargetVersion: 2, StableVersion: 1, Message: "error rate 0.5"})

	status, events, err := ReadStatus(ctx, st, "default", "d")
	if err != nil {
		t.Fatal(err)
	}
	if status.Phase != api.PhaseRolledBack || status.Message != "error rate 0.5" {
		t.Fatalf("status %+v", status)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s %s s%d c%d@%d %s", e.Time.Format("15:04"), e.Phase, e.StableVersion, e.CanaryVersion, e.CanaryWeight, e.Message))
	}
	want := []string{
		"00:01 progressing s0 c0@0 ",
		"00:02 healthy s1 c0@0 ",
		"00:04 progressing s1 c2@10 waiting (0 of 20)",
		"00:06 rolled_back s1 c0@0 error rate 0.5",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
	// What the controller and the API read is the status alone.
	loaded, err := c.loadStatus(ctx, "default", "d")
	if err != nil || loaded != status {
		t.Fatalf("loadStatus %+v %v, want %+v", loaded, err, status)
	}

	for i := range MaxEvents + 10 {
		save(api.DeploymentStatus{Phase: api.PhaseProgressing, CanaryVersion: 3, CanaryWeight: i % 2})
	}
	if _, events, _ = ReadStatus(ctx, st, "default", "d"); len(events) != MaxEvents || events[len(events)-1].CanaryWeight != (MaxEvents+9)%2 {
		t.Fatalf("%d events kept, want the newest %d", len(events), MaxEvents)
	}
	if _, events, _ := ReadStatus(ctx, st, "default", "none"); events != nil {
		t.Fatal("events for a deployment never reconciled")
	}
}
