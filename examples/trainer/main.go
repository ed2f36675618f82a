// Command trainer fits a logistic-regression churn classifier on the
// quickstart CSV and writes what mlopsd registers as a model version:
// metrics.json, the model.json manifest and the model.bin.json artifact.
//
//	go run ./examples/trainer --data examples/quickstart/churn.csv --out /tmp/out
//
// Each hyperparameter flag falls back to its MLOPS_PARAM_<NAME> variable,
// which is how mlopsd hands pipeline parameters to a step, and --out falls
// back to MLOPS_OUTPUT_DIR. It uses only the standard library.
package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The CSV columns the trainer needs; any others (customer_id) are ignored.
var (
	numericColumns = []string{"tenure_months", "monthly_spend", "support_tickets"}
	plans          = []string{"basic", "pro", "enterprise"}
)

const (
	planColumn  = "plan"
	labelColumn = "churned"
	// artifactFile is the model itself; model.json only points at it.
	artifactFile = "model.bin.json"
)

type config struct {
	data, model, out string
	learningRate     float64
	epochs           int
	l2               float64
	seed             uint64
	testFraction     float64
}

// dataset holds raw (unstandardized) features: the numeric columns, then
// one 0/1 column per plan. y is 1 for churned customers.
type dataset struct {
	x [][]float64
	y []float64
}

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "trainer:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	c, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	d, err := loadCSV(c.data)
	if err != nil {
		return err
	}
	trainIdx, testIdx := split(d.y, c.testFraction, c.seed)
	if len(trainIdx) == 0 || !hasBothClasses(d.y, testIdx) {
		return fmt.Errorf("%s: %d rows are too few to split with --test-fraction %g (the test split needs both classes, the training split at least one row)",
			c.data, len(d.y), c.testFraction)
	}

	m := fit(d, trainIdx, c)
	probs := make([]float64, len(testIdx))
	labels := make([]float64, len(testIdx))
	for i, r := range testIdx {
		probs[i], labels[i] = m.predict(d.x[r]), d.y[r]
	}
	metrics := evaluate(probs, labels, m.Threshold)
	metrics["train_rows"] = float64(len(trainIdx))
	metrics["test_rows"] = float64(len(testIdx))

	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	// The manifest goes last: once it exists, the artifact it names does too.
	manifest := map[string]string{"model": c.model, "artifact": artifactFile}
	for _, f := range []struct {
		name string
		v    any
	}{{artifactFile, m}, {"metrics.json", metrics}, {"model.json", manifest}} {
		if err := writeJSON(filepath.Join(c.out, f.name), f.v); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s: auc=%.4f accuracy=%.4f log_loss=%.4f f1=%.4f (train %d rows, test %d rows, %d epochs) -> %s\n",
		c.model, metrics["auc"], metrics["accuracy"], metrics["log_loss"], metrics["f1"],
		len(trainIdx), len(testIdx), c.epochs, filepath.Join(c.out, artifactFile))
	return nil
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("trainer", flag.ContinueOnError)
	fs.StringVar(&c.data, "data", "", "CSV file to train on (required)")
	fs.StringVar(&c.model, "model", "churn-classifier", "registered model name written to model.json")
	fs.StringVar(&c.out, "out", "", "directory for the outputs (default $MLOPS_OUTPUT_DIR)")
	fs.Float64Var(&c.learningRate, "learning-rate", 0.1, "gradient descent step size (or MLOPS_PARAM_LEARNING_RATE)")
	fs.IntVar(&c.epochs, "epochs", 300, "full passes of batch gradient descent (or MLOPS_PARAM_EPOCHS)")
	fs.Float64Var(&c.l2, "l2", 0.001, "L2 penalty on the weights (or MLOPS_PARAM_L2)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the train/test split (or MLOPS_PARAM_SEED)")
	fs.Float64Var(&c.testFraction, "test-fraction", 0.25, "share of each class held out for evaluation (or MLOPS_PARAM_TEST_FRACTION)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	// A flag on the command line wins over the pipeline parameter.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range []string{"learning-rate", "epochs", "l2", "seed", "test-fraction"} {
		env := "MLOPS_PARAM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v := getenv(env); v != "" && !given[name] {
			if err := fs.Set(name, v); err != nil {
				return c, fmt.Errorf("%s=%q is not a valid --%s: %w", env, v, name, err)
			}
		}
	}
	if c.out == "" {
		c.out = getenv("MLOPS_OUTPUT_DIR")
	}

	switch {
	case c.data == "":
		return c, errors.New("--data is required")
	case c.out == "":
		return c, errors.New("--out is required when MLOPS_OUTPUT_DIR is not set")
	case c.model == "":
		return c, errors.New("--model must not be empty")
	case !(c.learningRate > 0):
		return c, fmt.Errorf("learning rate must be positive, got %g", c.learningRate)
	case c.epochs < 1:
		return c, fmt.Errorf("epochs must be at least 1, got %d", c.epochs)
	case !(c.l2 >= 0):
		return c, fmt.Errorf("l2 must not be negative, got %g", c.l2)
	case !(c.testFraction > 0 && c.testFraction < 1):
		return c, fmt.Errorf("test fraction must be between 0 and 1, got %g", c.testFraction)
	}
	return c, nil
}

// loadCSV reads the columns it needs by header name, so their order and any
// extra columns do not matter, and names the line of the first bad value.
func loadCSV(path string) (dataset, error) {
	var d dataset
	f, err := os.Open(path)
	if err != nil {
		return d, fmt.Errorf("reading data: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return d, fmt.Errorf("%s: reading header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, name := range slices.Concat(numericColumns, []string{planColumn, labelColumn}) {
		if _, ok := col[name]; !ok {
			return d, fmt.Errorf("%s: missing required column %q (header is %q)", path, name, strings.Join(header, ","))
		}
	}

	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("%s: %w", path, err)
		}
		field := func(name string) (string, int) {
			line, _ := r.FieldPos(col[name])
			return strings.TrimSpace(rec[col[name]]), line
		}
		row := make([]float64, 0, len(numericColumns)+len(plans))
		for _, name := range numericColumns {
			s, line := field(name)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return d, fmt.Errorf("%s:%d: column %s: %q is not a number", path, line, name, s)
			}
			row = append(row, v)
		}
		plan, line := field(planColumn)
		k := slices.Index(plans, plan)
		if k < 0 {
			return d, fmt.Errorf("%s:%d: column %s: %q is not one of %s", path, line, planColumn, plan, strings.Join(plans, ", "))
		}
		for i := range plans {
			row = append(row, boolFloat(i == k))
		}
		s, line := field(labelColumn)
		churned, err := strconv.ParseBool(s)
		if err != nil {
			return d, fmt.Errorf("%s:%d: column %s: %q is not true or false", path, line, labelColumn, s)
		}
		d.x = append(d.x, row)
		d.y = append(d.y, boolFloat(churned))
	}
	if len(d.y) == 0 {
		return d, fmt.Errorf("%s: no data rows", path)
	}
	return d, nil
}

func featureNames() []string {
	names := slices.Clone(numericColumns)
	for _, p := range plans {
		names = append(names, planColumn+"="+p)
	}
	return names
}

func hasBothClasses(y []float64, idx []int) bool {
	var pos int
	for _, i := range idx {
		pos += int(y[i])
	}
	return pos > 0 && pos < len(idx)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
