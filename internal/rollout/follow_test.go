package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// replica is one server's controller and gateway on the shared store.
type replica struct {
	c  *Controller
	gw *gateway.Gateway
}

func newReplica(t *testing.T, st store.Store, name string, now func() time.Time) *replica {
	gw := gateway.New(nil, gateway.Options{HealthInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(gw.Close)
	return &replica{c: New(Config{Store: st, Gateway: gw, Now: now, Replica: name}), gw: gw}
}

// predict sends n requests through the replica's gateway and counts the
// answers by status and version, e.g. "200 v2".
func (r *replica) predict(n int) map[string]int {
	got := map[string]int{}
	for range n {
		w := httptest.NewRecorder()
		r.gw.Serve(w, httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(`{}`)), "p/d", "/predict")
		got[fmt.Sprintf("%d v%s", w.Code, w.Header().Get(gateway.VersionHeader))]++
	}
	return got
}

func put(t *testing.T, st store.Store, k store.Key, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	o := &store.Object{Key: k, Data: raw}
	if err := st.Update(context.Background(), o, 0); err == nil {
		return
	}
	if err := st.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// Two servers share one database: one decides the rollout, the other only
// follows the stored status. The follower routes by the same weights,
// its traffic counts in the canary analysis, and it drops the deployment
// once it is deleted.
func TestReplicasFollowAndShareCanaryStatistics(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	// Version 1 answers; version 2 fails every request.
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/") && r.URL.Path != "/v2/healthz" {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(backend.Close)

	clock := time.Now()
	now := func() time.Time { return clock }
	leader, follower := newReplica(t, st, "a", now), newReplica(t, st, "b", now)

	put(t, st, store.Key{Kind: store.KindProject, Name: "p"}, api.Project{Name: "p"})
	for v := int64(1); v <= 2; v++ {
		put(t, st, store.ModelVersionKey("p", "m", v), api.ModelVersion{Version: v})
	}
	maxErr := 0.1
	minReq := int64(20)
	spec := api.Deployment{DeploymentSpec: api.DeploymentSpec{
		Model: "m", Version: 1, Runtime: api.DeploymentRuntime{URL: backend.URL + "/v{version}"},
		Strategy: &api.DeploymentStrategy{Type: "canary", Steps: []int{50}, StepInterval: "1m", MaxErrorRate: &maxErr, MinRequests: &minReq},
	}}
	put(t, st, store.DeploymentKey("p", "d"), spec)
	if _, err := leader.c.Reconcile(ctx, "p", "d"); err != nil {
		t.Fatal(err)
	}
	if err := follower.c.FollowOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := follower.predict(10); got["200 v1"] != 10 {
		t.Fatalf("follower's answers %v, want all from version 1", got)
	}

	// Version 2 becomes the canary at 50 %. All traffic goes through the
	// follower, so only its published statistics can fail the canary.
	spec.Version = 2
	put(t, st, store.DeploymentKey("p", "d"), spec)
	if _, err := leader.c.Reconcile(ctx, "p", "d"); err != nil {
		t.Fatal(err)
	}
	if err := follower.c.FollowOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := follower.predict(200)
	if got["200 v1"] < 60 || got["500 v2"] < 60 {
		t.Fatalf("follower's answers %v, want about half from each version", got)
	}
	if err := follower.c.FollowOnce(ctx); err != nil { // publishes
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute)
	if _, err := leader.c.Reconcile(ctx, "p", "d"); err != nil {
		t.Fatal(err)
	}
	status, err := leader.c.loadStatus(ctx, "p", "d")
	if err != nil {
		t.Fatal(err)
	}
	if status.Phase != api.PhaseRolledBack || !strings.Contains(status.Message, "error rate") {
		t.Fatalf("status %+v: want a rollback on the follower's errors", status)
	}
	if err := follower.c.FollowOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := follower.predict(20); got["200 v1"] != 20 {
		t.Fatalf("follower's answers after the rollback %v, want all from version 1", got)
	}

	// Deleting the deployment removes its route and published statistics.
	if err := st.InTx(ctx, func(tx store.Store) error {
		if err := tx.Delete(ctx, store.DeploymentKey("p", "d"), 0); err != nil {
			return err
		}
		return DeleteStats(ctx, tx, "p", "d")
	}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Second)
	if err := follower.c.FollowOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if h := follower.gw.Health("p/d"); h != nil {
		t.Errorf("follower still routes the deleted deployment: %v", h)
	}
	left, err := listAllUnder(ctx, st, store.KindGatewayStats, "p", "d")
	if err != nil || len(left) != 0 {
		t.Errorf("published statistics left after the deletion: %d, %v", len(left), err)
	}
}
