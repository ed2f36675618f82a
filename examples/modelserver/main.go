// Command modelserver serves a model version trained by examples/trainer:
// it scores rows with the model.bin.json artifact. It is what the quickstart
// deploys with a command runtime; mlopsd starts one per replica with the
// environment below and routes traffic to it once /healthz answers 200.
//
//	go run ./examples/trainer --data examples/quickstart/churn.csv --out /tmp/out
//	PORT=8501 MLOPS_ARTIFACT_URI=file:///tmp/out/model.bin.json MLOPS_MODEL=churn-classifier MLOPS_MODEL_VERSION=2 \
//	    go run ./examples/modelserver
//	curl -d '{"instances": [{"tenure_months": 3, "monthly_spend": 80, "support_tickets": 4, "plan": "basic"}]}' \
//	    http://127.0.0.1:8501/predict
//	{"predictions":[{"churned":true,"probability":0.7476432076188366}],"model":"churn-classifier","version":2}
//
// An instance holds the CSV columns the model was trained on (other keys are
// ignored); a prediction holds the model's label (churned) and its
// probability. Bad input is answered 400 with {"error": "..."}.
//
// Environment:
//
//	PORT                    port to listen on, at 127.0.0.1 (required)
//	MLOPS_ARTIFACT_URI      the artifact: a path or a file:// URI (required)
//	MLOPS_MODEL             model name, echoed in every answer
//	MLOPS_MODEL_VERSION     model version, echoed in every answer
//	MLOPS_FAULT_ERROR_RATE  share of /predict requests answered 500, 0 to 1 (for testing rollbacks)
//	MLOPS_FAULT_LATENCY_MS  delay added to every /predict request (for testing rollbacks)
//
// It stops gracefully on SIGTERM or SIGINT. It uses only the standard library.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// maxBody bounds a /predict request body.
	maxBody = 1 << 20
	// shutdownTimeout is how long in-flight requests get after SIGTERM; it
	// stays under mlopsd's default grace of 5s, after which it SIGKILLs.
	shutdownTimeout = 4 * time.Second
)

type config struct {
	port      string
	artifact  string // a path
	model     string
	version   *int64 // nil when MLOPS_MODEL_VERSION is not set
	errorRate float64
	latency   time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "modelserver:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := parseConfig(getenv)
	if err != nil {
		return err
	}
	// Listen before loading the model: a port taken meanwhile fails at once
	// with "address already in use", which mlopsd recognizes and retries on
	// another port, and /healthz answers 503 until the model is loaded.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", c.port))
	if err != nil {
		return err
	}
	s := &server{cfg: c, rand: rand.Float64}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	m, err := loadModel(c.artifact)
	if err != nil {
		_ = srv.Close() // closes the listener; Serve returns on its own
		return err
	}
	s.model.Store(m)
	log.Info("serving", "addr", ln.Addr().String(), "model", c.model, "version", s.versionString(), "artifact", c.artifact)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func parseConfig(getenv func(string) string) (config, error) {
	c := config{port: getenv("PORT"), model: getenv("MLOPS_MODEL")}
	if p, err := strconv.ParseUint(c.port, 10, 16); err != nil {
		return c, fmt.Errorf("PORT=%q is not a port number", c.port)
	} else if p == 0 && c.port != "0" {
		return c, fmt.Errorf("PORT=%q is not a port number", c.port)
	}
	var err error
	if c.artifact, err = artifactPath(getenv("MLOPS_ARTIFACT_URI")); err != nil {
		return c, err
	}
	if v := getenv("MLOPS_MODEL_VERSION"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("MLOPS_MODEL_VERSION=%q is not an integer", v)
		}
		c.version = &n
	}
	if v := getenv("MLOPS_FAULT_ERROR_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return c, fmt.Errorf("MLOPS_FAULT_ERROR_RATE=%q is not a number from 0 to 1", v)
		}
		c.errorRate = r
	}
	if v := getenv("MLOPS_FAULT_LATENCY_MS"); v != "" {
		ms, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return c, fmt.Errorf("MLOPS_FAULT_LATENCY_MS=%q is not a whole number of milliseconds", v)
		}
		c.latency = time.Duration(ms) * time.Millisecond
	}
	return c, nil
}

type server struct {
	cfg   config
	model atomic.Pointer[model] // nil until loaded
	rand  func() float64        // decides which requests fail; fixed by tests
}

type predictRequest struct {
	Instances []map[string]any `json:"instances"`
}

type predictResponse struct {
	Predictions []map[string]any `json:"predictions"`
	Model       string           `json:"model"`
	Version     *int64           `json:"version"`
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /predict", s.predict)
	return mux
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.model.Load() == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "model": s.cfg.model, "version": s.cfg.version})
}

func (s *server) predict(w http.ResponseWriter, r *http.Request) {
	m := s.model.Load()
	if m == nil {
		writeError(w, http.StatusServiceUnavailable, "the model is not loaded yet")
		return
	}
	// The faults come first, so they hit every request alike, as a broken
	// model server would.
	if s.cfg.latency > 0 {
		t := time.NewTimer(s.cfg.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	if s.cfg.errorRate > 0 && s.rand() < s.cfg.errorRate {
		writeError(w, http.StatusInternalServerError, "injected fault (MLOPS_FAULT_ERROR_RATE)")
		return
	}

	var req predictRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields() // a misspelt "instances" should not read as an empty request
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid JSON body: more than one JSON value")
		return
	}
	if len(req.Instances) == 0 {
		writeError(w, http.StatusBadRequest, `the body needs "instances": a non-empty list of objects`)
		return
	}
	resp := predictResponse{Predictions: make([]map[string]any, len(req.Instances)), Model: s.cfg.model, Version: s.cfg.version}
	for i, inst := range req.Instances {
		x, err := m.features(inst)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("instances[%d]: %v", i, err))
			return
		}
		p := m.score(x)
		resp.Predictions[i] = map[string]any{m.Label: p >= m.Threshold, "probability": p}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) versionString() string {
	if s.cfg.version == nil {
		return ""
	}
	return strconv.FormatInt(*s.cfg.version, 10)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
