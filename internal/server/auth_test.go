package server_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// TestAuthorizationMatrix calls every registered operation with every kind of
// caller. A new operation without an access rule, or with one this table does
// not know, fails here.
func TestAuthorizationMatrix(t *testing.T) {
	e := newEnv(t)
	want(t, e.admin("POST", "/v1/projects", map[string]any{"name": "p"}), http.StatusCreated)
	want(t, e.admin("POST", "/v1/projects", map[string]any{"name": "other"}), http.StatusCreated)

	callers := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"bad token", "mlops_not-a-real-token"},
		{"viewer of p", e.ts.Token(t, api.RoleViewer, "p")},
		{"editor of other", e.ts.Token(t, api.RoleEditor, "other")},
		{"editor of p", e.ts.Token(t, api.RoleEditor, "p")},
		{"editor of all", e.ts.Token(t, api.RoleEditor, "")},
		{"admin", e.ts.AdminToken},
	}
	// allowed[access][caller] says whether the caller gets past authorization.
	allowed := map[string]map[string]bool{
		"public":        {"no token": true, "bad token": true, "viewer of p": true, "editor of other": true, "editor of p": true, "editor of all": true, "admin": true},
		"authenticated": {"viewer of p": true, "editor of other": true, "editor of p": true, "editor of all": true, "admin": true},
		"read":          {"viewer of p": true, "editor of p": true, "editor of all": true, "admin": true},
		"write":         {"editor of p": true, "editor of all": true, "admin": true},
		"project-admin": {"editor of all": true, "admin": true},
		"admin":         {"admin": true},
	}

	routes := e.ts.Server.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	if len(routes) < 35 {
		t.Fatalf("only %d routes registered; the matrix would miss some", len(routes))
	}
	params := strings.NewReplacer("{project}", "p", "{name}", "p", "{model}", "m", "{version}", "1", "{alias}", "a", "{revision}", "1", "{id}", "tok_x")
	for _, r := range routes {
		rule, ok := allowed[r.Access]
		if !ok {
			t.Errorf("%s %s (%s) has access rule %q, which this test does not know", r.Method, r.Path, r.OperationID, r.Access)
			continue
		}
		path := params.Replace(r.Path)
		for _, c := range callers {
			t.Run(fmt.Sprintf("%s/%s", r.OperationID, c.name), func(t *testing.T) {
				var body any
				if r.Method == http.MethodPost || r.Method == http.MethodPut {
					body = map[string]any{}
				}
				res := e.do(r.Method, path, c.token, body)
				switch {
				case rule[c.name] && (res.status == http.StatusUnauthorized || res.status == http.StatusForbidden):
					t.Fatalf("%s %s as %s: %d, want access (%s)", r.Method, path, c.name, res.status, res.body)
				case !rule[c.name] && (c.token == "" || c.name == "bad token") && res.status != http.StatusUnauthorized:
					t.Fatalf("%s %s as %s: %d, want 401", r.Method, path, c.name, res.status)
				case !rule[c.name] && c.token != "" && c.name != "bad token" && res.status != http.StatusForbidden:
					t.Fatalf("%s %s as %s: %d, want 403", r.Method, path, c.name, res.status)
				}
				if res.status >= 500 {
					t.Fatalf("%s %s as %s: %d %s", r.Method, path, c.name, res.status, res.body)
				}
			})
		}
	}
}

func TestUnauthenticatedAnswer(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/projects", "", nil)
	wantProblem(t, r, http.StatusUnauthorized, "", "bearer token")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	viewer := e.ts.Token(t, api.RoleViewer, "default")
	wantProblem(t, e.do("POST", "/v1/projects/default/models", viewer, map[string]any{"name": "m"}), http.StatusForbidden, "", "needs an editor or admin token")
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	var tok api.Token
	want(t, e.admin("POST", "/v1/tokens", map[string]any{"role": "editor", "project": "default", "description": "ci"}), http.StatusCreated).decode(t, &tok)
	if !strings.HasPrefix(tok.Secret, "mlops_") || tok.ID == "" || tok.Project != "default" {
		t.Fatalf("issued %+v", tok)
	}
	// The new token works, within its scope.
	want(t, e.do("POST", "/v1/projects/default/models", tok.Secret, map[string]any{"name": "m"}), http.StatusCreated)
	// Listing never shows secrets.
	r := want(t, e.admin("GET", "/v1/tokens", nil), http.StatusOK)
	if strings.Contains(string(r.body), tok.Secret) || strings.Contains(string(r.body), "secret") {
		t.Fatalf("token list leaks secrets: %s", r.body)
	}
	wantProblem(t, e.admin("POST", "/v1/tokens", map[string]any{"role": "root"}), http.StatusBadRequest, "body.role", "")
	wantProblem(t, e.admin("POST", "/v1/tokens", map[string]any{"role": "admin", "project": "default"}), http.StatusBadRequest, "body.project", "every project")
	// Revoked tokens stop working at once.
	want(t, e.admin("DELETE", "/v1/tokens/"+tok.ID, nil), http.StatusNoContent)
	want(t, e.do("GET", "/v1/projects/default/models", tok.Secret, nil), http.StatusUnauthorized)
	want(t, e.admin("DELETE", "/v1/tokens/"+tok.ID, nil), http.StatusNotFound)
}
