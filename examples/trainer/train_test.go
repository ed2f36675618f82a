package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const quickstartCSV = "../quickstart/churn.csv"

// isolateEnv blanks the variables the trainer reads, so a test run inside an
// mlopsd step (or a shell that exports them) sees only what the test sets.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"MLOPS_OUTPUT_DIR", "MLOPS_PARAM_LEARNING_RATE", "MLOPS_PARAM_EPOCHS",
		"MLOPS_PARAM_L2", "MLOPS_PARAM_SEED", "MLOPS_PARAM_TEST_FRACTION"} {
		t.Setenv(v, "")
	}
}

// train runs the trainer and returns its output directory.
func train(t *testing.T, args ...string) string {
	t.Helper()
	out := t.TempDir()
	if err := run(append([]string{"--data", quickstartCSV, "--out", out}, args...), os.Getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	return out
}

func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		name           string
		scores, labels []float64
		want           float64
	}{
		// Ranks 1..4 are 0.1, 0.35, 0.4, 0.8; positives hold ranks 2 and 4:
		// (2+4 - 2·3/2) / (2·2) = 3/4.
		{"distinct", []float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75},
		// The 0.5 tie across classes counts half: (1 + 0.5 + 2) / 4.
		{"tie across classes", []float64{0.2, 0.5, 0.5, 0.9}, []float64{0, 0, 1, 1}, 0.875},
		{"all tied", []float64{0.3, 0.3, 0.3, 0.3}, []float64{1, 0, 1, 0}, 0.5},
		{"perfect", []float64{0.1, 0.2, 0.7, 0.9}, []float64{0, 0, 1, 1}, 1},
		{"reversed", []float64{0.9, 0.7, 0.2, 0.1}, []float64{0, 0, 1, 1}, 0},
		{"one class", []float64{0.1, 0.9}, []float64{1, 1}, 0.5},
	} {
		if got := auc(tc.scores, tc.labels); !near(got, tc.want) {
			t.Errorf("%s: auc = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAUCMatchesPairCount checks the rank statistic against its definition,
// counting every positive/negative pair, on scores with many ties.
func TestAUCMatchesPairCount(t *testing.T) {
	var scores, labels []float64
	for i := range 200 {
		scores = append(scores, float64((i*37)%11)/10)
		labels = append(labels, float64((i*13)%7%2))
	}
	var wins, pairs float64
	for i := range scores {
		for j := range scores {
			if labels[i] == 1 && labels[j] == 0 {
				pairs++
				switch {
				case scores[i] > scores[j]:
					wins++
				case scores[i] == scores[j]:
					wins += 0.5
				}
			}
		}
	}
	if got, want := auc(scores, labels), wins/pairs; !near(got, want) {
		t.Errorf("auc = %v, pair count gives %v", got, want)
	}
}

func TestLogLoss(t *testing.T) {
	// -(ln 0.9 + ln 0.8) / 2
	if got, want := logLoss([]float64{0.9, 0.2}, []float64{1, 0}), 0.164252033486018; !near(got, want) {
		t.Errorf("log loss = %v, want %v", got, want)
	}
	if got := logLoss([]float64{0.5, 0.5}, []float64{1, 0}); !near(got, math.Ln2) {
		t.Errorf("log loss of coin flips = %v, want ln 2", got)
	}
	// A certain, wrong prediction is clipped at 1e-15 rather than infinite.
	if got, want := logLoss([]float64{0}, []float64{1}), -math.Log(1e-15); !near(got, want) {
		t.Errorf("log loss of a certain mistake = %v, want %v", got, want)
	}
}

func TestEvaluateThresholdMetrics(t *testing.T) {
	// Predictions at 0.5: tp = 0.9 and 0.6, fp = 0.8, fn = 0.3, tn = 0.1.
	m := evaluate([]float64{0.9, 0.8, 0.3, 0.6, 0.1}, []float64{1, 0, 1, 1, 0}, 0.5)
	for name, want := range map[string]float64{"accuracy": 0.6, "precision": 2.0 / 3, "recall": 2.0 / 3, "f1": 2.0 / 3} {
		if !near(m[name], want) {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	// No positive predictions: precision and f1 are 0, not NaN.
	m = evaluate([]float64{0.1, 0.2}, []float64{1, 0}, 0.5)
	if m["precision"] != 0 || m["f1"] != 0 {
		t.Errorf("with no positive predictions, metrics = %v", m)
	}
}

func TestTrainOnQuickstart(t *testing.T) {
	isolateEnv(t)
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"--data", quickstartCSV, "--out", out}, os.Getenv, &stdout); err != nil {
		t.Fatal(err)
	}
	if s := stdout.String(); !strings.HasPrefix(s, "churn-classifier: auc=") || strings.Count(s, "\n") != 1 {
		t.Errorf("summary = %q, want one line starting with the model and auc", s)
	}

	manifest := readJSON[map[string]string](t, filepath.Join(out, "model.json"))
	if manifest["model"] != "churn-classifier" || manifest["artifact"] != "model.bin.json" {
		t.Errorf("model.json = %v", manifest)
	}

	// With the defaults (seed 1, 300 epochs) the held-out 30 rows give
	// auc 0.8750, accuracy 0.8000, log_loss 0.3929, precision 1, recall 0.25,
	// f1 0.4. Always predicting the training churn rate (25/90) would score
	// accuracy 22/30 ≈ 0.733 and log_loss ≈ 0.580, so these bounds, a little
	// below what the model achieves, still demand that it beat that.
	m := readJSON[map[string]float64](t, filepath.Join(out, "metrics.json"))
	if m["train_rows"] != 90 || m["test_rows"] != 30 {
		t.Errorf("rows: train %v, test %v; want 90 and 30", m["train_rows"], m["test_rows"])
	}
	if m["auc"] < 0.85 || m["accuracy"] < 0.75 || m["log_loss"] > 0.45 {
		t.Errorf("metrics = %v, want auc >= 0.85, accuracy >= 0.75, log_loss <= 0.45", m)
	}
	for _, k := range []string{"precision", "recall", "f1"} {
		if v, ok := m[k]; !ok || v < 0 || v > 1 {
			t.Errorf("%s = %v (present %v), want within [0, 1]", k, v, ok)
		}
	}

	// The artifact alone is enough to score rows: apply it to the whole file.
	art := readJSON[model](t, filepath.Join(out, "model.bin.json"))
	if len(art.Weights) != 6 || len(art.Mean) != 6 || len(art.Std) != 6 || strings.Join(art.Features, ",") !=
		"tenure_months,monthly_spend,support_tickets,plan=basic,plan=pro,plan=enterprise" {
		t.Fatalf("artifact = %+v", art)
	}
	d, err := loadCSV(quickstartCSV)
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, len(d.x))
	for i, x := range d.x {
		scores[i] = art.predict(x)
	}
	if got := auc(scores, d.y); got < 0.8 {
		t.Errorf("the loaded artifact scores auc %v on all 120 rows, want >= 0.8", got)
	}
}

func TestSameSeedSameResult(t *testing.T) {
	isolateEnv(t)
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a, b := train(t, "--seed", "7"), train(t, "--seed", "7")
	for _, name := range []string{"metrics.json", "model.bin.json"} {
		if read(a, name) != read(b, name) {
			t.Errorf("%s differs between two runs with seed 7", name)
		}
	}
	if c := train(t, "--seed", "2"); read(a, "metrics.json") == read(c, "metrics.json") {
		t.Error("seeds 7 and 2 gave identical metrics; the seed does not reach the split")
	}
}

func TestPipelineParametersFromEnvironment(t *testing.T) {
	isolateEnv(t)
	logLossOf := func(dir string) float64 {
		return readJSON[map[string]float64](t, filepath.Join(dir, "metrics.json"))["log_loss"]
	}
	full := logLossOf(train(t))

	t.Setenv("MLOPS_PARAM_EPOCHS", "1")
	oneEpoch := logLossOf(train(t))
	if !(oneEpoch > full) {
		t.Errorf("MLOPS_PARAM_EPOCHS=1 gave log loss %v, want worse than %v after 300 epochs", oneEpoch, full)
	}
	// A flag on the command line wins over the variable.
	if got := logLossOf(train(t, "--epochs", "300")); got != full {
		t.Errorf("--epochs 300 with MLOPS_PARAM_EPOCHS=1 gave log loss %v, want %v", got, full)
	}

	t.Setenv("MLOPS_PARAM_EPOCHS", "many")
	err := run([]string{"--data", quickstartCSV, "--out", t.TempDir()}, os.Getenv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "MLOPS_PARAM_EPOCHS") {
		t.Errorf("a bad MLOPS_PARAM_EPOCHS gave %v, want an error naming it", err)
	}
	t.Setenv("MLOPS_PARAM_EPOCHS", "")

	// Without --out the outputs go to MLOPS_OUTPUT_DIR, as mlopsd expects.
	out := t.TempDir()
	t.Setenv("MLOPS_OUTPUT_DIR", out)
	if err := run([]string{"--data", quickstartCSV}, os.Getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := logLossOf(out); got != full {
		t.Errorf("writing to MLOPS_OUTPUT_DIR gave log loss %v, want %v", got, full)
	}
}

func TestErrors(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noPlan := write("no-plan.csv", "customer_id,tenure_months,monthly_spend,support_tickets,churned\nc1,3,20,1,true\n")
	badNumber := write("bad-number.csv", "tenure_months,monthly_spend,plan,support_tickets,churned\n3,20,pro,1,true\nten,20,pro,1,false\n")
	tiny := write("tiny.csv", "tenure_months,monthly_spend,plan,support_tickets,churned\n3,20,pro,1,true\n9,50,basic,0,false\n")
	badPlan := write("bad-plan.csv", "tenure_months,monthly_spend,plan,support_tickets,churned\n3,20,gold,1,true\n")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing data file", []string{"--data", filepath.Join(dir, "absent.csv"), "--out", dir}, "absent.csv: no such file"},
		{"missing column", []string{"--data", noPlan, "--out", dir}, `no-plan.csv: missing required column "plan"`},
		{"bad number", []string{"--data", badNumber, "--out", dir}, `bad-number.csv:3: column tenure_months: "ten" is not a number`},
		{"unknown plan", []string{"--data", badPlan, "--out", dir}, `"gold" is not one of basic, pro, enterprise`},
		{"no --data", []string{"--out", dir}, "--data is required"},
		{"no --out", []string{"--data", quickstartCSV}, "MLOPS_OUTPUT_DIR"},
		{"bad test fraction", []string{"--data", quickstartCSV, "--out", dir, "--test-fraction", "1"}, "test fraction"},
		{"too few rows", []string{"--data", tiny, "--out", dir}, "2 rows are too few to split"},
	} {
		err := run(tc.args, os.Getenv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, err, tc.want)
		}
	}

	err := run([]string{"--data", filepath.Join(dir, "absent.csv"), "--out", dir}, os.Getenv, io.Discard)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing data file: error %v does not wrap fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("failed runs left files behind: %v", entries)
	}
}
