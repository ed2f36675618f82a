package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func TestTokenCache(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newTokenCache(2*time.Second, 3, clock.now)
	k := func(h string) tokenCacheKey { return tokenCacheKey{hash: h} }
	alice := &principal{tokenID: "tok_a", role: api.RoleAdmin, project: api.AllProjects}

	p, gen := c.get(k("a"))
	if p != nil {
		t.Fatal("an empty cache found a token")
	}
	c.put(k("a"), alice, gen)
	if p, _ := c.get(k("a")); p != alice {
		t.Fatalf("get after put = %v", p)
	}
	clock.advance(2 * time.Second)
	if p, _ := c.get(k("a")); p != nil {
		t.Fatal("an entry outlived its TTL")
	}

	// A lookup that began before a revocation is not remembered.
	_, gen = c.get(k("a"))
	c.forget("tok_a")
	c.put(k("a"), alice, gen)
	if p, _ := c.get(k("a")); p != nil {
		t.Fatal("a lookup begun before forget was cached")
	}
	_, gen = c.get(k("a"))
	c.put(k("a"), alice, gen)
	c.forget("tok_a")
	if p, _ := c.get(k("a")); p != nil {
		t.Fatal("forget left the token")
	}

	// The cache stays within its bound.
	for _, h := range []string{"1", "2", "3", "4", "5"} {
		_, gen := c.get(k(h))
		c.put(k(h), &principal{tokenID: "tok_" + h}, gen)
		if n := c.size(); n > 3 {
			t.Fatalf("%d entries, bound 3", n)
		}
	}
	if p, _ := c.get(k("5")); p == nil {
		t.Fatal("the newest entry was not kept")
	}
	clock.advance(3 * time.Second)
	_, gen = c.get(k("6"))
	c.put(k("6"), &principal{tokenID: "tok_6"}, gen)
	if n := c.size(); n != 1 {
		t.Fatalf("%d entries after the others expired, want 1", n)
	}
}

// TestRevokedTokenCache: a revocation through the API takes effect at once;
// one made elsewhere (another replica, here the store itself) within the TTL.
func TestRevokedTokenCache(t *testing.T) {
	s := limitedServer(t, RateLimit{}, nil)
	admin := secret(t, s, api.RoleAdmin, "")
	viewer, err := IssueToken(context.Background(), s.store, api.RoleViewer, "", "cache test")
	if err != nil {
		t.Fatal(err)
	}
	get := func(token string) int { return call(s, "/v1/projects/default", token, "192.0.2.1:1").Code }
	if code := get(viewer.Secret); code != http.StatusOK {
		t.Fatalf("viewer: %d", code)
	}

	// Deleted behind this server's back: still accepted from the cache.
	if err := s.store.DeleteToken(context.Background(), viewer.ID); err != nil {
		t.Fatal(err)
	}
	if code := get(viewer.Secret); code != http.StatusOK {
		t.Fatalf("viewer right after a revocation elsewhere: %d, want 200 from the cache", code)
	}

	// Revoked through the API: refused at once.
	other, err := IssueToken(context.Background(), s.store, api.RoleViewer, "", "cache test")
	if err != nil {
		t.Fatal(err)
	}
	if code := get(other.Secret); code != http.StatusOK {
		t.Fatalf("other: %d", code)
	}
	req := httptest.NewRequestWithContext(context.Background(), http.MethodDelete, "/v1/tokens/"+other.ID, nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if code := get(other.Secret); code != http.StatusUnauthorized {
		t.Fatalf("token revoked through the API: %d, want 401", code)
	}
}
