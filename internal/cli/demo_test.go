package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/monitoring"
)

func TestDemoStageTimeoutNamesStageAndLastSeen(t *testing.T) {
	var out bytes.Buffer
	d := &demo{n: newNarrator(&out)}
	err := d.stage(context.Background(), "9/9 canary of the retrained version", 300*time.Millisecond, func(ctx context.Context, p *progress) (string, error) {
		return "", d.await(ctx, p, func() (bool, string, error) {
			return false, "deployment progressing: stable v2, canary v3 at 10%: waiting for traffic (3 of 20 requests)", nil
		})
	})
	var se *stageError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a stageError", err)
	}
	for _, want := range []string{`stage "9/9 canary of the retrained version"`, "did not happen within 300ms", "last seen: deployment progressing: stable v2, canary v3 at 10%: waiting for traffic"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(d.stages) != 0 {
		t.Errorf("a failed stage went into the summary: %+v", d.stages)
	}
}

func TestDemoStageFailsAtOnceAndRecordsSuccess(t *testing.T) {
	var out bytes.Buffer
	d := &demo{n: newNarrator(&out)}
	if err := d.stage(context.Background(), "1/2 ok", time.Minute, func(context.Context, *progress) (string, error) {
		return "it happened", nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := d.stage(context.Background(), "2/2 broken", time.Minute, func(ctx context.Context, p *progress) (string, error) {
		return "", d.await(ctx, p, func() (bool, string, error) {
			return false, "", errors.New("run 2 failed: step train exited 1")
		})
	})
	if err == nil || !strings.Contains(err.Error(), `stage "2/2 broken": run 2 failed`) || time.Since(start) > 10*time.Second {
		t.Fatalf("err = %v after %s; want the run's failure at once", err, time.Since(start))
	}
	if len(d.stages) != 1 || d.stages[0].outcome != "it happened" {
		t.Errorf("stages = %+v", d.stages)
	}
	if !strings.Contains(out.String(), "== 1/2 ok ==") || !strings.Contains(out.String(), "done in") {
		t.Errorf("narration:\n%s", out.String())
	}
}

func TestDemoAwaitStopsWhenTheServerExits(t *testing.T) {
	d := &demo{n: newNarrator(&bytes.Buffer{}), serverDone: make(chan struct{}), serverErr: errors.New("signal: killed")}
	close(d.serverDone)
	err := d.await(context.Background(), &progress{}, func() (bool, string, error) { return false, "run 2 running", nil })
	if err == nil || !strings.Contains(err.Error(), "mlopsd exited (signal: killed)") || !strings.Contains(err.Error(), "run 2 running") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunEvents(t *testing.T) {
	at := func(s int) *time.Time { v := time.Unix(1700000000+int64(s), 0); return &v }
	zero := 0
	queued := api.PipelineRun{ID: 2, Pipeline: "train", Revision: 1, Trigger: "monitor:churn-inputs", TriggerEvaluation: 7, State: api.RunQueued,
		Steps: []api.RunStep{{Name: "train", State: "pending"}}}
	running := queued
	running.State, running.StartedAt = api.RunRunning, at(0)
	running.Steps = []api.RunStep{{Name: "train", State: "running", Attempts: 1, StartedAt: at(0)}}
	done := running
	done.State, done.FinishedAt, done.Model, done.ModelVersion = api.RunSucceeded, at(6), "churn-classifier", 3
	done.Steps = []api.RunStep{{Name: "train", State: "succeeded", Attempts: 1, StartedAt: at(0), FinishedAt: at(5), ExitCode: &zero}}

	got := [][]string{runEvents(nil, queued), runEvents(&queued, running), runEvents(&running, done), runEvents(&done, done)}
	want := [][]string{
		{"run 2 of pipeline train (revision 1, trigger monitor:churn-inputs, evaluation 7): queued"},
		{"run 2 running", "  step train running"},
		{"  step train succeeded in 5s (exit code 0)", "run 2 succeeded after 6s: registered churn-classifier v3"},
		nil,
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("event %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	failed := running
	failed.State, failed.Error = api.RunFailed, "step train failed"
	failed.Steps = []api.RunStep{{Name: "train", State: "failed", ExitCode: ptr(2), LogTail: "compiling\npanic: boom\n"}}
	if got := runEvents(&running, failed); fmt.Sprint(got) != fmt.Sprint([]string{"  step train failed (exit code 2)", "run 2 failed: step train failed"}) {
		t.Errorf("failed run: %q", got)
	}
	if got := stepTails(failed); !strings.Contains(got, "step train ended with:\n  compiling\n  panic: boom") {
		t.Errorf("stepTails = %q", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestVersionAndPromotionLines(t *testing.T) {
	v := &api.ModelVersion{Version: 2, ModelVersionSpec: api.ModelVersionSpec{Metrics: map[string]float64{"auc": 0.875, "accuracy": 0.8}}, GateResults: []api.GateResult{
		{Gate: api.Gate{Metric: "accuracy", Op: ">=", Threshold: 0.7, Aliases: []string{"champion"}}, Value: ptr(0.8), Passed: true},
		{Gate: api.Gate{Metric: "f1", Op: ">=", Threshold: 0.9}, Passed: false},
	}}
	got := versionLines(v)
	want := []string{
		"v2 metrics: accuracy 0.8, auc 0.875",
		"  gate accuracy >= 0.7 (guards champion): 0.8, passed",
		"  gate f1 >= 0.9 (guards every alias): missing, FAILED",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("versionLines:\n got %q\nwant %q", got, want)
	}
	r := api.PipelineRun{ModelVersion: 3, Promotion: &api.Promotion{Alias: "champion", Promoted: true}}
	if got := promotionLine(r); got != "v3 passes the gates guarding champion: the run moves champion to it" {
		t.Errorf("promotionLine = %q", got)
	}
	r.Promotion = &api.Promotion{Alias: "champion", Reason: "version 3 stays unpromoted: accuracy 0.6 is not >= 0.7"}
	if got := promotionLine(r); !strings.Contains(got, "v3 is not promoted to champion: version 3 stays unpromoted") {
		t.Errorf("promotionLine = %q", got)
	}
}

func TestAliasEvents(t *testing.T) {
	got := aliasEvents(map[string]int64{"champion": 1, "old": 4}, map[string]int64{"champion": 2, "staging": 2})
	want := []string{"alias champion: v1 -> v2", "alias old removed (was v4)", "alias staging -> v2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := aliasEvents(map[string]int64{"champion": 2}, map[string]int64{"champion": 2}); got != nil {
		t.Errorf("no change said %q", got)
	}
}

func TestDeploymentLine(t *testing.T) {
	d := &api.Deployment{DeploymentStatus: api.DeploymentStatus{Phase: api.PhaseProgressing, StableVersion: 1, CanaryVersion: 2, CanaryWeight: 10,
		Message: "canary version 2 at 10%: waiting for traffic (3 of 20 requests)"}}
	if got := deploymentLine(d); got != "progressing: stable v1, canary v2 at 10%: waiting for traffic (3 of 20 requests)" {
		t.Errorf("got %q", got)
	}
	d.Message = "canary version 2 at 10%"
	if got := deploymentLine(d); got != "progressing: stable v1, canary v2 at 10%" {
		t.Errorf("got %q", got)
	}
	d.DeploymentStatus = api.DeploymentStatus{Phase: api.PhaseHealthy, StableVersion: 2, Message: "version 2 promoted after 2 canary steps; version 1 stopped"}
	if got := deploymentLine(d); got != "healthy: stable v2: version 2 promoted after 2 canary steps; version 1 stopped" {
		t.Errorf("got %q", got)
	}
}

func TestEvaluationLine(t *testing.T) {
	ev := &api.MonitorEvaluation{ID: 7, Status: api.MonitorDrifting, DriftedFeatures: 3, JudgedFeatures: 4, CurrentRows: 9960, Alert: true,
		RetrainRun: &api.RunRef{Pipeline: "train", ID: 2},
		Features: []api.FeatureDrift{
			{Feature: "tenure_months", Metric: "psi", Value: ptr(2.5), Drifted: true},
			{Feature: "plan", Metric: "jensen_shannon", Value: ptr(0.05)},
		}}
	want := "monitor evaluation 7: drifting, 3 of 4 features drifted over 9960 logged rows (tenure_months psi 2.5); alert raised; started run 2 of pipeline train"
	if got := evaluationLine(ev); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	ev = &api.MonitorEvaluation{ID: 1, Status: api.MonitorInsufficientData}
	if got := evaluationLine(ev); !strings.HasPrefix(got, "monitor evaluation 1: insufficient_data (0 logged rows") {
		t.Errorf("got %q", got)
	}
}

// judgeRows judges request rows against churn.csv as the quickstart's
// monitor does (psi and jensen_shannon at their default thresholds).
func judgeRows(t *testing.T, rows []map[string]any) *monitoring.Verdict {
	t.Helper()
	base, _, _, err := dataset.Columns(context.Background(), "../../examples/quickstart/churn.csv", "csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	cur := make([]dataset.Values, 0, len(demoFeatures))
	for _, f := range demoFeatures {
		v := dataset.Values{Name: f, Counts: map[string]int64{}}
		for _, r := range rows {
			switch x := r[f].(type) {
			case float64:
				v.Numeric = true
				v.Numbers = append(v.Numbers, x)
			case string:
				v.Counts[x]++
			}
		}
		cur = append(cur, v)
	}
	verdict, err := monitoring.Judge(&api.MonitorSpec{BaselineDataset: "churn", Features: demoFeatures}, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	return verdict
}

// The traffic must leave the monitor ok while it sends churn.csv's
// customers, and drift it soon after it switches, while most of the
// monitor's window still holds normal rows.
func TestDemoTrafficDriftsTheMonitorOnlyWhenSwitched(t *testing.T) {
	normal, err := trafficRows("../../examples/quickstart/churn.csv", demoFeatures)
	if err != nil {
		t.Fatal(err)
	}
	if len(normal) != 120 {
		t.Fatalf("%d rows, want churn.csv's 120", len(normal))
	}
	var window []map[string]any
	for range 7 {
		window = append(window, normal...)
	}
	if v := judgeRows(t, window); v.Status != api.MonitorOK || v.DriftedFeatures != 0 {
		t.Errorf("normal traffic: %s with %d features drifted, want ok with none", v.Status, v.DriftedFeatures)
	}
	// Four parts normal to one drifted: a few seconds after the switch.
	window = append(window[:4*120], driftedRows(120, 1)...)
	v := judgeRows(t, window)
	if v.Status != api.MonitorDrifting {
		t.Errorf("a fifth drifted: %s, %d of %d features drifted (%+v)", v.Status, v.DriftedFeatures, v.JudgedFeatures, v.Features)
	}
}

func TestTrafficCountsAnswersByVersion(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("Authorization") != "Bearer viewer" || r.URL.Path != "/deploy/predict" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if calls == 3 {
			http.Error(w, `{"error": "backend down"}`, http.StatusBadGateway)
			return
		}
		w.Header().Set("X-Mlops-Version", fmt.Sprint(1+calls%2))
		fmt.Fprint(w, `{"predictions": [{"churned": true, "probability": 0.9}, {"churned": false, "probability": 0.1}]}`)
	}))
	defer srv.Close()
	tr := newTraffic(srv.URL+"/deploy", "viewer", []byte(`{"instances": []}`), []byte(`{"instances": []}`))
	for range 4 {
		tr.send(context.Background())
	}
	got := tr.totals()
	if got.requests != 4 || got.errors != 1 || got.byVersion[1] != 2 || got.byVersion[2] != 1 || got.churned != 3 || got.scored != 6 {
		t.Errorf("totals = %+v", got)
	}
	report := tr.report()
	for _, want := range []string{"traffic: 4 requests", "(v1 2, v2 1)", "1 errors", "50% predicted to churn", "502 Bad Gateway"} {
		if !strings.Contains(report, want) {
			t.Errorf("report %q lacks %q", report, want)
		}
	}
	if again := tr.report(); !strings.HasPrefix(again, "traffic: 0 requests") {
		t.Errorf("the window did not reset: %q", again)
	}
}

func TestTerraformOutput(t *testing.T) {
	for line, want := range map[string]string{
		"mlops_dataset.churn: Creation complete after 1s [id=quickstart/churn]": "  created mlops_dataset.churn in 1s",
		"mlops_deployment.churn_api: Still creating... [10s elapsed]":           "  mlops_deployment.churn_api still creating after 10s",
		"Apply complete! Resources: 9 added, 0 changed, 0 destroyed.":           "Apply complete! Resources: 9 added, 0 changed, 0 destroyed.",
		"mlops_dataset.churn: Creating...":                                      "",
	} {
		got, ok := terraformProgress(line)
		if got != want || ok != (want != "") {
			t.Errorf("terraformProgress(%q) = %q, %t; want %q", line, got, ok, want)
		}
	}
	out := strings.Split(`╷
│ Error: Invalid deployment
│
│   with mlops_deployment.churn_api,
│   on main.tf line 136, in resource "mlops_deployment" "churn_api":
│
│ version 2 did not start: not healthy within 1m0s
╵`, "\n")
	if got := terraformErrors(out); fmt.Sprint(got) != "[Error: Invalid deployment version 2 did not start: not healthy within 1m0s]" {
		t.Errorf("terraformErrors = %q", got)
	}
}

func TestFindCheckoutAndTools(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := findCheckout(filepath.Join(root, "internal", "cli")); err != nil || got != root {
		t.Errorf("findCheckout = %q, %v; want %q", got, err, root)
	}
	if _, err := findCheckout(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--repository") {
		t.Errorf("outside a checkout: %v", err)
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "terraform-provider-mlops")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findTool("", "terraform-provider-mlops", []string{filepath.Join(dir, "missing"), tool}, false); err != nil || got != tool {
		t.Errorf("findTool = %q, %v", got, err)
	}
	if _, err := findTool("", "terraform-provider-mlops", []string{filepath.Join(dir, "missing")}, false); err == nil {
		t.Error("findTool found a missing tool")
	}
	if _, err := findTool(filepath.Join(dir, "nope"), "terraform", nil, true); err == nil {
		t.Error("findTool accepted a --terraform that does not exist")
	}
}

func TestKeepRunningDefault(t *testing.T) {
	for _, c := range []struct {
		ci   string
		tty  bool
		want bool
	}{{"", true, true}, {"true", true, false}, {"", false, false}, {"false", true, true}} {
		if got := keepRunningDefault(c.ci, c.tty); got != c.want {
			t.Errorf("keepRunningDefault(%q, %t) = %t", c.ci, c.tty, got)
		}
	}
}

func TestLogTeeFindsTheAddress(t *testing.T) {
	var log bytes.Buffer
	found := make(chan string, 1)
	tee := &logTee{w: &log, found: found}
	line := `time=2025-01-01T00:00:00Z level=INFO msg="mlopsd serving" version=dev url=http://127.0.0.1:40123 database=sqlite role=all` + "\n"
	// Written in pieces, as a pipe may deliver it.
	for _, part := range []string{line[:80], line[80:95], line[95:]} {
		if _, err := tee.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case u := <-found:
		if u != "http://127.0.0.1:40123" {
			t.Errorf("found %q", u)
		}
	default:
		t.Error("the address was not found")
	}
	if log.String() != line {
		t.Errorf("log = %q", log.String())
	}
}

// TestAccDemo runs `mlopsd demo` as `make demo` does, with the real binaries
// and Terraform, and checks that every stage happened and that it cleaned up.
// It takes a few minutes; TF_ACC=1 and TF_ACC_TERRAFORM_PATH turn it on.
func TestAccDemo(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || tf == "" {
		t.Skip("the demo runs real Terraform: set TF_ACC=1 and TF_ACC_TERRAFORM_PATH")
	}
	bin := t.TempDir()
	for target, pkg := range map[string]string{"mlopsd": "../../cmd/mlopsd", "terraform-provider-mlops": "../.."} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, target), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "mlopsd"), "demo", "--terraform", tf, "--repository", "../..")
	cmd.Env = append(os.Environ(), "CI=true")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	t.Logf("mlopsd demo took %s:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("mlopsd demo: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"created mlops_deployment.churn_api",
		"answered by v1",
		"run 1 of pipeline train (revision 1, trigger manual)",
		"  step train succeeded",
		"gate accuracy >= 0.7 (guards champion): 0.8, passed",
		"alias champion: v1 -> v2",
		"canary v2 at 10%",
		"canary v2 at 50%",
		": ok, 0 of 4 features drifted",
		": drifting, ",
		"trigger monitor:churn-inputs",
		"alias champion: v2 -> v3",
		"canary v3 at 50%",
		"healthy: stable v3",
		"Dashboard: http",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
	if n := strings.Count(text, "\n9/9 canary of the retrained version"); n != 1 {
		t.Errorf("the summary lists the last stage %d times", n)
	}
	// Everything it started is gone.
	if m := regexp.MustCompile(`scratch directory (\S+)`).FindStringSubmatch(text); m == nil {
		t.Error("the demo did not say its scratch directory")
	} else if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory %s is still there (%v)", m[1], err)
	}
	if m := regexp.MustCompile(`serves (http://\S+):`).FindStringSubmatch(text); m == nil {
		t.Error("the demo did not say where mlopsd served")
	} else if resp, err := http.Get(m[1] + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("mlopsd still answers at %s after the demo", m[1])
	}
}
