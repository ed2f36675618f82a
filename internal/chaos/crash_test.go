package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// declared is what the generated configuration declares, by kind.
type declared struct {
	datasets, pipelines, models, schedules []string
	versions                               map[string][]string // model → artifact URIs
	total                                  int
}

// crashConfig writes a configuration of n resources in units of a dataset, a
// pipeline reading it, a gated model with two versions (lineage: the dataset)
// and a yearly schedule of the pipeline; the last unit may be cut short.
func crashConfig(n int, csv string) (string, declared) {
	d := declared{versions: map[string][]string{}}
	var b strings.Builder
	b.WriteString(`terraform {
  required_providers {
    mlops = { source = "mlopsplane/mlops" }
  }
}

provider "mlops" {}
`)
	for u := 0; d.total < n; u++ {
		id := fmt.Sprintf("%03d", u)
		blocks := []func(){
			func() {
				d.datasets = append(d.datasets, "ds-"+id)
				fmt.Fprintf(&b, `
resource "mlops_dataset" "ds_%[1]s" {
  name   = "ds-%[1]s"
  uri    = "file://%[2]s"
  format = "csv"
  schema = [{ name = "x", type = "number" }, { name = "label", type = "integer" }]
}
`, id, csv)
			},
			func() {
				d.pipelines = append(d.pipelines, "train-"+id)
				fmt.Fprintf(&b, `
resource "mlops_pipeline" "train_%[1]s" {
  name        = "train-%[1]s"
  description = "pipeline %[1]s"
  parameters  = { learning_rate = "0.1" }
  datasets    = [mlops_dataset.ds_%[1]s.name]
  steps = [
    { name = "prepare", command = ["true"] },
    { name = "fit", command = ["true"], depends_on = ["prepare"], timeout = "10m" },
  ]
}
`, id)
			},
			func() {
				d.models = append(d.models, "model-"+id)
				fmt.Fprintf(&b, `
resource "mlops_model" "model_%[1]s" {
  name        = "model-%[1]s"
  description = "model %[1]s"
  gates       = [{ metric = "auc", op = ">=", threshold = 0.5 }]
}
`, id)
			},
			func() { d.versions["model-"+id] = append(d.versions["model-"+id], version(&b, id, 1)) },
			func() { d.versions["model-"+id] = append(d.versions["model-"+id], version(&b, id, 2)) },
			func() {
				d.schedules = append(d.schedules, "nightly-"+id)
				fmt.Fprintf(&b, `
resource "mlops_retraining_schedule" "nightly_%[1]s" {
  name     = "nightly-%[1]s"
  pipeline = mlops_pipeline.train_%[1]s.name
  cron     = "0 3 1 1 *"
}
`, id)
			},
		}
		for _, add := range blocks {
			if d.total == n {
				break
			}
			add()
			d.total++
		}
	}
	return b.String(), d
}

func version(b *strings.Builder, id string, v int) string {
	uri := fmt.Sprintf("s3://chaos-models/model-%s/v%d/model.onnx", id, v)
	dataset := ""
	if v == 1 {
		dataset = fmt.Sprintf("\n  dataset      = mlops_dataset.ds_%s.name", id)
	}
	fmt.Fprintf(b, `
resource "mlops_model_version" "model_%[1]s_v%[2]d" {
  model        = mlops_model.model_%[1]s.name
  artifact_uri = %[3]q
  metrics      = { auc = 0.%[2]d9 }%[4]s
}
`, id, v, uri, dataset)
	return uri
}

// TestCrashDuringApply applies a large configuration while mlopsd is
// SIGKILLed at random moments and restarted on the same port and database,
// re-running apply until it succeeds. The server must then hold exactly the
// declared objects (none missing, none twice: model versions are numbered by
// the server, so a create retried without idempotency would add one) and the
// next plan must be empty.
func TestCrashDuringApply(t *testing.T) {
	enabled(t)
	terraformPath(t)
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { crashDuringApply(t, db) })
	}
}

func crashDuringApply(t *testing.T, db database) {
	n := envInt("MLOPS_CHAOS_RESOURCES", 300)
	kills := envInt("MLOPS_CHAOS_KILLS", 3)
	seed := uint64(envInt("MLOPS_CHAOS_SEED", int(time.Now().UnixNano()%1e9)))
	rng := rand.New(rand.NewPCG(seed, seed))
	start := time.Now()

	dataRoot := t.TempDir()
	csv := filepath.Join(dataRoot, "train.csv")
	var rows strings.Builder
	rows.WriteString("x,label\n")
	for i := range 200 {
		fmt.Fprintf(&rows, "%.2f,%d\n", float64(i)/10, i%2)
	}
	writeFile(t, csv, rows.String())
	srv := startServer(t, serverOptions{database: db.url(t), dataRoot: dataRoot})
	w := newWorkdir(t, srv)
	config, want := crashConfig(n, csv)
	w.write("main.tf", config)

	// The killer SIGKILLs mlopsd when the server has answered a random
	// number of creates (between 5% and 95% of them, at least 0.5s after the
	// previous restart), so that every kill lands amid the creates however
	// fast the machine is, and restarts it at once on the same port and
	// database.
	points := make([]int, kills)
	for i := range points {
		points[i] = max(1, n/20+rng.IntN(max(1, n*9/10)))
	}
	slices.Sort(points)
	ctx, stopKiller := context.WithCancel(context.Background())
	var killed int
	var killPoints []string // creates the server had answered at each kill
	var killerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		last := time.Now()
		for _, point := range points {
			if !waitFor(ctx, 10*time.Minute, func() bool {
				return time.Since(last) >= 500*time.Millisecond && srv.Requests().ByStatus[201] >= point
			}) {
				return
			}
			at := srv.Requests().ByStatus[201]
			srv.Kill()
			killed++
			killPoints = append(killPoints, strconv.Itoa(at))
			if err := srv.Start(); err != nil {
				killerErr = err
				return
			}
			last = time.Now()
		}
	})

	var v violations
	var failures []string
	attempts, maxAttempts := 0, kills+3
	applied := false
	var applyTimes, prevErrs []string
	orphanedKeys := 0    // creates refused because a killed server left their key claimed
	providerCrashes := 0 // runs whose provider process died
	for attempts < maxAttempts && !applied {
		attempts++
		actx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		t0 := time.Now()
		out, code := w.run(actx, "apply", "-auto-approve", "-parallelism=10", "-input=false")
		cancel()
		applyTimes = append(applyTimes, time.Since(t0).Round(100*time.Millisecond).String())
		if code == 0 {
			applied = true
			break
		}
		errs := tfErrors(out)
		if len(errs) == 0 {
			errs = []string{tail0(out, 5)}
		}
		// Terraform wraps long details: match on the output with its lines joined.
		orphanedKeys += strings.Count(strings.Join(strings.Fields(out), " "), "Idempotency-Key is still in progress")
		if crash := providerCrash(out); crash != "" {
			providerCrashes++
			errs = append([]string{crash}, errs...)
		}
		failures = append(failures, fmt.Sprintf("apply %d: %d error(s), first: %s", attempts, len(errs), errs[0]))
		slices.Sort(errs)
		if slices.Equal(errs, prevErrs) {
			break // the same errors again: retrying makes no progress
		}
		prevErrs = errs
		if !srv.Alive() {
			// A kill landed just now and its restart is on the way.
			waitFor(context.Background(), 30*time.Second, srv.Alive)
		}
	}
	stopKiller()
	wg.Wait()
	if killerErr != nil {
		t.Fatalf("restarting mlopsd after kill %d: %v", killed, killerErr)
	}
	if killed == 0 {
		t.Fatalf("no kill happened (kill points %v): raise MLOPS_CHAOS_RESOURCES", points)
	}
	for _, f := range failures {
		t.Logf("%s", f)
	}
	if !applied {
		v.add("terraform apply did not succeed in %d attempts after %d kills: %s", attempts, killed, strings.Join(failures, " | "))
	}

	t0 := time.Now()
	checked := checkDeclared(t, srv, w, want, applied, &v)
	checkTime := time.Since(t0)
	var planTime time.Duration
	if applied {
		t0 = time.Now()
		out, code := w.run(context.Background(), "plan", "-detailed-exitcode", "-input=false")
		planTime = time.Since(t0)
		if crash := providerCrash(out); crash != "" {
			providerCrashes++
			v.add("terraform plan after the chaos apply: the provider crashed: %s", crash)
		} else if code != 0 {
			v.add("terraform plan after the chaos apply exited %d (want 0, no changes):\n%s", code, tail0(out, 40))
		}
	}
	reqs := srv.Requests()
	if c := reqs.ByStatus[500]; c > 0 {
		t.Errorf("mlopsd answered 500 to %d requests", c)
	}
	report("crash-during-apply/"+db.name,
		"resources=%d kills=%d (at %s answered creates; seed %d) apply attempts=%d requests=%d [%s] objects checked=%d violations=%d slowest (re)start=%s time=%s (applies %s, check %s, plan %s)",
		n, killed, strings.Join(killPoints, "/"), seed, attempts, reqs.Total, reqs, checked, v.count(), srv.slowestStart.Round(time.Millisecond), time.Since(start).Round(time.Second),
		strings.Join(applyTimes, "+"), checkTime.Round(100*time.Millisecond), planTime.Round(100*time.Millisecond))
	for _, f := range failures {
		report("crash-during-apply/"+db.name, "  failed %s", f)
	}
	for i, s := range v.list {
		if i == 10 {
			break
		}
		report("crash-during-apply/"+db.name, "  violation: %s", s)
	}
	if orphanedKeys > 0 {
		// A killed request must leave nothing behind: its retry runs afresh.
		v.add("%d create(s) got 409 \"Idempotency-Key is still in progress\" after a kill", orphanedKeys)
	}
	if providerCrashes > 0 {
		v.add("the provider process crashed in %d terraform run(s)", providerCrashes)
	}
	v.fail(t)
}

// providerCrash returns the line of Terraform output that says the provider
// process died (a Go fatal error or panic), or "".
func providerCrash(out string) string {
	if !strings.Contains(out, "Plugin did not respond") && !strings.Contains(out, "Stack trace from the") {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") {
			return "provider crashed: " + strings.TrimSpace(l)
		}
	}
	return "provider crashed: Plugin did not respond"
}

// checkDeclared lists every kind on the server and compares it with the
// declaration and with Terraform's state; it returns the objects it checked.
//
// Without complete (apply never succeeded) only duplicates and undeclared
// objects count, and Terraform's state is not compared.
func checkDeclared(t *testing.T, srv *server, w *workdir, want declared, complete bool, v *violations) int {
	t.Helper()
	ctx := context.Background()
	c := srv.Client(t, 0, nil)
	const p = api.DefaultProject
	checked := 0
	names := func(kind string, got []string, want []string) {
		checked += len(got)
		sameSet(v, kind, got, want, complete)
	}
	ds, err := c.ListDatasets(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	names("datasets", mapSlice(ds, func(d api.Dataset) string { return d.Name }), want.datasets)
	ps, err := c.ListPipelines(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	names("pipelines", mapSlice(ps, func(p api.Pipeline) string { return p.Name }), want.pipelines)
	for _, pl := range ps {
		if pl.Revision != 1 {
			v.add("pipeline %s has revision %d, want 1 (its spec was written once)", pl.Name, pl.Revision)
		}
	}
	ms, err := c.ListModels(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	names("models", mapSlice(ms, func(m api.Model) string { return m.Name }), want.models)
	serverVersions := map[string]bool{} // model/version
	for _, m := range ms {
		vs, err := c.ListModelVersions(ctx, p, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		names("versions of "+m.Name, mapSlice(vs, func(mv api.ModelVersion) string { return mv.ArtifactURI }), want.versions[m.Name])
		for _, mv := range vs {
			serverVersions[fmt.Sprintf("%s/%s/%d", p, m.Name, mv.Version)] = true
		}
	}
	ss, err := c.ListSchedules(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	names("schedules", mapSlice(ss, func(s api.Schedule) string { return s.Name }), want.schedules)
	if !complete {
		return checked
	}

	// Terraform's state names each version it manages; each must be one the
	// server holds, and no server version may be missing from it.
	out, code := w.run(ctx, "show", "-json")
	if code != 0 {
		t.Fatalf("terraform show -json exited %d:\n%s", code, tail0(out, 20))
	}
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Type   string         `json:"type"`
					Values map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("terraform show -json: %v", err)
	}
	stateVersions := map[string]bool{}
	inState := 0
	for _, r := range st.Values.RootModule.Resources {
		inState++
		if r.Type == "mlops_model_version" {
			id, _ := r.Values["id"].(string)
			stateVersions[id] = true
		}
	}
	if inState != want.total {
		v.add("terraform state holds %d resources, want %d", inState, want.total)
	}
	for id := range serverVersions {
		if !stateVersions[id] {
			v.add("model version %s exists on the server but not in Terraform's state (an orphan of a retried create)", id)
		}
	}
	for id := range stateVersions {
		if !serverVersions[id] {
			v.add("model version %s is in Terraform's state but not on the server", id)
		}
	}
	return checked
}

// sameSet reports names missing from got, unexpected in it, or in it twice.
func sameSet(v *violations, kind string, got, want []string, complete bool) {
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		switch count[w] {
		case 0:
			if complete {
				v.add("%s: %s is declared but missing on the server", kind, w)
			}
		case 1:
		default:
			v.add("%s: %s exists %d times on the server (duplicate)", kind, w, count[w])
		}
		delete(count, w)
	}
	extra := make([]string, 0, len(count))
	for g, c := range count {
		extra = append(extra, g+"×"+strconv.Itoa(c))
	}
	slices.Sort(extra)
	if len(extra) > 0 {
		v.add("%s: the server holds %d undeclared object(s): %s", kind, len(extra), strings.Join(extra, ", "))
	}
}

func mapSlice[T any](in []T, f func(T) string) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

// tail0 returns the last n lines of s.
func tail0(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
