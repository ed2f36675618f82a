// Package testserver starts a real mlopsd API in-process for tests: a fresh
// database (SQLite, or PostgreSQL when MLOPS_TEST_STORE=postgres), an admin
// token and a client for it.
package testserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/predlog"
	"github.com/mlopsplane/terraform-provider-mlops/internal/rollout"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/serving"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/training"
)

// Instance is a running test server.
type Instance struct {
	URL        string
	AdminToken string
	Store      *sqlstore.Store
	Server     *server.Server
	Engine     *training.Engine
	// Models runs the deployments' model servers.
	Models *serving.Manager
	// Gateway routes the deployments' traffic.
	Gateway *gateway.Gateway
	// Client is authenticated as admin.
	Client *client.Client
}

// Option changes how Start runs the server.
type Option func(*options)

type options struct {
	logSink io.Writer
}

// WithLogSink also writes everything the server logs (API, engine, gateway,
// model servers), as slog text from debug level up, to w, so a test can read
// what an operator would see. w must be safe for concurrent use; LogBuffer is.
// MLOPS_TEST_SERVER_LOG still prints the logs to stderr besides.
func WithLogSink(w io.Writer) Option {
	return func(o *options) { o.logSink = w }
}

// LogBuffer collects log output written from many goroutines; String may be
// called at any time, also while the server is still writing.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLogger is the server's logger: silent unless MLOPS_TEST_SERVER_LOG is
// set (stderr, info and up, as before) or a sink is given (debug and up).
func newLogger(o options) *slog.Logger {
	toStderr := os.Getenv("MLOPS_TEST_SERVER_LOG") != ""
	switch {
	case o.logSink == nil && !toStderr:
		return slog.New(slog.DiscardHandler)
	case o.logSink == nil:
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	w := o.logSink
	if toStderr {
		w = io.MultiWriter(os.Stderr, w)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Start runs a server until the test ends.
func Start(t testing.TB, opts ...Option) *Instance {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, storetest.DatabaseURL(t), true)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	storetest.LimitConnections(st)
	logger := newLogger(o)
	roots, err := dataset.NewRoots([]string{os.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Deployments launch model servers and route to them like the real
	// server, with quick health checks so rollouts settle fast.
	reg := prometheus.NewRegistry()
	predictions := predlog.New(st, logger)
	logCtx, stopLog := context.WithCancel(ctx)
	go predictions.Run(logCtx)
	gw := gateway.New(reg, gateway.Options{HealthInterval: 100 * time.Millisecond, Logger: logger, Record: predictions.Record})
	t.Cleanup(gw.Close)
	t.Cleanup(stopLog)
	models := serving.NewManager(logger)
	t.Cleanup(models.StopAll)
	controller := rollout.New(rollout.Config{
		Store: st, Gateway: gw, Serving: models, Logger: logger, DataDir: filepath.Join(t.TempDir(), "deployments"),
		Env: training.BaseEnv(), RetryAfter: time.Second,
	})
	// Webhook receivers in tests listen on loopback, and their retries
	// should come within the test's patience.
	engine, err := training.New(ctx, training.Config{
		Store: st, Logger: logger, Executor: executor.NewLocal(), Work: true,
		DataDir: filepath.Join(t.TempDir(), "runs"), Env: training.BaseEnv(), PollInterval: 100 * time.Millisecond,
		DataRoots: roots, AllowPrivateWebhooks: true, NotifyBackoff: 200 * time.Millisecond, NotifyBackoffMax: 2 * time.Second,
		Deployments: controller,
	})
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	srv, err := server.New(ctx, server.Config{Store: st, Logger: logger, Version: "test", DataRoots: []string{os.TempDir()}, Engine: engine,
		AllowPrivateWebhooks: true, Gateway: gw, Registry: reg})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatalf("start engine: %v", err)
	}
	followCtx, stopFollow := context.WithCancel(ctx)
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		controller.Follow(followCtx, 200*time.Millisecond)
	}()
	t.Cleanup(func() { stopFollow(); <-followDone })
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = engine.Stop(sctx)
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	srv.SetExternalURL(hs.URL)
	admin, err := server.IssueToken(ctx, st, api.RoleAdmin, "", "test admin")
	if err != nil {
		t.Fatalf("issue admin token: %v", err)
	}
	inst := &Instance{URL: hs.URL, AdminToken: admin.Secret, Store: st, Server: srv, Engine: engine, Models: models, Gateway: gw}
	inst.Client = inst.NewClient(t, admin.Secret)
	return inst
}

// NewClient returns a client for the server with the given token and fast retries.
func (i *Instance) NewClient(t testing.TB, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: i.URL, Token: token, RetryMax: 2, RetryWaitMin: 10e6, RetryWaitMax: 50e6})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// Token issues a token with a role, scoped to project ("" for all).
func (i *Instance) Token(t testing.TB, role, project string) string {
	t.Helper()
	tok, err := server.IssueToken(context.Background(), i.Store, role, project, "test")
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return tok.Secret
}
