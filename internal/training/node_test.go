package training_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
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

// node is one in-process mlopsd (store, engine, API) on a database URL that
// several nodes may share one after another, as a restarted server does.
type node struct {
	Store      *sqlstore.Store
	Engine     *training.Engine
	Client     *client.Client
	URL        string
	AdminToken string
	once       sync.Once
	stop       func()
}

// nodeOptions tunes a node; the zero value is testserver's setup.
type nodeOptions struct {
	// Now is the engine's clock (nil: time.Now).
	Now func() time.Time
}

// startNode opens the database and starts an engine that works jobs with the
// local executor and an API in front of it; Stop (or the test's end) stops it.
func startNode(t *testing.T, databaseURL string, o nodeOptions) *node {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, databaseURL, true)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	storetest.LimitConnections(st)
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("MLOPS_TEST_SERVER_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	reg := prometheus.NewRegistry()
	predictions := predlog.New(st, logger)
	logCtx, stopLog := context.WithCancel(ctx)
	go predictions.Run(logCtx)
	gw := gateway.New(reg, gateway.Options{HealthInterval: 100 * time.Millisecond, Logger: logger, Record: predictions.Record})
	models := serving.NewManager(logger)
	controller := rollout.New(rollout.Config{Store: st, Gateway: gw, Serving: models, Logger: logger,
		DataDir: filepath.Join(t.TempDir(), "deployments"), Env: training.BaseEnv(), RetryAfter: time.Second})
	engine, err := training.New(ctx, training.Config{
		Store: st, Logger: logger, Executor: executor.NewLocal(), Work: true, Now: o.Now,
		DataDir: filepath.Join(t.TempDir(), "runs"), Env: training.BaseEnv(), PollInterval: 100 * time.Millisecond,
		Deployments: controller,
	})
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	srv, err := server.New(ctx, server.Config{Store: st, Logger: logger, Version: "test", Engine: engine, Gateway: gw, Registry: reg})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatalf("start engine: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	srv.SetExternalURL(hs.URL)
	admin, err := server.IssueToken(ctx, st, api.RoleAdmin, "", "test admin")
	if err != nil {
		t.Fatalf("issue admin token: %v", err)
	}
	c, err := client.New(client.Config{Endpoint: hs.URL, Token: admin.Secret, RetryMax: 2, RetryWaitMin: 10e6, RetryWaitMax: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Store: st, Engine: engine, Client: c, URL: hs.URL, AdminToken: admin.Secret}
	n.stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := engine.Stop(sctx); err != nil {
			t.Errorf("stop engine: %v", err)
		}
		hs.Close()
		models.StopAll() // as the model servers die with a stopped mlopsd
		gw.Close()
		stopLog()
		_ = st.Close()
	}
	t.Cleanup(n.Stop)
	return n
}

// Stop stops the engine (as SIGTERM does), the API and the store.
func (n *node) Stop() { n.once.Do(n.stop) }

// scheduleRuns returns a schedule's runs of a pipeline, oldest first.
func scheduleRuns(t *testing.T, c *client.Client, pipeline, schedule string) []api.PipelineRun {
	t.Helper()
	all, err := c.ListRuns(context.Background(), "default", pipeline)
	if err != nil {
		t.Fatal(err)
	}
	var out []api.PipelineRun
	for _, r := range all {
		if r.Trigger == "schedule:"+schedule {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// until polls cond every 100ms until it holds or the deadline passes.
func until(t *testing.T, deadline time.Time, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up at %s: %s", what, time.Now().Format("15:04:05.000"), state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sleepUntil sleeps until t.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

func runStates(runs []api.PipelineRun) string {
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "[run %d %s created %s] ", r.ID, r.State, r.CreatedAt.Format("15:04:05.000"))
	}
	return b.String()
}

// buildMlopsd compiles the real binary.
func buildMlopsd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlopsd")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mlopsd").CombinedOutput()
	if err != nil {
		t.Fatalf("build mlopsd: %v\n%s", err, out)
	}
	return bin
}

// mlopsd is a running `mlopsd serve`.
type mlopsd struct {
	cmd  *exec.Cmd
	URL  string
	logs *syncBuilder
	done chan struct{}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startMlopsd runs `mlopsd serve --listen 127.0.0.1:0 args...` and waits until it listens.
func startMlopsd(t *testing.T, bin string, env []string, args ...string) *mlopsd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &mlopsd{cmd: cmd, logs: &syncBuilder{}, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		defer close(m.done)
		re := regexp.MustCompile(`url=(https?://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			m.logs.mu.Lock()
			m.logs.b.WriteString(sc.Text() + "\n")
			m.logs.mu.Unlock()
			if mm := re.FindStringSubmatch(sc.Text()); mm != nil {
				urlc <- mm[1]
			}
		}
	}()
	t.Cleanup(func() {
		m.Kill()
		if t.Failed() {
			t.Logf("mlopsd %v logs:\n%s", args, m.logs.String())
		}
	})
	select {
	case m.URL = <-urlc:
		return m
	case <-time.After(30 * time.Second):
		m.Kill()
		t.Fatalf("mlopsd did not start:\n%s", m.logs.String())
	}
	return nil
}

// Kill ends the process with SIGKILL: no shutdown, no resignation.
func (m *mlopsd) Kill() {
	if m.cmd.ProcessState == nil {
		_ = m.cmd.Process.Kill()
		<-m.done
		_ = m.cmd.Wait()
	}
}

// client returns an admin client of the process.
func (m *mlopsd) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoint: m.URL, Token: token, RetryMax: 2, RetryWaitMin: 10e6, RetryWaitMax: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
