package ui_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
	"github.com/mlopsplane/terraform-provider-mlops/internal/ui"
)

// The browser tests drive the dashboard in headless Chromium (Debian's
// chromium package) against a real in-process mlopsd whose data was made the
// way users make it: runs executed by the engine, a canary rolled out by the
// controller, a monitor evaluated on drifting data. They skip when Chromium
// is missing unless MLOPS_UI_BROWSER=1 (make testui), which makes that a failure.

var update = flag.Bool("update", false, "rewrite the drift chart's golden PNG and docs/images/dashboard.png from the browser test")

const (
	browserEnv  = "MLOPS_UI_BROWSER"
	chromiumEnv = "MLOPS_UI_CHROMIUM"    // another browser binary than /usr/bin/chromium
	shotsEnv    = "MLOPS_UI_SCREENSHOTS" // a directory: every page visited is saved there, for review
	goldenChart = "testdata/drift-chart.png"
	docsImage   = "../../docs/images/dashboard.png"
)

func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv(chromiumEnv)
	if path == "" {
		path = "/usr/bin/chromium"
	}
	required := os.Getenv(browserEnv) == "1"
	if _, err := os.Stat(path); err != nil {
		if required {
			t.Fatalf("%s=1 but there is no Chromium at %s: apt-get install -y chromium (or make testui)", browserEnv, path)
		}
		t.Skipf("no Chromium at %s: apt-get install -y chromium, or make testui; %s=1 makes this a failure", path, browserEnv)
	}
	if testing.Short() && !required {
		t.Skip("browser tests do not run with -short")
	}
	return path
}

// newChromium starts a headless Chromium with a fresh profile that talks to
// nothing but the test server.
func newChromium(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

func TestBrowser(t *testing.T) {
	path := chromiumPath(t)
	w := buildWorld(t)
	ctx := newChromium(t, path)
	base := w.ts.URL

	visit := func(t *testing.T, page string, texts ...string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+page)); err != nil {
			t.Fatalf("open %s: %v", page, err)
		}
		// What a person sees: the rendered text (innerText skips what is hidden).
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv(shotsEnv); dir != "" {
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, strings.NewReplacer("/", "_", "?", "_").Replace(strings.Trim(page, "/"))+".png"), shot)
		}
		for _, s := range texts {
			if !strings.Contains(text, s) {
				t.Errorf("%s does not show %q; a person sees:\n%s", page, s, text)
			}
		}
		return text
	}
	eval := func(t *testing.T, js string) []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	labels := func(t *testing.T, svg string) []string {
		return eval(t, `Array.from(document.querySelectorAll('`+svg+` .node .label')).map(e => e.textContent)`)
	}

	t.Run("sign in", func(t *testing.T) {
		visit(t, "/ui/p/default", "Sign in to mlopsd", "API token")
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if !strings.Contains(loc, "/ui/login?next=") {
			t.Fatalf("not sent to the sign-in form: %s", loc)
		}
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("token"), "mlops_wrong")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("form button[type=submit]"))); err != nil {
			t.Fatal(err)
		}
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if !strings.Contains(text, "That is not a valid token") {
			t.Fatalf("a wrong token: %s", text)
		}
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("token"), w.viewer)); err != nil {
			t.Fatal(err)
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("form button[type=submit]")))
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("sign in: %v %v", resp, err)
		}
		// Back where the person was going, signed in with the viewer token.
		text = visit(t, "/ui/p/default", "Project default", "Signed in: viewer, project default", "train", "churn", "churn-drift", "churn-api")
		if strings.Contains(text, "Sign in to mlopsd") {
			t.Fatal("still on the form")
		}
		if strings.Contains(visit(t, "/ui/", "default"), "other") {
			t.Error("a viewer of project default sees project other")
		}
	})

	t.Run("pipeline", func(t *testing.T) {
		visit(t, "/ui/p/default/pipelines/train", "Pipeline train", "Trains the churn model", "Runs newest first",
			"#3", "#2", "#1", "failed", "succeeded", "churn v2", "churn v1")
		if got := strings.Join(labels(t, "#dag"), ","); got != "load,features,fit,evaluate,report" {
			t.Errorf("DAG boxes %s", got)
		}
		order := eval(t, `Array.from(document.querySelectorAll('table.runs tbody tr td:first-child')).map(e => e.innerText)`)
		if strings.Join(order, " ") != "#3 #2 #1" {
			t.Errorf("runs in order %v, want newest first", order)
		}
	})

	t.Run("run", func(t *testing.T) {
		visit(t, "/ui/p/default/pipelines/train/runs/2", "Run 2 of train", "failed", "fit", "skipped",
			"ValueError: column age has NaN", "fail\tyes")
		// The failed step is drawn red, the skipped one grey, in the DAG.
		fills := eval(t, `['fit','evaluate','load'].map(n => getComputedStyle(document.querySelector('a[href="#step-'+n+'"] rect')).fill)`)
		if fills[0] != "rgb(255, 235, 233)" || fills[1] != "rgb(234, 238, 242)" || fills[2] != "rgb(218, 251, 225)" {
			t.Errorf("fill of fit, evaluate, load: %v", fills)
		}
		visit(t, "/ui/p/default/pipelines/train/runs/3", "succeeded", "epoch 2 loss=0.41", "churn version 2", "moved alias champion to this version")
	})

	t.Run("model", func(t *testing.T) {
		visit(t, "/ui/p/default/models/churn", "Model churn", "auc", ">= 0.8", "champion", "version 2", "0.91", "0.87", "passes 1/1")
		visit(t, "/ui/p/default/models/churn/versions/2", "churn version 2", "champion", "passed", "Lineage")
		if got := strings.Join(labels(t, "#lineage"), ","); got != "customers,train #3,churn v2,churn-api" {
			t.Errorf("lineage %s", got)
		}
		subs := eval(t, `Array.from(document.querySelectorAll('#lineage .node .sub')).map(e => e.textContent)`)
		if len(subs) != 4 || subs[0] != "dataset · version 1" || subs[3] != "deployment · serving 100%" {
			t.Errorf("lineage details %q", subs)
		}
	})

	t.Run("deployment", func(t *testing.T) {
		visit(t, "/ui/p/default/deployments/churn-api", "Deployment churn-api", "healthy", "following alias champion",
			"stable v2: 100%", "Rollout timeline", "canary v2 at 10%", "canary v2 at 50%", "version 2 promoted after 2 canary steps")
		steps := eval(t, `Array.from(document.querySelectorAll('ol.timeline li span:not(.badge)')).map(e => e.textContent.trim())`)
		want := []string{"stable v2", "stable v1 · canary v2 at 50%", "stable v1 · canary v2 at 10%", "stable v1"}
		if len(steps) < len(want) || fmt.Sprint(steps[:len(want)]) != fmt.Sprint(want) {
			t.Errorf("timeline, newest first: %q; want it to start %q", steps, want)
		}
	})

	t.Run("monitor", func(t *testing.T) {
		visit(t, "/ui/p/default/monitors/churn-drift", "Monitor churn-drift", "drifting", "Drift over time",
			"age", "plan", "threshold 0.1", "Latest evaluation", "Evaluations")
		points := eval(t, `Array.from(document.querySelectorAll('#chart-0 circle')).map(c => c.getAttribute('class'))`)
		if len(points) != 6 || points[0] != "pt-ok" || points[5] != "pt-drifting" {
			t.Errorf("age chart points %v: want 6 evaluations, from ok to drifting", points)
		}
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#chart-0 svg.drift")))
		if err != nil {
			t.Fatal(err)
		}
		checkChart(t, shot)
		if *update {
			full, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, docsImage, full)
		}
	})

	t.Run("scope", func(t *testing.T) {
		visit(t, "/ui/p/other", "Forbidden", "may not read project")
	})

	t.Run("sign out", func(t *testing.T) {
		visit(t, "/ui/p/default")
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(".who button"))); err != nil {
			t.Fatal(err)
		}
		visit(t, "/ui/p/default", "Sign in to mlopsd")
	})
}

// checkChart compares a screenshot of the drift chart with the golden one
// loosely, as fonts and anti-aliasing differ between Chromium builds: the
// same size within a pixel or two, the threshold line's colour drawn along
// a row, and the picture close to the golden one on average.
func checkChart(t *testing.T, shot []byte) {
	t.Helper()
	got, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	b := got.Bounds()
	if abs(b.Dx()-560) > 2 || abs(b.Dy()-200) > 2 {
		t.Errorf("chart is %dx%d, want 560x200", b.Dx(), b.Dy())
	}
	// The dashed threshold line: the most pixels of its colour on one row.
	var r0, g0, b0 uint32
	if _, err := fmt.Sscanf(ui.ThresholdColor, "#%02x%02x%02x", &r0, &g0, &b0); err != nil {
		t.Fatal(err)
	}
	best := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := got.At(x, y).RGBA()
			if near(r>>8, r0) && near(g>>8, g0) && near(bl>>8, b0) {
				n++
			}
		}
		best = max(best, n)
	}
	if best < 250 { // a 498 px line, two thirds of it dashes
		t.Errorf("the threshold line (%s) is not drawn: at most %d pixels of its colour in a row", ui.ThresholdColor, best)
	}
	if *update {
		writeFile(t, goldenChart, shot)
		return
	}
	raw, err := os.ReadFile(goldenChart)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	want, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if diff := meanDiff(got, want); diff > 0.025 {
		t.Errorf("the chart differs from %s by %.1f%% on average (allowed 2.5%%); with -update the test rewrites it", goldenChart, diff*100)
	} else {
		t.Logf("chart differs from the golden one by %.2f%% on average", diff*100)
	}
}

func near(v, want uint32) bool { return v+12 >= want && v <= want+12 }

func abs(v int) int { return max(v, -v) }

// meanDiff is the mean absolute difference of luminance over the common
// area, from 0 (same) to 1.
func meanDiff(a, b image.Image) float64 {
	w := min(a.Bounds().Dx(), b.Bounds().Dx())
	h := min(a.Bounds().Dy(), b.Bounds().Dy())
	lum := func(img image.Image, x, y int) float64 {
		r, g, bl, _ := img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
		return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 65535
	}
	sum := 0.0
	for y := range h {
		for x := range w {
			d := lum(a, x, y) - lum(b, x, y)
			sum += max(d, -d)
		}
	}
	return sum / float64(w*h)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// world is what a team would have after a day with mlopsd: three runs of a
// five-step pipeline (one failed), two versions of a gated model, a
// deployment that followed the champion alias through a canary, and a
// monitor whose current data drifts further at each evaluation.
type world struct {
	ts     *testserver.Instance
	viewer string
}

func buildWorld(t *testing.T) *world {
	t.Helper()
	ts := testserver.Start(t)
	c := ts.Client
	ctx := context.Background()
	dir := t.TempDir()
	basePath, curPath := filepath.Join(dir, "customers.csv"), filepath.Join(dir, "recent.csv")
	writeCustomers(t, basePath, 1, 0)
	writeCustomers(t, curPath, 2, 0)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.CreateProject(ctx, api.Project{Name: "other", Description: "Someone else's"}))
	for name, path := range map[string]string{"customers": basePath, "recent": curPath} {
		must(c.CreateDataset(ctx, "default", api.CreateDatasetRequest{Name: name, DatasetSpec: api.DatasetSpec{URI: path, Format: "csv"}}))
	}
	must(c.CreateModel(ctx, "default", api.CreateModelRequest{Name: "churn", ModelSpec: api.ModelSpec{Description: "Predicts churn",
		Gates: []api.Gate{{Metric: "auc", Op: ">=", Threshold: 0.8, Aliases: []string{"champion"}}}}}))
	sh := func(name, script string, deps ...string) api.Step {
		return api.Step{Name: name, Command: []string{"sh", "-c", script}, DependsOn: deps}
	}
	must(c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "train", PipelineSpec: api.PipelineSpec{
		Description: "Trains the churn model", Datasets: []string{"customers"}, PromoteTo: "champion",
		Parameters: map[string]string{"auc": "0.91", "fail": "no"},
		Steps: []api.Step{
			sh("load", `echo "read $(wc -l < "$MLOPS_DATASET_CUSTOMERS_URI") lines"`),
			sh("features", `echo "built 2 features"`, "load"),
			sh("fit", `if [ "$MLOPS_PARAM_FAIL" = yes ]; then echo "ValueError: column age has NaN" >&2; exit 1; fi
echo "epoch 1 loss=0.52"; echo "epoch 2 loss=0.41"
printf '{"auc": %s, "f1": 0.7}' "$MLOPS_PARAM_AUC" > "$MLOPS_OUTPUT_DIR/metrics.json"
echo weights > "$MLOPS_OUTPUT_DIR/model.bin"
echo '{"model": "churn", "artifact": "model.bin"}' > "$MLOPS_OUTPUT_DIR/model.json"`, "features"),
			sh("evaluate", `echo "auc $MLOPS_PARAM_AUC"`, "fit"),
			sh("report", `echo "report written"`, "load"),
		},
	}}))

	run := func(params map[string]string, want string) {
		t.Helper()
		r, err := c.CreateRun(ctx, "default", "train", params)
		if err != nil {
			t.Fatal(err)
		}
		until(t, 60*time.Second, fmt.Sprintf("run %d %s", r.ID, want), func() (bool, string) {
			got, err := c.GetRun(ctx, "default", "train", r.ID)
			if err != nil {
				t.Fatal(err)
			}
			return api.RunFinished(got.State), got.State + " " + got.Error
		})
		if got, _ := c.GetRun(ctx, "default", "train", r.ID); got.State != want {
			t.Fatalf("run %d: %s %s, want %s", r.ID, got.State, got.Error, want)
		}
	}
	run(nil, api.RunSucceeded) // version 1 becomes the champion

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"prediction": 0}`))
	}))
	t.Cleanup(backend.Close)
	zero, rollback := int64(0), true
	must(c.CreateDeployment(ctx, "default", api.CreateDeploymentRequest{Name: "churn-api", DeploymentSpec: api.DeploymentSpec{
		Model: "churn", Alias: "champion", Runtime: api.DeploymentRuntime{URL: backend.URL + "/v{version}"},
		Strategy: &api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{10, 50}, StepInterval: "1s", MinRequests: &zero, AutoRollback: &rollback},
	}}))
	waitDeployment(t, c, 1)
	run(map[string]string{"fail": "yes"}, api.RunFailed)
	run(map[string]string{"auc": "0.87"}, api.RunSucceeded) // version 2 takes the alias: the deployment rolls it out
	waitDeployment(t, c, 2)

	must(c.CreateMonitor(ctx, "default", api.CreateMonitorRequest{Name: "churn-drift", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "customers", CurrentDataset: "recent", Description: "Customers this week against the training data"}}))
	until(t, 30*time.Second, "the first evaluation", func() (bool, string) {
		m, err := c.GetMonitor(ctx, "default", "churn-drift")
		if err != nil {
			t.Fatal(err)
		}
		return m.Status != api.MonitorPending, m.Status
	})
	for i, shift := range []float64{0.1, 0.2, 0.35, 0.6, 0.9} {
		time.Sleep(300 * time.Millisecond) // spreads the chart's time axis a little
		writeCustomers(t, curPath, uint64(3+i), shift)
		must(c.EvaluateMonitor(ctx, "default", "churn-drift"))
	}
	return &world{ts: ts, viewer: ts.Token(t, api.RoleViewer, "default")}
}

// writeCustomers writes 400 rows: age ~ normal(40 + 12·shift, 12), plan
// moving from basic to pro as shift grows.
func writeCustomers(t *testing.T, path string, seed uint64, shift float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	var b strings.Builder
	b.WriteString("age,plan\n")
	for range 400 {
		plan := "basic"
		if r.Float64() < 0.3+shift/2 {
			plan = "pro"
		}
		fmt.Fprintf(&b, "%.1f,%s\n", 40+12*shift+12*r.NormFloat64(), plan)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func waitDeployment(t *testing.T, c interface {
	GetDeployment(ctx context.Context, project, name string) (*api.Deployment, error)
}, stable int64) {
	t.Helper()
	until(t, 60*time.Second, fmt.Sprintf("churn-api healthy on version %d", stable), func() (bool, string) {
		d, err := c.GetDeployment(context.Background(), "default", "churn-api")
		if err != nil {
			t.Fatal(err)
		}
		return d.Phase == api.PhaseHealthy && d.StableVersion == stable, fmt.Sprintf("%s stable %d canary %d@%d%%: %s", d.Phase, d.StableVersion, d.CanaryVersion, d.CanaryWeight, d.Message)
	})
}

func until(t *testing.T, within time.Duration, what string, done func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := done()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", within, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
