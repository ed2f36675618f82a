// Package storetest holds the conformance suite every store.Store
// implementation passes, and helpers that open throwaway stores for tests.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
)

// PostgresURLEnv names the variable that points tests at a PostgreSQL server.
const PostgresURLEnv = "MLOPS_TEST_POSTGRES_URL"

// StoreEnv picks the store for suites that run on one (sqlite, the default, or postgres).
const StoreEnv = "MLOPS_TEST_STORE"

// SQLite opens a fresh SQLite store in the test's temp directory.
func SQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "mlops.db"), true)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// PostgresURL returns a URL to a fresh, empty schema on the test PostgreSQL
// server (dropped when the test ends), or skips the test when none is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skipf("%s is not set; skipping PostgreSQL", PostgresURLEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema on %s: %v", PostgresURLEnv, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a store on a fresh schema, or skips without a server.
func Postgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), PostgresURL(t), true)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	LimitConnections(s)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// DatabaseURL returns a URL for a fresh database of the kind MLOPS_TEST_STORE names.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	if os.Getenv(StoreEnv) == "postgres" {
		if os.Getenv(PostgresURLEnv) == "" {
			t.Fatalf("%s=postgres needs %s", StoreEnv, PostgresURLEnv)
		}
		return PostgresURL(t)
	}
	return "sqlite://" + filepath.Join(t.TempDir(), "mlops.db")
}

// LimitConnections keeps a test store to a few database connections, so that
// tests running in parallel stay within PostgreSQL's max_connections (100).
func LimitConnections(s *sqlstore.Store) {
	if s.Dialect() == "postgres" {
		// Acceptance tests start their servers before they pause for t.Parallel,
		// so dozens of stores can be open at once: keep few connections each.
		s.DB().SetMaxOpenConns(10)
		s.DB().SetMaxIdleConns(2)
	}
}
