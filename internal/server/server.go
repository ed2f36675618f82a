// Package server is mlopsd's HTTP API: Huma operations on a chi router, with
// authentication, idempotency, metrics and the handlers of each kind.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/gateway"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/webhook"
)

// MaxBodyBytes bounds every request body; larger ones get 413.
const MaxBodyBytes = 1 << 20

// Config is what a Server needs.
type Config struct {
	Store   store.Store
	Logger  *slog.Logger
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Registry receives the server's Prometheus metrics; nil means a new one.
	Registry *prometheus.Registry
	// DataRoots are the directories whose files datasets may point at. The
	// server reads and profiles those files, and profiles show values, so
	// anything outside them (say /etc) is refused. Empty means none.
	DataRoots []string
	// Engine runs pipelines, fires schedules and evaluates monitors; nil
	// serves the API alone (runs cannot be started and schedules do not fire).
	Engine Engine
	// AllowPrivateWebhooks accepts monitor webhook URLs on loopback and
	// private networks (--allow-private-webhooks).
	AllowPrivateWebhooks bool
	// Gateway routes deployments' traffic; nil serves none.
	Gateway *gateway.Gateway
	// ExternalURL is how clients reach this server (deployment URLs start
	// with it); SetExternalURL sets it once the listener is known.
	ExternalURL string
	// RateLimit bounds each token's (or address's) request rate on /v1; the
	// zero value serves without a limit.
	RateLimit RateLimit
	// UISessionKey signs the dashboard's session cookies (at least 32 bytes);
	// empty means a random key per process (sessions end on restart).
	UISessionKey []byte
}

// Server serves the /v1 API.
type Server struct {
	store       store.Store
	log         *slog.Logger
	now         func() time.Time
	router      chi.Router
	api         huma.API
	metrics     *metrics
	roots       dataset.Roots
	engine      Engine
	webhooks    *webhook.Sender
	gateway     *gateway.Gateway
	tokens      *tokenCache
	externalURL string
	limiter     *limiter // nil: no rate limit
	// auditFailures counts changes whose audit record could not be written.
	auditFailures prometheus.Counter
	// stopping is closed by BeginShutdown.
	stopping     chan struct{}
	stopStopping sync.Once
}

func init() {
	// Huma reports schema violations as 422; this API keeps 422 for refusals
	// of well-formed requests (a gate that fails) and answers bad input with 400.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		details := make([]*huma.ErrorDetail, 0, len(errs))
		for _, e := range errs {
			if e == nil {
				continue
			}
			if d, ok := e.(huma.ErrorDetailer); ok {
				details = append(details, d.ErrorDetail())
			} else {
				details = append(details, &huma.ErrorDetail{Message: e.Error()})
			}
		}
		return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: msg, Errors: details}
	}
}

// New builds a server and makes sure the default project exists.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	s := &Server{store: cfg.Store, log: cfg.Logger, now: cfg.Now, engine: cfg.Engine, gateway: cfg.Gateway,
		tokens:      newTokenCache(tokenCacheTTL, tokenCacheMax, time.Now),
		externalURL: strings.TrimSuffix(cfg.ExternalURL, "/"), stopping: make(chan struct{})}
	roots, err := dataset.NewRoots(cfg.DataRoots)
	if err != nil {
		return nil, err
	}
	s.roots = roots
	s.webhooks = webhook.NewSender(webhook.Policy{AllowPrivate: cfg.AllowPrivateWebhooks}, 10*time.Second)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	s.auditFailures = newAuditFailures(reg)
	s.limiter = newLimiter(cfg.RateLimit, s.now)

	r := chi.NewRouter()
	r.Use(s.recoverer, s.metrics.middleware, s.logRequests, s.rateLimit, s.idempotency)
	hc := huma.DefaultConfig("mlopsd", cfg.Version)
	hc.CreateHooks = nil // no $schema links in bodies: clients round-trip them
	hc.DocsPath = ""
	hc.OpenAPIPath = "/openapi"
	hc.Info.Description = "Declarative MLOps control plane: projects, datasets, pipelines, models, versions, aliases, retraining schedules, runs and drift monitors."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer"},
	}
	hc.Security = []map[string][]string{{"bearer": {}}}
	hc.FieldsOptionalByDefault = true
	s.api = humachi.New(r, hc)
	s.api.UseMiddleware(s.authorize, s.audit)
	s.router = r

	s.registerHealth(reg)
	s.registerProjects()
	s.registerDatasets()
	s.registerPipelines()
	s.registerModels()
	s.registerModelVersions()
	s.registerModelAliases()
	s.registerSchedules()
	s.registerRuns()
	s.registerMonitors()
	s.registerDeployments()
	s.mountGateway()
	s.registerTokens()
	s.registerAudit()
	if err := s.mountUI(cfg); err != nil {
		return nil, err
	}

	if err := s.ensureDefaultProject(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.router }

// BeginShutdown ends the responses that would otherwise last until a run
// does (GET …/logs?follow=true), so that http.Server.Shutdown, which waits
// for every active request, finishes once the ordinary ones have. Register
// it with http.Server.RegisterOnShutdown.
func (s *Server) BeginShutdown() { s.stopStopping.Do(func() { close(s.stopping) }) }

// SetExternalURL sets the base URL of deployment URLs (when it is known only
// after the server was built, as with a listener on port 0). Call it before serving.
func (s *Server) SetExternalURL(u string) { s.externalURL = strings.TrimSuffix(u, "/") }

// OpenAPI returns the API's OpenAPI 3.1 document.
func (s *Server) OpenAPI() ([]byte, error) {
	return json.MarshalIndent(s.api.OpenAPI(), "", "  ")
}

func (s *Server) ensureDefaultProject(ctx context.Context) error {
	p := api.Project{Name: api.DefaultProject, Description: "Created by mlopsd at first start."}
	data, _ := json.Marshal(p)
	err := s.store.Create(ctx, &store.Object{Key: store.Key{Kind: store.KindProject, Name: p.Name}, Data: data})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("create default project: %w", err)
	}
	return nil
}

// access says who may call an operation; every operation declares one.
type access string

const (
	accessPublic access = "public"
	// accessAuthenticated: any valid token (results are filtered by its scope).
	accessAuthenticated access = "authenticated"
	accessRead          access = "read"
	accessWrite         access = "write"
	// accessProjectAdmin: creating, changing or deleting projects themselves.
	accessProjectAdmin access = "project-admin"
	accessAdmin        access = "admin"
)

// op registers an operation with its access rule; an operation without a rule cannot be registered.
func register[I, O any](s *Server, a access, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	if a == "" {
		panic("operation " + op.OperationID + " has no access rule")
	}
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata["access"] = a
	if a == accessPublic {
		op.Security = []map[string][]string{}
	}
	op.MaxBodyBytes = MaxBodyBytes
	huma.Register(s.api, op, handler)
}

// Routes lists every registered operation with its access rule, for the authorization tests.
func (s *Server) Routes() []Route {
	var out []Route
	for path, item := range s.api.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{
			http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put, http.MethodDelete: item.Delete,
		} {
			if op == nil {
				continue
			}
			a, _ := op.Metadata["access"].(access)
			out = append(out, Route{Method: method, Path: path, Access: string(a), OperationID: op.OperationID})
		}
	}
	return out
}

// Route describes one operation.
type Route struct {
	Method, Path, Access, OperationID string
}
