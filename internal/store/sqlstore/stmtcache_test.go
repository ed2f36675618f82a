package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

func openTestSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "mlops.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// cachedQueries returns the query texts one pooled connection has cached.
func cachedQueries(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	s.DB().SetMaxOpenConns(1) // so that the connection looked at is the one used
	conn, err := s.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := map[string]bool{}
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stmtCacheConn)
		if !ok {
			return fmt.Errorf("connection is a %T, not a *stmtCacheConn", dc)
		}
		for q := range c.stmts {
			out[q] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSQLiteConnectionsCacheStatements(t *testing.T) {
	s := openTestSQLite(t)
	s.DB().SetMaxOpenConns(1)
	ctx := context.Background()
	k := store.Key{Kind: store.KindModel, Project: "p", Name: "m"}
	for i := range 3 {
		o := &store.Object{Key: k, Data: []byte(`{}`)}
		if i > 0 {
			o.Name = fmt.Sprintf("m%d", i)
		}
		if err := s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// A failed write leaves its statement usable.
	if err := s.Create(ctx, &store.Object{Key: k, Data: []byte(`{}`)}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate create: %v, want ErrExists", err)
	}
	if err := s.Create(ctx, &store.Object{Key: store.Key{Kind: store.KindModel, Project: "p", Name: "m9"}, Data: []byte(`{}`)}); err != nil {
		t.Fatalf("create after a failed one: %v", err)
	}
	for range 2 {
		if _, err := s.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	cached := cachedQueries(t, s)
	if len(cached) == 0 {
		t.Fatal("no statement cached")
	}
	for q := range cached {
		if !cacheable(q) {
			t.Errorf("cached %q", q)
		}
	}
}

// A query run again while rows of the same query text are still open (in
// one transaction, so on one connection) must not reset the open statement.
func TestSQLiteCachedStatementInUseRunsAgain(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	for i := range 3 {
		if err := s.Create(ctx, &store.Object{Key: store.Key{Kind: store.KindModel, Project: "p", Name: fmt.Sprintf("m%d", i)}, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT name FROM objects WHERE kind = ? AND project = ? ORDER BY name`
	err := s.InTx(ctx, func(st store.Store) error {
		tx := st.(*Store).Tx()
		outer, err := tx.QueryContext(ctx, q, string(store.KindModel), "p")
		if err != nil {
			return err
		}
		defer outer.Close()
		var names []string
		for outer.Next() {
			var n string
			if err := outer.Scan(&n); err != nil {
				return err
			}
			// The same text again, while outer is open.
			inner, err := tx.QueryContext(ctx, q, string(store.KindModel), "p")
			if err != nil {
				return err
			}
			count := 0
			for inner.Next() {
				count++
			}
			if err := inner.Close(); err != nil {
				return err
			}
			if count != 3 {
				return fmt.Errorf("inner query saw %d rows, want 3", count)
			}
			names = append(names, n)
		}
		if err := outer.Err(); err != nil {
			return err
		}
		if fmt.Sprint(names) != "[m0 m1 m2]" {
			return fmt.Errorf("outer query saw %v", names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCacheable(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT 1`:                              true,
		"\n\t\tselect kind FROM objects":        true,
		`INSERT INTO t VALUES (?);`:             true,
		`UPDATE t SET a = 1 RETURNING a`:        true,
		`CREATE TABLE t (a INT); INSERT INTO t`: false,
		`BEGIN IMMEDIATE`:                       false,
		`SAVEPOINT request_1`:                   false,
		`PRAGMA journal_mode`:                   false,
		`VACUUM INTO ?`:                         false,
	} {
		if got := cacheable(q); got != want {
			t.Errorf("cacheable(%q) = %v, want %v", q, got, want)
		}
	}
}
