package ui_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// site is a server with the dashboard mounted, on a store seeded directly
// (no engine): every page has something to show and nothing moves.
type site struct {
	t       testing.TB
	st      store.Store
	handler http.Handler
	admin   string
	viewer  string // viewer of project default only
	t0      time.Time
}

func newSite(t testing.TB, opts ...func(*server.Config)) *site {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	cfg := server.Config{Store: st, DataRoots: []string{t.TempDir()}, ExternalURL: "http://mlops.example.com"}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, st: st, handler: srv.Handler(), t0: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
	s.admin = s.token(api.RoleAdmin, "")
	s.viewer = s.token(api.RoleViewer, "default")
	s.seed()
	return s
}

func (s *site) token(role, project string) string {
	s.t.Helper()
	tok, err := server.IssueToken(context.Background(), s.st, role, project, "ui test")
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Secret
}

func (s *site) put(k store.Key, ordinal int64, v any) {
	s.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.st.Create(context.Background(), &store.Object{Key: k, Ordinal: ordinal, Data: data}); err != nil {
		s.t.Fatalf("seed %+v: %v", k, err)
	}
}

func at(t time.Time) *time.Time { return &t }
func fp(v float64) *float64     { return &v }
func ip(v int) *int             { return &v }

// trainSteps is a DAG with a fork and a join: load → features → fit → evaluate, load → report.
var trainSteps = []api.Step{
	{Name: "load", Command: []string{"python", "load.py"}},
	{Name: "features", Command: []string{"python", "features.py"}, DependsOn: []string{"load"}},
	{Name: "fit", Command: []string{"python", "fit.py"}, DependsOn: []string{"features"}},
	{Name: "evaluate", Command: []string{"python", "evaluate.py"}, DependsOn: []string{"fit"}},
	{Name: "report", Command: []string{"python", "report.py"}, DependsOn: []string{"load"}},
}

func (s *site) run(pipeline string, id int64, state string, stepStates map[string]string, started time.Time) api.PipelineRun {
	r := api.PipelineRun{Project: "default", Pipeline: pipeline, ID: id, Revision: 1, Trigger: "manual", State: state,
		StartedAt: at(started), InputVersions: map[string]int64{"customers": 3}}
	if api.RunFinished(state) {
		r.FinishedAt = at(started.Add(42 * time.Second))
	}
	for _, st := range trainSteps {
		rs := api.RunStep{Name: st.Name, State: stepStates[st.Name], Attempts: 1}
		if rs.State == "" {
			rs.State = "succeeded"
		}
		if rs.State != "pending" && rs.State != "skipped" {
			rs.StartedAt = at(started)
			if rs.State != "running" {
				rs.FinishedAt = at(started.Add(5 * time.Second))
				rs.ExitCode = ip(0)
			}
		}
		if rs.State == "failed" {
			rs.ExitCode, rs.Error = ip(1), "exit status 1"
		}
		r.Steps = append(r.Steps, rs)
	}
	return r
}

func (s *site) seed() {
	t0 := s.t0
	s.put(store.ProjectKey("other"), 0, api.Project{Name: "other", Description: "Someone else's"})
	s.put(store.PipelineKey("other", "secret-pipeline"), 0, api.Pipeline{Project: "other", Name: "secret-pipeline", Revision: 1,
		PipelineSpec: api.PipelineSpec{Steps: []api.Step{{Name: "x", Command: []string{"true"}}}}})

	spec := api.PipelineSpec{Description: "Trains the churn model", Steps: trainSteps, Datasets: []string{"customers"},
		PromoteTo: "champion", Parameters: map[string]string{"epochs": "10"}}
	s.put(store.PipelineKey("default", "train"), 0, api.Pipeline{Project: "default", Name: "train", Revision: 1, PipelineSpec: spec})
	s.put(store.PipelineRevisionKey("default", "train", 1), 1, api.PipelineRevision{Pipeline: "train", Revision: 1, Steps: trainSteps, Datasets: spec.Datasets})

	r1 := s.run("train", 1, api.RunFailed, map[string]string{"fit": "failed", "evaluate": "skipped"}, t0)
	r1.Error = `step "fit" failed: exit status 1`
	s.put(store.PipelineRunKey("default", "train", 1), 1, r1)
	s.put(store.RunLogKey("default", "train", 1, "fit"), 0, api.RunLog{Step: "fit", Text: "loading 300 rows\nValueError: column age has NaN\n"})

	r2 := s.run("train", 2, api.RunSucceeded, nil, t0.Add(time.Hour))
	r2.Model, r2.ModelVersion = "churn", 1
	r2.Promotion = &api.Promotion{Alias: "champion", Promoted: true}
	s.put(store.PipelineRunKey("default", "train", 2), 2, r2)
	s.put(store.RunLogKey("default", "train", 2, "fit"), 0, api.RunLog{Step: "fit", Text: "epoch 1 loss=0.52\nepoch 2 loss=0.41\n<script>alert(1)</script>\n"})

	r3 := s.run("train", 3, api.RunRunning, map[string]string{"fit": "running", "evaluate": "pending"}, t0.Add(2*time.Hour))
	s.put(store.PipelineRunKey("default", "train", 3), 3, r3)

	s.put(store.ModelKey("default", "churn"), 0, api.Model{Project: "default", Name: "churn", ModelSpec: api.ModelSpec{
		Description: "Predicts churn", Gates: []api.Gate{{Metric: "auc", Op: ">=", Threshold: 0.8, Aliases: []string{"champion"}}}}})
	s.put(store.ModelVersionKey("default", "churn", 1), 1, api.ModelVersion{Project: "default", Model: "churn", Version: 1,
		ModelVersionSpec: api.ModelVersionSpec{ArtifactURI: "file:///models/churn-1.json", Metrics: map[string]float64{"auc": 0.8312, "f1": 0.71},
			Dataset: "customers", DatasetVersion: 3, PipelineRunID: "default/train/2", Params: map[string]string{"epochs": "10"}}})
	s.put(store.ModelVersionKey("default", "churn", 2), 2, api.ModelVersion{Project: "default", Model: "churn", Version: 2,
		ModelVersionSpec: api.ModelVersionSpec{ArtifactURI: "file:///models/churn-2.json", Metrics: map[string]float64{"auc": 0.7634}}})
	s.put(store.ModelAliasKey("default", "churn", "champion"), 0, api.ModelAlias{Project: "default", Model: "churn", Alias: "champion", Version: 1})

	s.put(store.DeploymentKey("default", "churn-api"), 0, api.Deployment{Project: "default", Name: "churn-api", DeploymentSpec: api.DeploymentSpec{
		Model: "churn", Alias: "champion", Replicas: 1,
		Runtime:  api.DeploymentRuntime{Command: []string{"modelserver"}, HealthPath: "/healthz", Env: map[string]string{"API_KEY": "hunter2-deploy-secret"}},
		Strategy: &api.DeploymentStrategy{Type: api.StrategyCanary, Steps: []int{10, 50}, StepInterval: "1m"}}})
	// The rollout controller's stored status with its events (rollout.ReadStatus).
	state := map[string]any{
		"phase": "progressing", "target_version": 2, "stable_version": 1, "canary_version": 2, "canary_weight": 10,
		"message": "canary at 10%: 12 requests, 0% errors",
		"history": []map[string]any{
			{"time": t0.Add(time.Hour), "phase": "progressing", "target_version": 1, "canary_weight": 0, "message": "starting version 1"},
			{"time": t0.Add(time.Hour + time.Minute), "phase": "healthy", "target_version": 1, "stable_version": 1, "canary_weight": 0},
			{"time": t0.Add(3 * time.Hour), "phase": "progressing", "target_version": 2, "stable_version": 1, "canary_version": 2, "canary_weight": 10, "message": "canary at 10%: 12 requests, 0% errors"},
		},
	}
	s.put(store.DeploymentStateKey("default", "churn-api"), 0, state)

	s.put(store.MonitorKey("default", "churn-drift"), 0, api.Monitor{Project: "default", Name: "churn-drift", MonitorSpec: api.MonitorSpec{
		Model: "churn", BaselineDataset: "customers", Deployment: "churn-api", Metric: "psi", CategoricalMetric: "jensen_shannon",
		Interval: "1h", DriftShare: fp(0.5), Notification: &api.MonitorNotification{URL: "https://hooks.example.com/x", Secret: "hook-secret-value"}}})
	s.put(store.MonitorStateKey("default", "churn-drift"), 0, api.MonitorState{Status: api.MonitorDrifting, LastEvaluatedAt: at(t0.Add(6 * time.Hour)), LastEvaluationID: 6})
	ages := []float64{0.02, 0.03, 0.05, 0.08, 0.16, 0.27}
	plans := []float64{0.01, 0.02, 0.02, 0.03, 0.04, 0.05}
	for i := range ages {
		id := int64(i + 1)
		status := api.MonitorOK
		if ages[i] >= 0.1 {
			status = api.MonitorDrifting
		}
		ev := api.MonitorEvaluation{Project: "default", Monitor: "churn-drift", ID: id, Trigger: "interval",
			StartedAt: t0.Add(time.Duration(id) * time.Hour), FinishedAt: t0.Add(time.Duration(id)*time.Hour + time.Second),
			Status: status, DriftShareThreshold: 0.5, JudgedFeatures: 2, BaselineDataset: "customers", Deployment: "churn-api",
			Features: []api.FeatureDrift{
				{Feature: "age", Kind: "numeric", Metric: "psi", Value: fp(ages[i]), Threshold: 0.1, Drifted: ages[i] >= 0.1, Status: status, BaselineCount: 300, CurrentCount: 280},
				{Feature: "plan", Kind: "categorical", Metric: "jensen_shannon", Value: fp(plans[i]), Threshold: 0.1, Status: api.MonitorOK, BaselineCount: 300, CurrentCount: 280},
			}}
		if status == api.MonitorDrifting {
			ev.DriftedFeatures, ev.DriftShare = 1, 0.5
		}
		if id == 5 {
			ev.Alert = true
			ev.RetrainRun = &api.RunRef{Pipeline: "train", ID: 3}
		}
		s.put(store.MonitorEvaluationKey("default", "churn-drift", id), id, ev)
	}
}

// browser is a client of the site keeping cookies, as a person's browser would.
type browser struct {
	s       *site
	cookies map[string]*http.Cookie
}

func (s *site) browser() *browser { return &browser{s: s, cookies: map[string]*http.Cookie{}} }

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.s.t.Helper()
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.s.handler.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.s.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.s.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in through the form, as a person would, and fails the test unless it works.
func (b *browser) login(token string) {
	b.s.t.Helper()
	form := b.get("/ui/login")
	m := csrfRE.FindStringSubmatch(form.body)
	if form.status != http.StatusOK || m == nil {
		b.s.t.Fatalf("login form: %d %s", form.status, form.body)
	}
	res := b.post("/ui/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/ui/"}})
	if res.status != http.StatusSeeOther || b.cookies["mlops_ui_session"] == nil {
		b.s.t.Fatalf("login: %d %v %s", res.status, res.header, res.body)
	}
}

// want asserts a status and that the page shows every text.
func (p page) want(t testing.TB, status int, texts ...string) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Errorf("page does not show %q; body:\n%s", s, p.body)
		}
	}
	return p
}

func (p page) wantNot(t testing.TB, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(p.body, s) {
			t.Errorf("page shows %q, it must not", s)
		}
	}
}

// order asserts the texts appear in this order.
func (p page) order(t testing.TB, texts ...string) {
	t.Helper()
	last := -1
	for _, s := range texts {
		i := strings.Index(p.body, s)
		if i < 0 || i < last {
			t.Fatalf("%q is not after the texts before it in %v", s, texts)
		}
		last = i
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
