package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// TokenPrefix starts every token this server issues, so leaked ones are easy to scan for.
const TokenPrefix = "mlops_"

// HashToken is how tokens are stored: only the SHA-256 of the secret is kept.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewTokenSecret returns a fresh random token.
func NewTokenSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func newTokenID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tok_" + hex.EncodeToString(b[:])
}

// IssueToken stores a new token and returns its one-time secret.
func IssueToken(ctx context.Context, st store.Store, role, project, description string) (*api.Token, error) {
	if fe := validateTokenScope(role, project); fe != nil {
		return nil, fe
	}
	if project == "" {
		project = api.AllProjects
	}
	secret := NewTokenSecret()
	t := &store.Token{ID: newTokenID(), Hash: HashToken(secret), Role: role, Project: project, Description: description}
	if err := st.CreateToken(ctx, t); err != nil {
		return nil, err
	}
	out := tokenView(t)
	out.Secret = secret
	return &out, nil
}

// EnsureToken makes sure a token with this exact secret exists with the role,
// so deployments can bootstrap an admin from the environment. Idempotent.
func EnsureToken(ctx context.Context, st store.Store, secret, role, description string) error {
	if len(secret) < 16 {
		return errors.New("the bootstrap token must be at least 16 characters")
	}
	hash := HashToken(secret)
	if t, err := st.TokenByHash(ctx, hash); err == nil {
		if t.Role != role || t.Project != api.AllProjects {
			return errors.New("the bootstrap token exists with another role or project; delete it first")
		}
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := st.CreateToken(ctx, &store.Token{ID: newTokenID(), Hash: hash, Role: role, Project: api.AllProjects, Description: description})
	if errors.Is(err, store.ErrExists) {
		return nil // a replica starting at the same time created it
	}
	return err
}

func validateTokenScope(role, project string) *api.FieldError {
	switch role {
	case api.RoleAdmin:
		if project != "" && project != api.AllProjects {
			return api.Errorf("project", "an admin token acts on every project; leave project empty")
		}
	case api.RoleEditor, api.RoleViewer:
		if project != "" && project != api.AllProjects {
			return api.ValidateName("project", project)
		}
	default:
		return api.Errorf("role", "%q is not a role; use admin, editor or viewer", role)
	}
	return nil
}

func tokenView(t *store.Token) api.Token {
	return api.Token{ID: t.ID, Role: t.Role, Project: t.Project, Description: t.Description, CreatedAt: t.CreatedAt}
}

// principal is the authenticated caller.
type principal struct {
	tokenID string
	role    string
	project string // api.AllProjects or one project
}

type principalKey struct{}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// canRead says whether the caller may read the project's objects.
func (p *principal) canRead(project string) bool {
	return p.role == api.RoleAdmin || p.project == api.AllProjects || p.project == project
}

// canWrite says whether the caller may change the project's objects.
func (p *principal) canWrite(project string) bool {
	return p.role == api.RoleAdmin || (p.role == api.RoleEditor && (p.project == api.AllProjects || p.project == project))
}

// authenticate resolves the bearer token of a request (once: the rate
// limiter's answer for the same header is reused), from the token cache
// when it can (see tokenCache: another replica's revocation takes up to
// tokenCacheTTL to be seen here).
func (s *Server) authenticate(ctx context.Context, header string) (*principal, error) {
	if ra, ok := ctx.Value(resolvedAuthKey{}).(*resolvedAuth); ok && ra.header == header {
		return ra.p, ra.err
	}
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" {
		return nil, errUnauthenticated
	}
	hash := HashToken(strings.TrimSpace(secret))
	key := tokenCacheKey{hash: hash}
	p, gen := s.tokens.get(key)
	if p != nil {
		return p, nil
	}
	t, err := s.store.TokenByHash(ctx, hash)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errUnauthenticated
		}
		return nil, err
	}
	// The lookup already matched the hash; comparing again in constant time
	// keeps the check independent of how the database compares strings.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
		return nil, errUnauthenticated
	}
	p = &principal{tokenID: t.ID, role: t.Role, project: t.Project}
	s.tokens.put(key, p, gen)
	return p, nil
}

var errUnauthenticated = errors.New("unauthenticated")

// authorize is the Huma middleware that enforces each operation's access rule.
func (s *Server) authorize(ctx huma.Context, next func(huma.Context)) {
	a, _ := ctx.Operation().Metadata["access"].(access)
	if a == accessPublic {
		next(ctx)
		return
	}
	p, err := s.authenticate(ctx.Context(), ctx.Header("Authorization"))
	if err != nil {
		if errors.Is(err, errUnauthenticated) {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="mlopsd"`)
			_ = huma.WriteErr(s.api, ctx, http.StatusUnauthorized, "a valid bearer token is required: send Authorization: Bearer <token>")
			return
		}
		herr := s.storeError(ctx.Context(), store.Key{Kind: "token"}, err)
		var se huma.StatusError
		if errors.As(herr, &se) {
			if se.GetStatus() == http.StatusServiceUnavailable {
				ctx.SetHeader("Retry-After", "2") // as storeError's 503s say
			}
			_ = huma.WriteErr(s.api, ctx, se.GetStatus(), se.Error())
		}
		return
	}
	project := ctx.Param("project")
	if project == "" && strings.HasPrefix(ctx.Operation().Path, "/v1/projects/{name}") {
		project = ctx.Param("name")
	}
	allowed := false
	switch a {
	case accessAuthenticated:
		allowed = true
	case accessRead:
		allowed = p.canRead(project)
	case accessWrite:
		allowed = p.canWrite(project)
	case accessProjectAdmin:
		allowed = p.role == api.RoleAdmin || (p.role == api.RoleEditor && p.project == api.AllProjects)
	case accessAdmin:
		allowed = p.role == api.RoleAdmin
	}
	if !allowed {
		_ = huma.WriteErr(s.api, ctx, http.StatusForbidden, forbiddenMessage(p, a, project))
		return
	}
	if ctx.Operation().OperationID == "delete-token" {
		// Once the token is deleted (or not found), lookups cached or begun
		// before no longer count: revocation is at once on this replica.
		defer s.tokens.forget(ctx.Param("id"))
	}
	next(huma.WithValue(ctx, principalKey{}, p))
}

func forbiddenMessage(p *principal, a access, project string) string {
	scope := "every project"
	if p.project != api.AllProjects {
		scope = "project " + p.project
	}
	switch a {
	case accessAdmin:
		return "this operation needs an admin token; yours is " + p.role + " for " + scope
	case accessProjectAdmin:
		return "creating, changing or deleting projects needs an admin token or an editor token for every project; yours is " + p.role + " for " + scope
	case accessWrite:
		return "writing to project " + project + " needs an editor or admin token for it; yours is " + p.role + " for " + scope
	}
	return "your token (" + p.role + " for " + scope + ") may not read project " + project
}
