package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/predlog"
	"github.com/mlopsplane/terraform-provider-mlops/internal/rollout"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/serving"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/training"
)

type serveOptions struct {
	listen, database, tlsCert, tlsKey, logFormat string
	dataRoots                                    []string
	executor, role, dataDir                      string
	runWorkers, stepConcurrency                  int
	shutdownTimeout                              time.Duration
	followInterval                               time.Duration
	allowPrivateWebhooks                         bool
	externalURL                                  string
	rateLimit                                    float64
	rateBurst                                    int
	kube                                         kubeOptions
}

// kubeOptions configure --executor kubernetes.
type kubeOptions struct {
	kubeconfig, namespace, serviceAccount, defaultImage, podTemplate, dataClaim string
	jobTTL, startTimeout                                                        time.Duration
}

// Environment variables for the rate limit flags.
const (
	EnvRateLimit = "MLOPSD_RATE_LIMIT"
	EnvRateBurst = "MLOPSD_RATE_BURST"
)

// rateLimitFromEnv fills the rate limit flags not given on the command line
// from the environment, and checks them.
func rateLimitFromEnv(cmd *cobra.Command, o *serveOptions) error {
	if v := os.Getenv(EnvRateLimit); v != "" && !cmd.Flags().Changed("rate-limit") {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%s=%q: want requests per second, such as 100 (0 turns the limit off)", EnvRateLimit, v)
		}
		o.rateLimit = f
	}
	if v := os.Getenv(EnvRateBurst); v != "" && !cmd.Flags().Changed("rate-burst") {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q: want a number of requests, such as 200", EnvRateBurst, v)
		}
		o.rateBurst = n
	}
	if o.rateLimit < 0 || math.IsNaN(o.rateLimit) || math.IsInf(o.rateLimit, 0) || o.rateBurst < 0 {
		return fmt.Errorf("--rate-limit %g and --rate-burst %d: use positive numbers, or --rate-limit 0 to turn the limit off", o.rateLimit, o.rateBurst)
	}
	return nil
}

func newServe(version string) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server",
		Long: "Run the API server. Pending database migrations are applied first.\n" +
			"Set " + EnvAdminToken + " to make sure an admin token with that value exists (for bootstrapping).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := rateLimitFromEnv(cmd, &o); err != nil {
				return err
			}
			if err := kubeFlagsNeedExecutor(cmd, o.executor); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return serve(ctx, version, o)
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", envOr(EnvListen, defaultListen), "address to listen on (env "+EnvListen+")")
	databaseFlag(cmd, &o.database)
	cmd.Flags().StringSliceVar(&o.dataRoots, "data-root", dataRootsDefault(),
		"directory whose files datasets may point at (repeatable; env "+EnvDataRoots+", "+string(os.PathListSeparator)+"-separated; default: the working directory)")
	cmd.Flags().StringVar(&o.executor, "executor", envOr(EnvExecutor, "local"),
		"how pipeline steps run: local (as processes of this server's user, with this server's permissions), kubernetes (a Job per step attempt) or none (env "+EnvExecutor+")")
	kubeFlags(cmd, &o.kube)
	cmd.Flags().StringVar(&o.role, "role", envOr(EnvRole, "all"), "api (serve the API), worker (run pipelines and fire schedules) or all (env "+EnvRole+")")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", envOr(EnvDataDir, "./mlops-data"), "directory for run working and output directories (env "+EnvDataDir+")")
	cmd.Flags().IntVar(&o.runWorkers, "run-workers", 4, "runs this process executes at once")
	cmd.Flags().IntVar(&o.stepConcurrency, "step-concurrency", 4, "steps of one run that execute at once")
	cmd.Flags().BoolVar(&o.allowPrivateWebhooks, "allow-private-webhooks", envBool(EnvAllowPrivateWebhooks),
		"let monitor webhooks reach loopback, private and link-local addresses (env "+EnvAllowPrivateWebhooks+"); off by default so API users cannot probe internal hosts")
	cmd.Flags().StringVar(&o.externalURL, "external-url", os.Getenv(EnvExternalURL),
		"base URL clients reach this server at, which deployment URLs start with (env "+EnvExternalURL+"; default: the listen address)")
	cmd.Flags().Float64Var(&o.rateLimit, "rate-limit", 100,
		"requests per second each token may keep up on /v1 (callers without a valid token: per client address); 0 turns the limit off (env "+EnvRateLimit+")")
	cmd.Flags().IntVar(&o.rateBurst, "rate-burst", 200, "requests a token may make at once before --rate-limit applies (env "+EnvRateBurst+")")
	cmd.Flags().StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS together with --tls-key")
	cmd.Flags().StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	cmd.Flags().StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().DurationVar(&o.followInterval, "deployment-follow-interval", time.Second,
		"how often this server re-reads the deployments' rollout status to serve them as the replica that decides rollouts does (several replicas on one database)")
	cmd.Flags().DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	return cmd
}

func newLogger(format string, w *os.File) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func serve(ctx context.Context, version string, o serveOptions) error {
	log, err := newLogger(o.logFormat, os.Stderr)
	if err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together: set both or neither")
	}
	st, err := sqlstore.Open(ctx, o.database, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if secret := os.Getenv(EnvAdminToken); secret != "" {
		if err := server.EnsureToken(ctx, st, secret, api.RoleAdmin, "bootstrap ("+EnvAdminToken+")"); err != nil {
			return fmt.Errorf("%s: %w", EnvAdminToken, err)
		}
	}
	reg := prometheus.NewRegistry()
	predictions := predlog.New(st, log.With("component", "predlog"))
	go predictions.Run(ctx)
	gw := gateway.New(reg, gateway.Options{Logger: log.With("component", "gateway"), Record: predictions.Record})
	defer gw.Close()
	var models *serving.Manager
	if o.executor == "local" {
		models = serving.NewManager(log.With("component", "serving"))
		defer models.StopAll()
	}
	controller := rollout.New(rollout.Config{Store: st, Gateway: gw, Serving: models, Logger: log.With("component", "rollout"),
		DataDir: filepath.Join(o.dataDir, "deployments"), Env: training.BaseEnv()})
	engine, err := newEngine(ctx, o, st, log, controller)
	if err != nil {
		return err
	}
	uiKey, err := uiSessionKey()
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, server.Config{Store: st, Logger: log, Version: version, DataRoots: o.dataRoots, Engine: engine,
		AllowPrivateWebhooks: o.allowPrivateWebhooks, Gateway: gw, Registry: reg, ExternalURL: o.externalURL,
		RateLimit: server.RateLimit{PerSecond: o.rateLimit, Burst: o.rateBurst}, UISessionKey: uiKey})
	if err != nil {
		return err
	}
	if err := engine.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	// Every replica serves every deployment as its stored status says.
	followCtx, stopFollow := context.WithCancel(ctx)
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		controller.Follow(followCtx, o.followInterval)
	}()
	defer func() { stopFollow(); <-followDone }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
		defer cancel()
		if err := engine.Stop(sctx); err != nil {
			log.Warn("stopping workers", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for every active request; log followers last as long
	// as their run, so they are told to end when it begins.
	hs.RegisterOnShutdown(srv.BeginShutdown)
	go purgeIdempotency(ctx, st, log)

	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	if o.externalURL == "" {
		srv.SetExternalURL(scheme + "://" + ln.Addr().String())
	}
	log.Info("mlopsd serving", "version", version, "url", scheme+"://"+ln.Addr().String(), "database", st.Dialect(), "role", o.role, "executor", o.executor)
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// purgeIdempotency drops idempotency records after a day: retries come within minutes.
func purgeIdempotency(ctx context.Context, st *sqlstore.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := st.PurgeIdempotent(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("purging idempotency records", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func dataRootsDefault() []string {
	if v := os.Getenv(EnvDataRoots); v != "" {
		return filepath.SplitList(v)
	}
	if wd, err := os.Getwd(); err == nil {
		return []string{wd}
	}
	return nil
}

// newEngine builds the run engine for the role: every role enqueues runs and
// firings; workers (worker, all) also execute them.
func newEngine(ctx context.Context, o serveOptions, st *sqlstore.Store, log *slog.Logger, deployments training.Reconciler) (*training.Engine, error) {
	work := false
	switch o.role {
	case "all", "worker":
		work = true
	case "api":
	default:
		return nil, fmt.Errorf("--role %q: use api, worker or all", o.role)
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, err
	}
	var ex executor.Executor
	env := training.BaseEnv()
	switch o.executor {
	case "local":
		ex = executor.NewLocal()
	case "kubernetes":
		// A container has its image's PATH and HOME; this machine's would break them.
		env = nil
		if work {
			if ex, err = newKubeExecutor(ctx, o.kube, dataDir, log); err != nil {
				return nil, err
			}
		}
	case "none":
	default:
		return nil, fmt.Errorf("--executor %q: use local, kubernetes or none", o.executor)
	}
	roots, err := dataset.NewRoots(o.dataRoots)
	if err != nil {
		return nil, err
	}
	return training.New(ctx, training.Config{
		Store: st, Logger: log, Executor: ex, Work: work, RunWorkers: o.runWorkers, StepConcurrency: o.stepConcurrency,
		DataDir: dataDir, Env: env, DataRoots: roots, AllowPrivateWebhooks: o.allowPrivateWebhooks,
		Deployments: deployments,
	})
}
