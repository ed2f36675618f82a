package chaos_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// The replicas scenario's timings. A run whose worker was SIGKILLed is taken
// over once its heartbeat is older than 30s: every worker sweeps for such
// runs every 10s (internal/training/rescue.go) and the next worker executes
// the run afresh from its first step. takeoverBound is that plus the
// re-execution, with room for a loaded machine (seen: 38s).
const (
	replicaStepSleep    = 2 * time.Second  // each of the pipeline's three steps
	replicaRuns         = 10               // manual runs, started round-robin through the replicas
	scheduleInterval    = api.MinInterval  // 10s, the shortest a schedule may fire at
	canaryStepInterval  = 10 * time.Second // long enough that the kill lands in the canary's first step
	canaryMinRequests   = 20
	takeoverBound       = 90 * time.Second      // heartbeat staleness + a sweep + re-execution, and slack
	promotionBound      = 90 * time.Second      // after the kill
	followConvergence   = 5 * time.Second       // every replica serves a new deployment within this (it re-reads every 1s)
	routeLag            = 2 * time.Second       // after a status change, every replica routes by it within this
	scheduleLateBound   = 5 * time.Second       // a firing's run is created at most this long after its due time
	replicaPredictEvery = 70 * time.Millisecond // per replica, ~14 predictions/s
)

var replicaNames = []string{"a", "b", "c"}

// TestReplicas runs three `mlopsd serve` processes on one PostgreSQL schema
// and checks that they behave as one service, and that SIGKILLing one of them
// mid-work hands its work to the others:
//   - API: objects written through one replica read back through the others
//     with the same generation and ETag; a stale If-Match is refused whichever
//     replica took the first write; a token made through one works on all.
//   - Runs: 10 runs of a three-step pipeline started through different
//     replicas while the one that started a canary rollout is killed holding
//     runs; every run succeeds, every step is executed once by one live
//     replica, plus at most once by the killed one before the kill (a run taken
//     over starts afresh, as documented).
//   - Schedules: an interval schedule (10s) fires every due time once across
//     the kill: no due time twice, no gap the kill does not explain.
//   - Rollouts: a canary from version 1 to 2 (two in-test backends) with
//     predictions through every live replica: all succeed, each replica serves
//     the canary's weights, the canary promotes although its starter was
//     killed, and the rollout's history shows every step once, each after a
//     full bake time.
func TestReplicas(t *testing.T) {
	enabled(t)
	for _, db := range databases {
		if db.name != "postgres" {
			continue // replicas share one database: SQLite is one process's file
		}
		t.Run(db.name, func(t *testing.T) {
			if os.Getenv(storetest.PostgresURLEnv) == "" {
				t.Skipf("three mlopsd replicas need one PostgreSQL database: set %s (e.g. postgres://postgres@127.0.0.1:5432/test)", storetest.PostgresURLEnv)
			}
			replicas(t, db)
		})
	}
}

// replicaSet is three mlopsd processes on one database, with one admin token.
type replicaSet struct {
	srvs    []*server
	clients []*client.Client
	dirs    []string // each replica's directory (its --data-dir is below it)

	mu       sync.Mutex
	victim   int // -1 until one is killed
	killedAt time.Time
}

func (rs *replicaSet) alive(i int) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return i != rs.victim
}

// live returns the indexes of the replicas not killed.
func (rs *replicaSet) live() []int {
	var out []int
	for i := range rs.srvs {
		if rs.alive(i) {
			out = append(out, i)
		}
	}
	return out
}

// any returns a client of a live replica, rotating.
func (rs *replicaSet) any(n int) *client.Client {
	l := rs.live()
	return rs.clients[l[n%len(l)]]
}

func (rs *replicaSet) kill(i int) time.Time {
	rs.mu.Lock()
	rs.victim, rs.killedAt = i, time.Now()
	at := rs.killedAt
	rs.mu.Unlock()
	rs.srvs[i].Kill()
	return at
}

func (rs *replicaSet) killed() (int, time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.victim, rs.killedAt
}

// replicaOf says which replica a step's working directory belongs to.
func (rs *replicaSet) replicaOf(dir string) int {
	for i, d := range rs.dirs {
		if strings.HasPrefix(dir, d+string(filepath.Separator)) {
			return i
		}
	}
	return -1
}

func replicas(t *testing.T, db database) {
	const p = api.DefaultProject
	scenario := "replicas/" + db.name
	start := time.Now()
	ctx := context.Background()
	url := db.url(t) // one throwaway schema for all three
	token := "chaos-replicas-" + randomHex(16)
	work := t.TempDir()
	rs := &replicaSet{victim: -1}
	for range replicaNames {
		// One after another: the first migrates and creates the token, the
		// others find both there.
		s := startServer(t, serverOptions{database: url, token: token, dataRoot: work, env: unlimited})
		rs.srvs = append(rs.srvs, s)
		rs.clients = append(rs.clients, s.Client(t, 3, nil))
		d, err := filepath.EvalSymlinks(filepath.Dir(s.LogPath))
		if err != nil {
			t.Fatal(err)
		}
		rs.dirs = append(rs.dirs, d)
	}
	st, err := sqlstore.Open(ctx, url, false) // to read what the API does not show (rollout history, River's jobs)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var v violations

	// Part 2's pipeline: three steps of replicaStepSleep in a chain, each recording
	// its run, step, working directory (so the replica) and start time.
	execLog := filepath.Join(work, "executions.log")
	steps := []string{"prepare", "fit", "evaluate"}
	var spec api.PipelineSpec
	for i, name := range steps {
		script := fmt.Sprintf(`printf '%%s %%s %%s %%s\n' "$MLOPS_RUN_ID" %s "$(pwd -P)" "$(date +%%s.%%N)" >> '%s'; sleep %d; echo %s done`,
			name, execLog, int(replicaStepSleep/time.Second), name)
		s := api.Step{Name: name, Command: []string{"sh", "-c", script}}
		if i > 0 {
			s.DependsOn = []string{steps[i-1]}
		}
		spec.Steps = append(spec.Steps, s)
	}
	if _, err := rs.clients[1].CreatePipeline(ctx, p, api.CreatePipelineRequest{Name: "train", PipelineSpec: spec}); err != nil {
		t.Fatal(err)
	}

	// Part 3's schedule, first so that it fires before the kill too: every
	// 10s from a whole second, concurrency allowed so that firings do not
	// depend on how long runs take (or are held).
	scheduleStart := time.Now().Add(2 * time.Second).Truncate(time.Second).UTC()
	if _, err := rs.clients[2].CreateSchedule(ctx, p, api.CreateScheduleRequest{Name: "tick", ScheduleSpec: api.ScheduleSpec{
		Pipeline: "train", Interval: scheduleInterval.String(), ConcurrencyPolicy: "allow", StartAt: &scheduleStart,
	}}); err != nil {
		t.Fatal(err)
	}

	// Part 1: the API on any replica.
	apiChecks := replicaAPI(t, rs, &v)

	// Part 4's deployment: version 1 served by one backend, version 2 by
	// another, both behind http://127.0.0.{version}:port.
	port, hits := versionBackends(t)
	maxErr := 0.05
	minReq := int64(canaryMinRequests)
	dspec := api.DeploymentSpec{
		Model: "replica-model", Version: 1,
		Runtime: api.DeploymentRuntime{URL: fmt.Sprintf("http://127.0.0.{version}:%d", port), HealthPath: "/healthz"},
		Strategy: &api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{20, 50},
			StepInterval: canaryStepInterval.String(), MinRequests: &minReq, MaxErrorRate: &maxErr},
	}
	_, err = rs.clients[0].CreateDeployment(ctx, p, api.CreateDeploymentRequest{Name: "replica-api", DeploymentSpec: dspec})
	if err != nil {
		t.Fatal(err)
	}
	var healthyAt time.Time
	if !waitFor(ctx, 30*time.Second, func() bool {
		d, err := rs.clients[0].GetDeployment(ctx, p, "replica-api")
		if err == nil && d.Phase == api.PhaseHealthy && d.StableVersion == 1 {
			healthyAt = time.Now()
			return true
		}
		return false
	}) {
		t.Fatal("deployment replica-api did not become healthy on version 1 within 30s")
	}
	traffic := newPredictTraffic(rs, token, "/v1/projects/default/deployments/replica-api/predict")
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	var trafficWG sync.WaitGroup
	trafficWG.Go(func() { traffic.run(trafficCtx) })
	// Every replica serves the new deployment (the follower).
	converged := waitFor(ctx, followConvergence, func() bool { return traffic.allServed(healthyAt) })

	// The schedule's window spans the kill: it fires twice before.
	if !waitFor(ctx, 3*scheduleInterval, func() bool {
		rr, err := rs.clients[0].ListRuns(ctx, p, "train")
		n := 0
		for _, r := range rr {
			if r.Trigger == "schedule:tick" {
				n++
			}
		}
		time.Sleep(200 * time.Millisecond)
		return err == nil && n >= 2
	}) {
		v.add("schedule tick did not fire twice within %s of its first due time", 3*scheduleInterval)
	}

	// Part 2's runs, and part 4's rollout to version 2 that the victim will start.
	dspec.Version = 2
	rolloutAt := time.Now()
	if _, err := rs.clients[1].UpdateDeployment(ctx, p, "replica-api", dspec, 0); err != nil {
		t.Fatal(err)
	}
	watch := newDeploymentWatch(rs, p, "replica-api")
	var watchWG sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchWG.Go(func() { watch.run(watchCtx) })
	// Traffic goes on until routeLag+3s after the promotion (to see every
	// replica route to the new stable version only), or until the promotion's bound.
	go func() {
		for trafficCtx.Err() == nil {
			_, promotedAt, _ := watch.last()
			_, killed := rs.killed()
			if !promotedAt.IsZero() && time.Since(promotedAt) > routeLag+3*time.Second ||
				!killed.IsZero() && time.Since(killed) > promotionBound+routeLag {
				stopTraffic()
				stopWatch()
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	manual := map[int64]string{} // run → the replica it was started through
	for i := range replicaRuns {
		r, err := rs.clients[i%3].CreateRun(ctx, p, "train", nil)
		if err != nil {
			t.Fatalf("start run %d through replica %s: %v", i, replicaNames[i%3], err)
		}
		if prev, dup := manual[r.ID]; dup {
			v.add("run %d was numbered twice (through %s and %s)", r.ID, prev, replicaNames[i%3])
		}
		manual[r.ID] = replicaNames[i%3]
	}

	// The victim: the replica that started the canary, once it is executing
	// a step of some run.
	starter := -1
	var held []int64
	if !waitFor(ctx, 30*time.Second, func() bool {
		if starter < 0 {
			starter = canaryStarter(rs, "default/replica-api", 2)
		}
		if starter < 0 {
			return false
		}
		held = heldRuns(readExecutions(t, rs, execLog), starter, time.Now())
		return len(held) > 0
	}) {
		if starter < 0 {
			v.add("no replica logged starting the canary of version 2 within 30s (\"deployment reconciled\" with canary 2); killing replica a")
			starter = 0
		} else {
			v.add("the canary's starter %s executed no step within 30s: the kill does not land mid-run", replicaNames[starter])
		}
	}
	var preKill api.DeploymentStatus
	if d, err := rs.clients[(starter+1)%3].GetDeployment(ctx, p, "replica-api"); err == nil {
		preKill = d.DeploymentStatus
	}
	killedAt := rs.kill(starter)
	victim := replicaNames[starter]
	report(scenario, "killed replica %s (started the canary; phase %s canary %d at %d%%) %s after the rollout began, holding runs %v",
		victim, preKill.Phase, preKill.CanaryVersion, preKill.CanaryWeight, time.Since(rolloutAt).Round(10*time.Millisecond), held)
	if preKill.Phase == api.PhaseHealthy && preKill.StableVersion == 2 {
		v.add("the canary promoted before the kill: the handover of a rollout was not exercised")
	}

	// Wait for every manual run to end (taken over ones need the rescue).
	lc := func() *client.Client { return rs.any(0) }
	runsDone := waitFor(ctx, takeoverBound, func() bool {
		runs, err := lc().ListRuns(ctx, p, "train")
		if err != nil {
			return false
		}
		finished := 0
		for _, r := range runs {
			if _, ok := manual[r.ID]; ok && api.RunFinished(r.State) {
				finished++
			}
		}
		time.Sleep(time.Second)
		return finished == len(manual)
	})
	if !runsDone {
		v.add("the manual runs had not all finished %s after the kill", time.Since(killedAt).Round(time.Second))
	}
	// End the schedule's window, then let its last runs finish (but for the
	// ones the killed replica held and no one took over: they are reported).
	windowEnd := time.Now()
	if err := lc().DeleteSchedule(ctx, p, "tick", 0); err != nil {
		v.add("delete schedule tick: %v", err)
	}
	stuck := map[int64]bool{}
	for _, e := range readExecutions(t, rs, execLog) {
		if e.replica == starter {
			stuck[e.run] = true
		}
	}
	var runs []api.PipelineRun
	waitFor(ctx, 60*time.Second, func() bool {
		rr, err := lc().ListRuns(ctx, p, "train")
		if err != nil {
			return false
		}
		runs = rr
		for _, r := range rr {
			if !api.RunFinished(r.State) && (!stuck[r.ID] || runsDone) {
				time.Sleep(500 * time.Millisecond)
				return false
			}
		}
		return true
	})
	stopWatch()
	watchWG.Wait()
	stopTraffic()
	trafficWG.Wait()
	execs := readExecutions(t, rs, execLog)

	// Part 2: each run once.
	runFigures := checkRuns(rs, runs, manual, execs, steps, starter, killedAt, &v)
	// Part 3: each due time once.
	scheduleFigures := checkSchedule(runs, scheduleStart, windowEnd, killedAt, &v)
	// Part 4: the rollout, handed over.
	depFigures := checkRollout(ctx, t, rs, st, traffic, watch, hits, rolloutAt, healthyAt, converged, killedAt, &v)
	// Every answer of every replica, the killed one's too until it died.
	var fives []string
	for i, s := range rs.srvs {
		if r := s.Requests(); r.Count5xx() > 0 {
			fives = append(fives, fmt.Sprintf("%s: %s (%s)", replicaNames[i], r, strings.Join(r.Failed, ", ")))
		}
	}
	if len(fives) > 0 {
		v.add("replicas answered 5xx: %s", strings.Join(fives, "; "))
	}
	jobs := riverFigures(ctx, st)

	report(scenario, "3 replicas, killed %s; %s; violations=%d; %s", victim, apiChecks, v.count(), time.Since(start).Round(time.Second))
	report(scenario, "  runs: %s", runFigures)
	report(scenario, "  schedule: %s", scheduleFigures)
	report(scenario, "  rollout: %s", depFigures)
	report(scenario, "  river jobs: %s", jobs)
	v.fail(t)
}

// replicaAPI checks that the replicas answer as one API.
func replicaAPI(t *testing.T, rs *replicaSet, v *violations) string {
	const p = api.DefaultProject
	ctx := context.Background()
	a, b, c := rs.clients[0], rs.clients[1], rs.clients[2]
	checks := 0
	pipe := api.PipelineSpec{Description: "written through a", Steps: []api.Step{{Name: "s", Command: []string{"true"}}}}
	created, err := a.CreatePipeline(ctx, p, api.CreatePipelineRequest{Name: "api-check", PipelineSpec: pipe})
	if err != nil {
		t.Fatal(err)
	}
	sameAs := func(want int64, desc string, through ...int) {
		for _, i := range through {
			checks++
			status, etag, body := rawGet(rs.srvs[i], "/v1/projects/default/pipelines/api-check")
			var got api.Pipeline
			_ = json.Unmarshal(body, &got)
			if status != http.StatusOK || etag != fmt.Sprintf("%q", strconv.FormatInt(want, 10)) || got.Generation != want || got.Description != desc {
				v.add("replica %s reads pipeline api-check as %d ETag %s gen %d %q, want ETag \"%d\" gen %d %q",
					replicaNames[i], status, etag, got.Generation, got.Description, want, want, desc)
			}
		}
	}
	sameAs(created.Generation, pipe.Description, 0, 1, 2)
	pipe.Description = "written through b"
	updated, err := b.UpdatePipeline(ctx, p, "api-check", pipe, created.Generation)
	if err != nil {
		v.add("update through b with If-Match %d: %v", created.Generation, err)
	} else {
		sameAs(updated.Generation, pipe.Description, 2, 0, 1)
	}
	// A write through c with the generation a answered is stale now.
	checks++
	pipe.Description = "stale write through c"
	if _, err := c.UpdatePipeline(ctx, p, "api-check", pipe, created.Generation); !errors.Is(err, client.ErrPreconditionFailed) {
		v.add("a stale If-Match %d through c after b's write: got %v, want 412", created.Generation, err)
	}
	// Versions of one model numbered through two replicas at once.
	if _, err := c.CreateModel(ctx, p, api.CreateModelRequest{Name: "replica-model"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	nums := make([]int64, 2)
	for i, cl := range []*client.Client{a, b} {
		wg.Go(func() {
			mv, err := cl.CreateModelVersion(ctx, p, "replica-model", api.ModelVersionSpec{ArtifactURI: fmt.Sprintf("s3://chaos/replica-model/%s", replicaNames[i])})
			if err != nil {
				v.add("create a version of replica-model through %s: %v", replicaNames[i], err)
				return
			}
			nums[i] = mv.Version
		})
	}
	wg.Wait()
	checks++
	if slices.Sort(nums); nums[0] != 1 || nums[1] != 2 {
		v.add("two versions created at once through a and b are numbered %v, want [1 2]", nums)
	}
	for i, cl := range rs.clients {
		checks++
		vs, err := cl.ListModelVersions(ctx, p, "replica-model")
		if err != nil || len(vs) != 2 {
			v.add("replica %s lists %d versions of replica-model (%v), want 2", replicaNames[i], len(vs), err)
		}
	}
	// A token issued through a is known to b and c at once.
	tok, err := a.CreateToken(ctx, api.CreateTokenRequest{Role: api.RoleViewer, Description: "replicas"})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		checks++
		viewer, err := client.New(client.Config{Endpoint: rs.srvs[i].URL, Token: tok.Secret, RetryMax: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := viewer.GetPipeline(ctx, p, "api-check"); err != nil {
			v.add("a token issued through a does not work on %s: %v", replicaNames[i], err)
		}
	}
	return fmt.Sprintf("api checks=%d", checks)
}

// rawGet reads one path with the admin token: status, ETag and body.
func rawGet(s *server, path string) (int, string, []byte) {
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), b
}

// versionBackends starts a model server per version at 127.0.0.1:port (1)
// and 127.0.0.2:port (2); each answers /predict with its version and counts.
func versionBackends(t *testing.T) (int, []*atomic.Int64) {
	t.Helper()
	hits := []*atomic.Int64{nil, new(atomic.Int64), new(atomic.Int64)}
	for range 20 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		if err != nil {
			l1.Close()
			continue
		}
		for version, l := range map[int]net.Listener{1: l1, 2: l2} {
			mux := http.NewServeMux()
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
			mux.HandleFunc("/predict", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				hits[version].Add(1)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"version":%d}`, version)
			})
			hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = hs.Serve(l) }()
			t.Cleanup(func() { _ = hs.Close() })
		}
		return port, hits
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return 0, nil
}

// prediction is one POST …/predict through one replica.
type prediction struct {
	replica    int
	start, end time.Time
	status     int // 0: no answer
	version    int64
	err        string
}

// predictTraffic sends predictions through every live replica.
type predictTraffic struct {
	rs    *replicaSet
	token string
	path  string
	hc    *http.Client

	mu  sync.Mutex
	all []prediction
}

func newPredictTraffic(rs *replicaSet, token, path string) *predictTraffic {
	return &predictTraffic{rs: rs, token: token, path: path, hc: &http.Client{Timeout: 10 * time.Second}}
}

func (pt *predictTraffic) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range pt.rs.srvs {
		wg.Go(func() {
			tick := time.NewTicker(replicaPredictEvery)
			defer tick.Stop()
			for ctx.Err() == nil && pt.rs.alive(i) {
				pr := pt.predict(ctx, i)
				if ctx.Err() != nil {
					return // cut short by the end of the traffic
				}
				pt.record(pr)
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
}

func (pt *predictTraffic) predict(ctx context.Context, i int) prediction {
	pr := prediction{replica: i, start: time.Now()}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, pt.rs.srvs[i].URL+pt.path, strings.NewReader(`{"rows":[{"x":1}]}`))
	req.Header.Set("Authorization", "Bearer "+pt.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := pt.hc.Do(req)
	if err != nil {
		pr.err = err.Error()
		pr.end = time.Now()
		return pr
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	pr.status, pr.end = resp.StatusCode, time.Now()
	if resp.StatusCode == http.StatusOK {
		var body struct {
			Version int64 `json:"version"`
		}
		if json.Unmarshal(b, &body) != nil || body.Version == 0 {
			pr.err = fmt.Sprintf("unexpected body %q", b)
		}
		pr.version = body.Version
		if h := resp.Header.Get("X-Mlops-Version"); h != strconv.FormatInt(body.Version, 10) {
			pr.err = fmt.Sprintf("X-Mlops-Version %q but version %d answered", h, body.Version)
		}
	} else {
		pr.err = strings.TrimSpace(string(b))
	}
	return pr
}

func (pt *predictTraffic) record(pr prediction) {
	pt.mu.Lock()
	pt.all = append(pt.all, pr)
	pt.mu.Unlock()
}

func (pt *predictTraffic) snapshot() []prediction {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return slices.Clone(pt.all)
}

// allServed says whether every replica answered a prediction since t.
func (pt *predictTraffic) allServed(t time.Time) bool {
	served := map[int]bool{}
	for _, pr := range pt.snapshot() {
		if pr.start.After(t) && pr.status == http.StatusOK && pr.err == "" {
			served[pr.replica] = true
		}
	}
	return len(served) == len(pt.rs.srvs)
}

// deploymentWatch polls a deployment through live replicas and keeps every
// distinct status it saw.
type deploymentWatch struct {
	rs         *replicaSet
	project    string
	name       string
	mu         sync.Mutex
	seen       []statusAt
	promotedAt time.Time
	errors     int
}

type statusAt struct {
	at time.Time
	api.DeploymentStatus
}

func newDeploymentWatch(rs *replicaSet, project, name string) *deploymentWatch {
	return &deploymentWatch{rs: rs, project: project, name: name}
}

func (w *deploymentWatch) run(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		d, err := w.rs.any(n).GetDeployment(ctx, w.project, w.name)
		w.mu.Lock()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				w.errors++
			}
		default:
			s := d.DeploymentStatus
			s.Message, s.StepStartedAt, s.ObservedGeneration = "", nil, 0
			if len(w.seen) == 0 || w.seen[len(w.seen)-1].DeploymentStatus != s {
				w.seen = append(w.seen, statusAt{at: time.Now(), DeploymentStatus: s})
			}
			if w.promotedAt.IsZero() && s.Phase == api.PhaseHealthy && s.StableVersion == 2 && s.CanaryVersion == 0 {
				w.promotedAt = time.Now()
			}
		}
		w.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *deploymentWatch) last() (api.DeploymentStatus, time.Time, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) == 0 {
		return api.DeploymentStatus{}, w.promotedAt, w.errors
	}
	return w.seen[len(w.seen)-1].DeploymentStatus, w.promotedAt, w.errors
}

// canaryStarter is the replica whose log says it started the canary of
// version: the controller logs every status it saves.
func canaryStarter(rs *replicaSet, deployment string, version int64) int {
	first, who := time.Time{}, -1
	for i, s := range rs.srvs {
		for _, l := range reconcileLines(s.LogPath, deployment) {
			if l.Canary == version && l.CanaryWeight > 0 && (who < 0 || l.Time.Before(first)) {
				first, who = l.Time, i
				break
			}
		}
	}
	return who
}

// reconcileLine is the controller's "deployment reconciled" log line.
type reconcileLine struct {
	Time         time.Time `json:"time"`
	Msg          string    `json:"msg"`
	Deployment   string    `json:"deployment"`
	Phase        string    `json:"phase"`
	Stable       int64     `json:"stable"`
	Canary       int64     `json:"canary"`
	CanaryWeight int       `json:"canary_weight"`
	Message      string    `json:"message"`
}

func reconcileLines(path, deployment string) []reconcileLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []reconcileLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l reconcileLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "deployment reconciled" && l.Deployment == deployment {
			out = append(out, l)
		}
	}
	return out
}

// execution is one step execution a step recorded.
type execution struct {
	run     int64
	step    string
	replica int
	at      time.Time
}

func readExecutions(t *testing.T, rs *replicaSet, path string) []execution {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []execution
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		id, err1 := strconv.ParseInt(f[0][strings.LastIndex(f[0], "/")+1:], 10, 64)
		secs, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, execution{run: id, step: f[1], replica: rs.replicaOf(f[2]),
			at: time.Unix(0, int64(secs*1e9))})
	}
	return out
}

// heldRuns are the runs whose step replica is executing now.
func heldRuns(execs []execution, replica int, now time.Time) []int64 {
	var out []int64
	for _, e := range execs {
		if e.replica == replica && now.Sub(e.at) < replicaStepSleep-200*time.Millisecond && !slices.Contains(out, e.run) {
			out = append(out, e.run)
		}
	}
	return out
}

// checkRuns: every run succeeded, and every step was executed once by one
// live replica, plus at most once by the killed one before it died.
func checkRuns(rs *replicaSet, runs []api.PipelineRun, manual map[int64]string, execs []execution, steps []string, victim int, killedAt time.Time, v *violations) string {
	byRun := map[int64][]execution{}
	for _, e := range execs {
		byRun[e.run] = append(byRun[e.run], e)
		if e.replica < 0 {
			v.add("run %d step %s ran in a directory of no replica", e.run, e.step)
		}
	}
	seen := map[int64]bool{}
	states := map[string]int{}
	takenOver, scheduled := 0, 0
	var takeovers []time.Duration
	for _, r := range runs {
		seen[r.ID] = true
		states[r.State]++
		if strings.HasPrefix(r.Trigger, "schedule:") {
			scheduled++
		}
		if r.State != api.RunSucceeded {
			var ss []string
			for _, s := range r.Steps {
				ss = append(ss, fmt.Sprintf("%s %s", s.Name, s.State))
			}
			where := ""
			if ex := byRun[r.ID]; len(ex) > 0 {
				last := ex[len(ex)-1]
				where = fmt.Sprintf("; its last step execution began on %s at %s", replicaNames[max(last.replica, 0)], last.at.Format("15:04:05.000"))
			}
			v.add("run %d (%s) is %s %s after the kill, want succeeded (steps: %s%s) %s", r.ID, r.Trigger, r.State,
				time.Since(killedAt).Round(time.Second), strings.Join(ss, ", "), where, r.Error)
			continue
		}
		for _, s := range r.Steps {
			if s.State != "succeeded" || s.Attempts != 1 {
				v.add("run %d step %s is %s after %d attempts, want succeeded after 1", r.ID, s.Name, s.State, s.Attempts)
			}
		}
		perReplica := map[int]map[string]int{}
		var firstLive time.Time
		for _, e := range byRun[r.ID] {
			if perReplica[e.replica] == nil {
				perReplica[e.replica] = map[string]int{}
			}
			perReplica[e.replica][e.step]++
			if e.replica != victim && (firstLive.IsZero() || e.at.Before(firstLive)) {
				firstLive = e.at
			}
			if e.replica == victim && e.at.After(killedAt) {
				v.add("run %d step %s started on the killed replica after the kill", r.ID, e.step)
			}
		}
		var live []string
		for i := range rs.srvs {
			if i != victim && perReplica[i] != nil {
				live = append(live, replicaNames[i])
			}
		}
		onVictim := perReplica[victim] != nil
		switch {
		case len(live) > 1:
			v.add("run %d was executed by %s: more than one live replica", r.ID, strings.Join(live, " and "))
		case len(live) == 0 && !onVictim:
			if r.State == api.RunSucceeded {
				v.add("run %d succeeded but no step of it was executed", r.ID)
			}
			continue
		case len(live) == 0:
			// The killed replica did it all before dying.
			if r.FinishedAt == nil || r.FinishedAt.After(killedAt) {
				v.add("run %d succeeded after the kill, but only the killed replica executed its steps", r.ID)
			}
		}
		for i, counts := range perReplica {
			for _, s := range steps {
				n := counts[s]
				switch {
				case i == victim && n > 1:
					v.add("run %d step %s was executed %d times by the killed replica", r.ID, s, n)
				case i != victim && n != 1:
					v.add("run %d step %s was executed %d times by replica %s, want once", r.ID, s, n, replicaNames[i])
				}
			}
		}
		if onVictim && len(live) == 1 {
			takenOver++
			if firstLive.Before(killedAt) {
				v.add("run %d was executed by the killed replica and by %s before the kill", r.ID, live[0])
			}
			takeovers = append(takeovers, firstLive.Sub(killedAt))
		}
	}
	for id, via := range manual {
		if !seen[id] {
			v.add("run %d (started through %s) is missing", id, via)
		}
	}
	slices.Sort(takeovers)
	took := "none"
	if len(takeovers) > 0 {
		took = fmt.Sprintf("%s..%s after the kill", takeovers[0].Round(time.Second), takeovers[len(takeovers)-1].Round(time.Second))
		if takeovers[len(takeovers)-1] > takeoverBound {
			v.add("a run was taken over %s after the kill (bound %s)", takeovers[len(takeovers)-1].Round(time.Second), takeoverBound)
		}
	}
	perReplica := make([]int, len(rs.srvs))
	for _, e := range execs {
		if e.replica >= 0 && e.step == steps[0] {
			perReplica[e.replica]++
		}
	}
	var spread []string
	for i, n := range perReplica {
		spread = append(spread, fmt.Sprintf("%s=%d", replicaNames[i], n))
	}
	return fmt.Sprintf("%d runs (%d manual, %d scheduled) %v; executions started per replica %s; taken over %d (%s); step executions %d",
		len(runs), len(manual), scheduled, states, strings.Join(spread, " "), takenOver, took, len(execs))
}

// checkSchedule maps each run the schedule created to its due time
// (start + k·interval): none twice, none missing unless the kill explains it.
func checkSchedule(runs []api.PipelineRun, startAt, windowEnd, killedAt time.Time, v *violations) string {
	type fired struct {
		id   int64
		late time.Duration
	}
	slots := map[int][]fired{}
	for _, r := range runs {
		if r.Trigger != "schedule:tick" {
			continue
		}
		// A firing is never before its due time; allow 2s of clock skew.
		k := int(r.CreatedAt.Sub(startAt.Add(-2*time.Second)) / scheduleInterval)
		due := startAt.Add(time.Duration(k) * scheduleInterval)
		slots[k] = append(slots[k], fired{r.ID, r.CreatedAt.Sub(due)})
	}
	last := int(windowEnd.Add(-scheduleLateBound).Sub(startAt) / scheduleInterval)
	var missing, explained []string
	var late time.Duration
	gapFromKill := false
	for k := 0; k <= last || len(slots[k]) > 0; k++ {
		due := startAt.Add(time.Duration(k) * scheduleInterval)
		fs := slots[k]
		if len(fs) == 0 {
			if k > last {
				continue
			}
			// Only the firing the killed replica was executing (due just
			// before the kill), and the ones it would have queued, stall
			// until River rescues that job; without catchup the rescued one
			// then fires the latest due time only.
			if d := killedAt.Sub(due); d >= 0 && d < 3*time.Second || gapFromKill {
				gapFromKill = true
				explained = append(explained, due.Format(time.TimeOnly))
				continue
			}
			missing = append(missing, due.Format(time.TimeOnly))
			continue
		}
		if len(fs) > 1 {
			var ids []int64
			for _, f := range fs {
				ids = append(ids, f.id)
			}
			v.add("due time %s fired %d times: runs %v", due.Format(time.TimeOnly), len(fs), ids)
		}
		for _, f := range fs {
			if gapFromKill {
				continue // the rescued firing comes as late as the rescue
			}
			late = max(late, f.late)
			if f.late > scheduleLateBound {
				v.add("run %d of schedule tick was created %s after its due time %s", f.id, f.late.Round(10*time.Millisecond), due.Format(time.TimeOnly))
			}
		}
		gapFromKill = false
	}
	if len(missing) > 0 {
		v.add("schedule tick did not fire at %d due times: %s (the kill was at %s)", len(missing), strings.Join(missing, ", "), killedAt.Format("15:04:05.000"))
	}
	n := 0
	for _, fs := range slots {
		n += len(fs)
	}
	return fmt.Sprintf("interval %s, %d due times in the window (the kill %.1fs after the first), %d runs created for %d distinct due times, missing %d, explained by the kill %d, latest firing %s after its due time",
		scheduleInterval, last+1, killedAt.Sub(startAt).Seconds(), n, len(slots), len(missing), len(explained), late.Round(10*time.Millisecond))
}

// rolloutEvent is one entry of a deployment_state's history (internal/rollout/history.go).
type rolloutEvent struct {
	Time          time.Time `json:"time"`
	Phase         string    `json:"phase"`
	TargetVersion int64     `json:"target_version"`
	StableVersion int64     `json:"stable_version"`
	CanaryVersion int64     `json:"canary_version"`
	CanaryWeight  int       `json:"canary_weight"`
	Message       string    `json:"message"`
}

func (e rolloutEvent) String() string {
	return fmt.Sprintf("%s %s stable=%d canary=%d@%d%%", e.Time.Format("15:04:05.000"), e.Phase, e.StableVersion, e.CanaryVersion, e.CanaryWeight)
}

// checkRollout: predictions through every live replica succeed and follow
// the canary, the canary promotes, and its history has each step once.
func checkRollout(ctx context.Context, t *testing.T, rs *replicaSet, st *sqlstore.Store, traffic *predictTraffic, watch *deploymentWatch,
	hits []*atomic.Int64, rolloutAt, healthyAt time.Time, converged bool, killedAt time.Time, v *violations) string {
	victim, _ := rs.killed()
	preds := traffic.snapshot()
	_, promotedAt, watchErrs := watch.last()

	// Every replica served the deployment soon after it was created.
	firstOK := make([]time.Time, len(rs.srvs))
	for _, pr := range preds {
		if pr.status == http.StatusOK && pr.err == "" && pr.start.After(healthyAt) && firstOK[pr.replica].IsZero() {
			firstOK[pr.replica] = pr.end
		}
	}
	var conv []string
	for i, f := range firstOK {
		if f.IsZero() || f.After(rolloutAt) {
			conv = append(conv, fmt.Sprintf("%s never", replicaNames[i]))
			continue
		}
		conv = append(conv, fmt.Sprintf("%s %s", replicaNames[i], f.Sub(healthyAt).Round(10*time.Millisecond)))
	}
	if !converged {
		v.add("not every replica served deployment replica-api within %s of it being healthy: first answers %s", followConvergence, strings.Join(conv, ", "))
	}

	// From the rollout on, every prediction through a live replica succeeds.
	type tally struct {
		total, failed, canary, staleAfter int
		byStatus                          map[int]int
		example                           string
	}
	tallies := make([]tally, len(rs.srvs))
	for i := range tallies {
		tallies[i].byStatus = map[int]int{}
	}
	for _, pr := range preds {
		if pr.start.Before(rolloutAt) {
			continue
		}
		if pr.replica == victim && !pr.end.Before(killedAt.Add(-100*time.Millisecond)) {
			continue // the killed replica's last answers
		}
		tl := &tallies[pr.replica]
		tl.total++
		if pr.status != http.StatusOK || pr.err != "" {
			tl.failed++
			tl.byStatus[pr.status]++
			if tl.example == "" {
				tl.example = fmt.Sprintf("%d %s at +%s", pr.status, pr.err, pr.start.Sub(rolloutAt).Round(10*time.Millisecond))
			}
			continue
		}
		if pr.version == 2 && (promotedAt.IsZero() || pr.end.Before(promotedAt)) {
			tl.canary++
		}
		if !promotedAt.IsZero() && pr.start.After(promotedAt.Add(routeLag)) && pr.version != 2 {
			tl.staleAfter++
		}
	}
	var perReplica []string
	for i, tl := range tallies {
		perReplica = append(perReplica, fmt.Sprintf("%s %d/%d ok (canary %d)", replicaNames[i], tl.total-tl.failed, tl.total, tl.canary))
		if tl.failed > 0 {
			var codes []string
			for code, n := range tl.byStatus {
				codes = append(codes, fmt.Sprintf("%d×%d", n, code))
			}
			sort.Strings(codes)
			v.add("replica %s failed %d of %d predictions during the rollout (%s; first: %s)", replicaNames[i], tl.failed, tl.total, strings.Join(codes, " "), tl.example)
		}
		if i != victim && tl.canary == 0 && tl.total > 0 {
			v.add("replica %s served no prediction from the canary (version 2) before the promotion: it does not route by the canary's weights", replicaNames[i])
		}
		if tl.staleAfter > 0 {
			v.add("replica %s still answered %d predictions with version 1 more than %s after the promotion", replicaNames[i], tl.staleAfter, routeLag)
		}
	}

	// The canary promoted, although the replica that started it died.
	switch {
	case promotedAt.IsZero():
		last, _, _ := watch.last()
		v.add("the canary did not promote within %s of the kill: last status %s stable %d canary %d at %d%%",
			promotionBound, last.Phase, last.StableVersion, last.CanaryVersion, last.CanaryWeight)
	case promotedAt.Sub(killedAt) > promotionBound:
		v.add("the canary promoted %s after the kill (bound %s)", promotedAt.Sub(killedAt).Round(time.Second), promotionBound)
	}
	for _, i := range rs.live() {
		d, err := rs.clients[i].GetDeployment(ctx, api.DefaultProject, "replica-api")
		if err != nil {
			v.add("replica %s: get deployment: %v", replicaNames[i], err)
			continue
		}
		if d.Phase != api.PhaseHealthy || d.StableVersion != 2 || d.CanaryVersion != 0 || d.TargetVersion != 2 {
			v.add("replica %s shows replica-api %s target %d stable %d canary %d (%s), want healthy with stable 2",
				replicaNames[i], d.Phase, d.TargetVersion, d.StableVersion, d.CanaryVersion, d.Message)
		}
	}

	// The history: each step of the rollout to version 2 once, in order,
	// each after a full bake time.
	events := readHistory(ctx, t, st, "replica-api")
	var rollout []rolloutEvent
	for _, e := range events {
		if e.TargetVersion == 2 || e.CanaryVersion == 2 || e.StableVersion == 2 {
			rollout = append(rollout, e)
		}
	}
	var shown []string
	for _, e := range rollout {
		shown = append(shown, e.String())
	}
	want := []struct {
		phase                 string
		stable, canary        int64
		weight                int
		afterFullBakeOfPrevEv bool
	}{
		{api.PhaseProgressing, 1, 2, 20, false},
		{api.PhaseProgressing, 1, 2, 50, true},
		{api.PhaseHealthy, 2, 0, 0, true},
	}
	ok := len(rollout) == len(want)
	for i := 0; ok && i < len(want); i++ {
		e, w := rollout[i], want[i]
		ok = e.Phase == w.phase && e.StableVersion == w.stable && e.CanaryVersion == w.canary && e.CanaryWeight == w.weight
		if ok && w.afterFullBakeOfPrevEv {
			if bake := e.Time.Sub(rollout[i-1].Time); bake < canaryStepInterval-500*time.Millisecond {
				v.add("rollout step %s came %s after the previous one, before the step interval %s: a step was driven twice", e, bake.Round(10*time.Millisecond), canaryStepInterval)
			}
		}
	}
	if !ok {
		v.add("the rollout's history is [%s], want each step once: canary 2 at 20%%, at 50%%, then healthy with stable 2", strings.Join(shown, "; "))
	}
	weights := map[int]int{}
	for _, e := range rollout {
		if e.CanaryVersion == 2 {
			weights[e.CanaryWeight]++
		}
	}
	for w, n := range weights {
		if n > 1 {
			v.add("the rollout's history shows canary 2 at %d%% %d times", w, n)
		}
	}
	// Each replica's controller log: who applied which change.
	var applied []string
	for i, s := range rs.srvs {
		for _, l := range reconcileLines(s.LogPath, "default/replica-api") {
			if l.Time.After(rolloutAt) && (l.Canary == 2 || l.Stable == 2) && !strings.Contains(l.Message, "waiting") {
				applied = append(applied, fmt.Sprintf("%s:%s@%d%%", replicaNames[i], l.Phase, l.CanaryWeight))
			}
		}
	}
	promoted := "not promoted"
	if !promotedAt.IsZero() {
		promoted = fmt.Sprintf("promoted %s after the kill", promotedAt.Sub(killedAt).Round(100*time.Millisecond))
	}
	return fmt.Sprintf("%s; first answers after healthy: %s; predictions: %s; backend hits v1=%d v2=%d; history [%s]; applied by %v; status read errors %d",
		promoted, strings.Join(conv, ", "), strings.Join(perReplica, ", "), hits[1].Load(), hits[2].Load(), strings.Join(shown, "; "), applied, watchErrs)
}

// readHistory reads a deployment's stored rollout events, oldest first.
func readHistory(ctx context.Context, t *testing.T, st *sqlstore.Store, name string) []rolloutEvent {
	o, err := st.Get(ctx, store.DeploymentStateKey(api.DefaultProject, name))
	if err != nil {
		t.Errorf("read the rollout state of %s: %v", name, err)
		return nil
	}
	var doc struct {
		History []rolloutEvent `json:"history"`
	}
	if err := json.Unmarshal(o.Data, &doc); err != nil {
		t.Errorf("decode the rollout state of %s: %v", name, err)
	}
	return doc.History
}

// riverFigures summarises the job queue per kind and state: jobs that took
// more than one attempt (a rescued job of the killed replica does), and how
// long the oldest still running one has been at it.
func riverFigures(ctx context.Context, st *sqlstore.Store) string {
	rows, err := st.DB().QueryContext(ctx, `SELECT kind, state, count(*), count(*) FILTER (WHERE attempt > 1),
		coalesce(extract(epoch FROM max(now() - attempted_at) FILTER (WHERE state = 'running')), 0)::float8
		FROM river_job GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var kind, state string
		var n, retried int
		var age float64
		if err := rows.Scan(&kind, &state, &n, &retried, &age); err != nil {
			return "unreadable: " + err.Error()
		}
		part := fmt.Sprintf("%s %s=%d", kind, state, n)
		if retried > 0 {
			part += fmt.Sprintf(" (%d after more than one attempt)", retried)
		}
		if state == "running" {
			part += fmt.Sprintf(" (oldest attempt began %s ago)", (time.Duration(age) * time.Second).Round(time.Second))
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
