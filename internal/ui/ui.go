// Package ui is mlopsd's read-only dashboard at /ui: pages rendered on the
// server with html/template, an embedded stylesheet, and inline SVG drawn in
// Go for the DAGs, the lineage graph and the drift charts. There is no
// JavaScript and nothing is fetched from elsewhere, so it works offline and
// needs no build step. It reads the same store the API does, and shows a
// token only the projects the API would let it read.
package ui

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Base is where the server mounts the dashboard; every link starts with it.
const Base = "/ui"

//go:embed templates/*.html static/*
var assets embed.FS

// Principal is a signed-in token: what it may read.
type Principal struct {
	TokenID string
	Role    string
	// Project is one project, or api.AllProjects.
	Project string
}

// CanRead says whether the token may read the project, by the API's rule.
func (p *Principal) CanRead(project string) bool {
	return p.Role == api.RoleAdmin || p.Project == api.AllProjects || p.Project == project
}

// ErrInvalidToken is what Config.Authenticate returns for a token that does not exist.
var ErrInvalidToken = errors.New("invalid token")

// Config is what the dashboard needs.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Authenticate checks a token's secret exactly as the API does, returning
	// ErrInvalidToken when it is not a token.
	Authenticate func(ctx context.Context, secret string) (*Principal, error)
	// SessionKey signs session cookies (HMAC-SHA256); at least 32 bytes.
	// Empty: a random key, so sessions end when the process restarts and
	// replicas do not accept each other's.
	SessionKey []byte
	// SessionTTL is how long a login lasts; default 12h.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure on plain HTTP too, for a server
	// behind a proxy that terminates TLS. Requests over TLS always get Secure cookies.
	SecureCookies bool
	// ExternalURL returns the base URL deployment URLs start with.
	ExternalURL func() string
	// AllowLogin rate-limits login attempts: false refuses the attempt for
	// the returned duration. Nil allows every attempt.
	AllowLogin func(r *http.Request) (bool, time.Duration)
}

// DefaultSessionTTL is how long a login lasts unless configured.
const DefaultSessionTTL = 12 * time.Hour

// MinSessionKeyBytes is the shortest session key accepted.
const MinSessionKeyBytes = 32

type handler struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	key   []byte
	ttl   time.Duration
	pages map[string]*template.Template
}

// New returns the dashboard's handler, to be mounted at Base.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Authenticate == nil {
		return nil, errors.New("ui: a store and an authenticator are required")
	}
	h := &handler{cfg: cfg, log: cfg.Logger, now: cfg.Now, key: cfg.SessionKey, ttl: cfg.SessionTTL}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ttl <= 0 {
		h.ttl = DefaultSessionTTL
	}
	switch {
	case len(h.key) == 0:
		h.key = make([]byte, MinSessionKeyBytes)
		if _, err := rand.Read(h.key); err != nil {
			return nil, err
		}
	case len(h.key) < MinSessionKeyBytes:
		return nil, fmt.Errorf("ui: the session key must be at least %d bytes", MinSessionKeyBytes)
	}
	if h.cfg.ExternalURL == nil {
		h.cfg.ExternalURL = func() string { return "" }
	}
	pages, err := parsePages(h.now)
	if err != nil {
		return nil, err
	}
	h.pages = pages

	css, err := assets.ReadFile("static/style.css")
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Get("/static/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(css)
	})
	r.Get("/login", h.loginForm)
	r.Post("/login", h.login)
	r.Post("/logout", h.logout)
	r.Group(func(r chi.Router) {
		r.Use(h.requireSession)
		r.Get("/", h.projects)
		r.Route("/p/{project}", func(r chi.Router) {
			r.Use(h.requireProjectAccess)
			r.Get("/", h.project)
			r.Get("/{kind:pipelines|models|monitors|deployments}", h.kindList)
			r.Get("/pipelines/{name}", h.pipeline)
			r.Get("/pipelines/{name}/runs/{id}", h.run)
			r.Get("/models/{name}", h.model)
			r.Get("/models/{name}/versions/{version}", h.version)
			r.Get("/monitors/{name}", h.monitor)
			r.Get("/deployments/{name}", h.deployment)
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	return r, nil
}

// securityHeaders keep the pages from being framed, sniffed or made to load
// anything from elsewhere; the pages need no script at all.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

type principalKey struct{}

func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// requireSession lets a request through with a valid session cookie, and
// sends anyone else to the login form (coming back here afterwards).
func (h *handler) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.session(r)
		switch {
		case errors.Is(err, errNoSession):
			if _, err := r.Cookie(sessionCookie); err == nil {
				h.clearCookie(w, r, sessionCookie) // expired, revoked or forged
			}
			http.Redirect(w, r, Base+"/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case err != nil:
			h.storeFailure(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// requireProjectAccess answers 403 before anything of a project the token
// may not read is looked at, and 404 for a project that does not exist.
func (h *handler) requireProjectAccess(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		project := chi.URLParam(r, "project")
		p := principalFrom(r.Context())
		if !p.CanRead(project) {
			h.errorPage(w, r, http.StatusForbidden, fmt.Sprintf("Your token (%s for %s) may not read project %q.", p.Role, scopeText(p), project))
			return
		}
		proj, o, err := get[api.Project](r.Context(), h.cfg.Store, store.ProjectKey(project))
		if err != nil {
			h.readFailure(w, r, err, fmt.Sprintf("Project %q does not exist.", project))
			return
		}
		proj.Meta = meta(o)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), projectCtxKey{}, proj)))
	})
}

func scopeText(p *Principal) string {
	if p.Role == api.RoleAdmin || p.Project == api.AllProjects {
		return "every project"
	}
	return "project " + p.Project
}

// readFailure answers a failed read: 404 with notFound for a missing object.
func (h *handler) readFailure(w http.ResponseWriter, r *http.Request, err error, notFound string) {
	if errors.Is(err, store.ErrNotFound) {
		h.errorPage(w, r, http.StatusNotFound, notFound)
		return
	}
	h.storeFailure(w, r, err)
}

func (h *handler) storeFailure(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "2")
		h.errorPage(w, r, http.StatusServiceUnavailable, "The database is unavailable; reload the page shortly.")
	case errors.Is(err, store.ErrBadPageToken):
		h.errorPage(w, r, http.StatusBadRequest, "That page link is not one this server made; start again from the first page.")
	case errors.Is(err, context.Canceled):
	default:
		h.log.ErrorContext(r.Context(), "ui: internal error", "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on the server; it has been logged.")
	}
}

type errorData struct {
	pageBase
	Status  int
	Message string
}

func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := &errorData{Status: status, Message: msg}
	d.Title = http.StatusText(status)
	h.render(w, r, status, "error", d)
}
