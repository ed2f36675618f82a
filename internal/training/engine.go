// Package training makes pipelines run, schedules fire and drift monitors
// evaluate and alert (closing the loop back to retraining). Runs, firings,
// evaluations and alert webhooks are durable jobs in River, stored in the
// same database as everything else and enqueued in the same transaction as
// the write that causes them, so a restart loses none and replicas on one
// PostgreSQL work each job once.
package training

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/webhook"
)

// Config is what an Engine needs.
type Config struct {
	Store  *sqlstore.Store
	Logger *slog.Logger
	// Executor runs steps; nil means this server runs none (--executor none):
	// runs it picks up fail with a message saying so.
	Executor executor.Executor
	// Work makes this process run jobs (roles worker and all); without it the
	// engine only enqueues them for other processes.
	Work bool
	// RunWorkers bounds the runs this process executes at once.
	RunWorkers int
	// StepConcurrency bounds the steps of one run that execute at once.
	StepConcurrency int
	// DataDir holds each run's working and output directories.
	DataDir string
	// Now is the clock of schedule computations; nil means time.Now.
	Now func() time.Time
	// PollInterval is how often idle workers look for due jobs.
	PollInterval time.Duration
	// Env is the base environment of every step (PATH, HOME); the server's own
	// environment is never passed on.
	Env map[string]string
	// DataRoots bound the files monitors read, as they bound dataset profiling.
	DataRoots dataset.Roots
	// AllowPrivateWebhooks lets alert webhooks reach loopback and private
	// networks; off by default so a shared server cannot probe internal hosts.
	AllowPrivateWebhooks bool
	// NotifyBackoff is the wait before the first retry of a failed webhook,
	// doubling up to NotifyBackoffMax.
	NotifyBackoff, NotifyBackoffMax time.Duration
	// Deployments reconciles deployments; nil leaves them unserved.
	Deployments Reconciler
}

// Engine enqueues and works runs and schedule firings.
type Engine struct {
	cfg      Config
	store    *sqlstore.Store
	log      *slog.Logger
	now      func() time.Time
	river    *river.Client[*sql.Tx]
	driver   riverdriver.Driver[*sql.Tx]
	webhooks *webhook.Sender
	// stopPromote ends the promoter started by Start and waits for it.
	stopPromote func()
}

// Queues of the engine's jobs.
const (
	queueRuns          = "runs"
	queueSchedules     = "schedules"
	queueMonitors      = "monitors"
	queueNotifications = "notifications"
	queueDeployments   = "deployments"
)

// New migrates River's tables and builds the engine; Start begins working.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("training: a store is required")
	}
	e := &Engine{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.cfg.RunWorkers <= 0 {
		e.cfg.RunWorkers = 4
	}
	if e.cfg.StepConcurrency <= 0 {
		e.cfg.StepConcurrency = 4
	}
	if e.cfg.PollInterval <= 0 {
		e.cfg.PollInterval = time.Second
	}
	if e.cfg.NotifyBackoff <= 0 {
		e.cfg.NotifyBackoff = 10 * time.Second
	}
	if e.cfg.NotifyBackoffMax <= 0 {
		e.cfg.NotifyBackoffMax = 10 * time.Minute
	}
	e.webhooks = webhook.NewSender(webhook.Policy{AllowPrivate: cfg.AllowPrivateWebhooks}, 10*time.Second)
	if e.cfg.DataDir == "" {
		e.cfg.DataDir = filepath.Join(os.TempDir(), "mlopsd-runs")
	}
	switch cfg.Store.Dialect() {
	case "sqlite":
		e.driver = riversqlite.New(cfg.Store.DB())
	default:
		e.driver = riverdatabasesql.New(cfg.Store.DB())
	}
	migrator, err := rivermigrate.New(e.driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}

	rc := &river.Config{
		Logger:            slog.New(e.log.Handler()).With("component", "queue"),
		FetchPollInterval: e.cfg.PollInterval,
		FetchCooldown:     e.cfg.PollInterval / 10,
		// Runs have no timeout and heartbeat themselves; rescueLoop hands the
		// run of a dead worker on. The other kinds set their own Timeout, and
		// River rescues such a job left running once both have passed.
		RescueStuckJobsAfter: time.Minute,
		JobTimeout:           -1,
		MaxAttempts:          25,
	}
	if cfg.Work {
		firePoll := min(e.cfg.PollInterval, promoteInterval)
		workers := river.NewWorkers()
		river.AddWorker(workers, &runWorker{e: e})
		river.AddWorker(workers, &fireWorker{e: e})
		river.AddWorker(workers, &evalWorker{e: e})
		river.AddWorker(workers, &notifyWorker{e: e})
		river.AddWorker(workers, &reconcileWorker{e: e})
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{
			queueRuns: {MaxWorkers: e.cfg.RunWorkers},
			// Firing is short database work; many workers let thousands of
			// schedules due at once start within seconds. promoteLoop makes
			// firings available ahead of their due time, so this queue's poll
			// bounds how late they start.
			queueSchedules: {MaxWorkers: 32, FetchPollInterval: firePoll, FetchCooldown: firePoll / 10},
			// Evaluations hold whole columns in memory: a few at a time.
			queueMonitors:      {MaxWorkers: 2},
			queueNotifications: {MaxWorkers: 8},
			// Reconciles may wait for model servers to become healthy.
			queueDeployments: {MaxWorkers: 4},
		}
	}
	client, err := river.NewClient(e.driver, rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	e.river = client
	return e, nil
}

// Start begins working jobs (when configured to) and makes sure every
// schedule has its next firing queued.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.reconcileSchedules(ctx); err != nil {
		return err
	}
	if err := e.reconcileMonitors(ctx); err != nil {
		return err
	}
	if err := e.reconcileDeployments(ctx); err != nil {
		return err
	}
	if !e.cfg.Work {
		return nil
	}
	if err := e.river.Start(ctx); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx) // River too stops when ctx ends
	var wg sync.WaitGroup
	wg.Go(func() { e.promoteLoop(pctx) })
	wg.Go(func() { e.rescueLoop(pctx) })
	e.stopPromote = func() { cancel(); wg.Wait() }
	return nil
}

// Stop stops taking jobs and cancels running ones; their runs are picked up
// again by the next worker (runs restart from their first step).
func (e *Engine) Stop(ctx context.Context) error {
	if !e.cfg.Work {
		return nil
	}
	if e.stopPromote != nil {
		e.stopPromote()
	}
	return e.river.StopAndCancel(ctx)
}

// River's own scheduler makes scheduled jobs available only on the leader and
// only every 5s (not configurable in this version), looking 5s ahead. A job
// enqueued less than that before its due time (a new schedule's first
// firing, a canary step), or due while no leader is elected (after a restart,
// or for about 15s after the leader dies), would start up to 5s late, or
// later. So every working process runs the same promotion every
// promoteInterval, looking promoteLookahead ahead; producers take an
// available job only once its scheduled_at has passed, so promoting early is
// harmless. River's query locks the rows it moves, so replicas and River's
// scheduler can run it at once.
const (
	promoteInterval  = 200 * time.Millisecond
	promoteLookahead = time.Second
	// promoteBatch bounds one promotion transaction: on SQLite it holds the
	// write lock that firings wait for.
	promoteBatch = 1000
)

func (e *Engine) promoteLoop(ctx context.Context) {
	tick := time.NewTicker(promoteInterval)
	defer tick.Stop()
	failing := false
	for {
		err := e.promote(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			// Once per outage, not five times a second.
			e.log.Warn("making due jobs available", "err", err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// promote makes every scheduled or retryable job due within promoteLookahead
// available, with the query River's scheduler runs. The driver's executor is
// River's internal API, pinned with River's version in go.mod. The horizon is
// by the wall clock, as River's is, not by Config.Now.
func (e *Engine) promote(ctx context.Context) error {
	horizon := time.Now().Add(promoteLookahead)
	for {
		moved, err := e.driver.GetExecutor().JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: promoteBatch, Now: &horizon})
		if err != nil || len(moved) < promoteBatch {
			return err
		}
	}
}

// tx returns the SQL transaction of a store inside InTx.
func sqlTx(st store.Store) (*sql.Tx, error) {
	s, ok := st.(*sqlstore.Store)
	if !ok || s.Tx() == nil {
		return nil, errors.New("training: jobs must be enqueued inside a store transaction")
	}
	return s.Tx(), nil
}

// BaseEnv is the part of the server's environment a step may see: where to
// find programs, a home, a temp dir and the locale. Nothing else (tokens,
// database URLs) is passed on.
func BaseEnv() map[string]string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return env
}
