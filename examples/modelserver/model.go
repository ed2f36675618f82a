package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
)

// modelKind is the only kind of artifact examples/trainer writes.
const modelKind = "logistic-regression"

// model is the model.bin.json artifact of examples/trainer, field for field.
// A row is scored by building its features in Features order (a one-hot
// "column=value" feature is 1 when the row's column has that value), standardizing
// each as (x-Mean)/Std and taking sigmoid(Bias + Weights·x); a score of
// Threshold or more predicts the Label.
type model struct {
	Kind      string    `json:"kind"`
	Label     string    `json:"label"`
	Features  []string  `json:"features"`
	Mean      []float64 `json:"mean"`
	Std       []float64 `json:"std"`
	Weights   []float64 `json:"weights"`
	Bias      float64   `json:"bias"`
	Threshold float64   `json:"threshold"`

	// categories lists, per one-hot column, the values it may take.
	categories map[string][]string
}

// artifactPath turns MLOPS_ARTIFACT_URI, a path or a file:// URI, into a path.
func artifactPath(uri string) (string, error) {
	if uri == "" {
		return "", errors.New("MLOPS_ARTIFACT_URI is not set")
	}
	if !strings.Contains(uri, "://") {
		return uri, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("MLOPS_ARTIFACT_URI: %w", err)
	}
	switch {
	case u.Scheme != "file":
		return "", fmt.Errorf("MLOPS_ARTIFACT_URI %q: only file paths and file:// URIs can be served", uri)
	case u.Host != "" && u.Host != "localhost":
		return "", fmt.Errorf("MLOPS_ARTIFACT_URI %q: a file:// URI must name a local file (no host)", uri)
	case u.Path == "":
		return "", fmt.Errorf("MLOPS_ARTIFACT_URI %q has no path", uri)
	}
	return u.Path, nil
}

func loadModel(path string) (*model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading artifact: %w", err)
	}
	var m model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a model artifact: %w", path, err)
	}
	if err := m.init(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// init checks that the artifact can score rows, so a broken one fails at
// start (and the deployment with it) rather than on every request.
func (m *model) init() error {
	n := len(m.Features)
	switch {
	case m.Kind != modelKind:
		return fmt.Errorf("kind %q is not supported (want %q, what examples/trainer writes)", m.Kind, modelKind)
	case n == 0:
		return errors.New("the model has no features")
	case len(m.Mean) != n || len(m.Std) != n || len(m.Weights) != n:
		return fmt.Errorf("%d features but %d means, %d stds and %d weights", n, len(m.Mean), len(m.Std), len(m.Weights))
	}
	for j, s := range m.Std {
		if s == 0 {
			return fmt.Errorf("feature %q has std 0", m.Features[j])
		}
	}
	if m.Label == "" || m.Label == "probability" {
		m.Label = "label" // the key of the predicted class in each prediction
	}
	m.categories = map[string][]string{}
	for _, f := range m.Features {
		if col, val, ok := strings.Cut(f, "="); ok {
			m.categories[col] = append(m.categories[col], val)
		}
	}
	return nil
}

// features builds the raw feature vector of one instance. A numeric feature
// must be a JSON number. A one-hot feature "plan=pro" is read from the column
// ("plan": "pro"), or given directly ("plan=pro": 1). Keys the model does not
// use are ignored, as the trainer ignores extra CSV columns.
func (m *model) features(inst map[string]any) ([]float64, error) {
	x := make([]float64, len(m.Features))
	for j, f := range m.Features {
		col, val, oneHot := strings.Cut(f, "=")
		if v, ok := inst[f]; ok {
			n, ok := v.(float64)
			if b, isBool := v.(bool); oneHot && isBool {
				n, ok = boolFloat(b), true
			}
			if !ok {
				return nil, fmt.Errorf("%q must be a number, got %s", f, jsonType(v))
			}
			x[j] = n
			continue
		}
		if !oneHot {
			return nil, fmt.Errorf("missing feature %q", f)
		}
		v, ok := inst[col]
		if !ok {
			return nil, fmt.Errorf("missing feature %q (one of %s)", col, strings.Join(m.categories[col], ", "))
		}
		s, ok := v.(string)
		if !ok || !slices.Contains(m.categories[col], s) {
			return nil, fmt.Errorf("%q must be one of %s, got %s", col, strings.Join(m.categories[col], ", "), jsonValue(v))
		}
		x[j] = boolFloat(s == val)
	}
	return x, nil
}

// score is the probability of the label for raw features x.
func (m *model) score(x []float64) float64 {
	z := m.Bias
	for j, v := range x {
		z += m.Weights[j] * (v - m.Mean[j]) / m.Std[j]
	}
	return 1 / (1 + math.Exp(-z))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// jsonType names the JSON type of a decoded value, for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

func jsonValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return jsonType(v)
}
