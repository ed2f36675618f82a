package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// TestRequestCallsUndoOnlyTheirWrites covers what run does without a
// savepoint per call: the call that begins the transaction fails (rolled
// back whole), savepoints left open by finished calls, nested calls.
func TestRequestCallsUndoOnlyTheirWrites(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) { testRequestCalls(t, open(t)) })
	}
}

func testRequestCalls(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustIs := func(err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("error %v, want %v", err, want)
		}
	}
	must(s.Create(ctx, model("taken")))

	run := func(key string, fn func(ctx context.Context)) {
		t.Helper()
		prior, err := s.Idempotent(ctx, "tok", key, "h", func(ctx context.Context) *store.IdempotentResponse {
			fn(ctx)
			return &store.IdempotentResponse{RequestHash: "h", Status: 201, Body: []byte(key)}
		})
		if err != nil || prior != nil {
			t.Fatalf("request %s: prior %+v, error %v", key, prior, err)
		}
		prior, err = s.Idempotent(ctx, "tok", key, "h", func(context.Context) *store.IdempotentResponse {
			t.Fatalf("request %s ran again", key)
			return nil
		})
		if err != nil || prior == nil || string(prior.Body) != key {
			t.Fatalf("replay of %s: %+v, %v", key, prior, err)
		}
	}
	run("k1", func(ctx context.Context) {
		mustIs(s.Create(ctx, model("taken")), store.ErrExists) // begins the transaction, and fails
		must(s.Create(ctx, model("a")))
		if _, err := s.Get(ctx, store.ModelKey("p", "a")); err != nil {
			t.Fatalf("read back: %v", err)
		}
		must(s.InTx(ctx, func(tx store.Store) error {
			if err := tx.Create(ctx, model("b")); err != nil {
				return err
			}
			return s.Create(ctx, model("c")) // nested: joins at depth 2
		}))
		mustIs(s.InTx(ctx, func(tx store.Store) error {
			must(tx.Create(ctx, model("d")))
			mustIs(s.Create(ctx, model("taken")), store.ErrExists)
			must(s.Create(ctx, model("e")))
			return boom
		}), boom)
		mustIs(s.Update(ctx, model("a"), 9), store.ErrStale)
		must(s.Create(ctx, model("f")))
	})
	run("k2", func(ctx context.Context) {
		mustIs(s.InTx(ctx, func(tx store.Store) error { // begins the transaction
			must(tx.Create(ctx, model("g")))
			must(s.Create(ctx, model("h")))
			return boom
		}), boom)
		must(s.Create(ctx, model("i")))
	})
	run("k3", func(ctx context.Context) {
		mustIs(s.Create(ctx, model("taken")), store.ErrExists) // the only write: just the response is recorded
	})

	for name, want := range map[string]bool{"a": true, "b": true, "c": true, "d": false, "e": false, "f": true, "g": false, "h": false, "i": true} {
		_, err := s.Get(ctx, store.ModelKey("p", name))
		if got := err == nil; got != want {
			t.Errorf("%s exists: %v, want %v (%v)", name, got, want, err)
		}
	}
}

// TestEssentialCallFailsTheRequest: a failed essential call (the audit
// record's) fails the whole request: Idempotent returns its error, nothing
// of the request is kept and nothing is recorded, so a retry runs afresh.
func TestEssentialCallFailsTheRequest(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			if err := s.Create(ctx, model("taken")); err != nil {
				t.Fatal(err)
			}
			for _, first := range []bool{false, true} { // the essential call after a first write, or beginning the transaction
				_, err := s.Idempotent(ctx, "tok", "k", "h", func(ctx context.Context) *store.IdempotentResponse {
					if !first {
						if err := s.Create(ctx, model("a")); err != nil {
							t.Fatal(err)
						}
					}
					// Two rows, the second taken: the first must not stay either.
					if err := s.Create(store.Essential(ctx), model("b"), model("taken")); !errors.Is(err, store.ErrExists) {
						t.Fatalf("essential create: %v, want ErrExists", err)
					}
					_ = s.Create(ctx, model("c")) // fails on PostgreSQL's aborted transaction; on SQLite it must not be kept
					return &store.IdempotentResponse{RequestHash: "h", Status: 201}
				})
				if !errors.Is(err, store.ErrExists) {
					t.Fatalf("first=%v: Idempotent: %v, want the essential call's ErrExists", first, err)
				}
				for _, name := range []string{"a", "b", "c"} {
					if _, err := s.Get(ctx, store.ModelKey("p", name)); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("first=%v: %s kept after the request failed: %v", first, name, err)
					}
				}
			}
			// Nothing was recorded: the retry runs.
			ran := false
			prior, err := s.Idempotent(ctx, "tok", "k", "h", func(ctx context.Context) *store.IdempotentResponse {
				ran = true
				if err := s.Create(store.Essential(ctx), model("a")); err != nil {
					t.Fatal(err)
				}
				return &store.IdempotentResponse{RequestHash: "h", Status: 201}
			})
			if err != nil || prior != nil || !ran {
				t.Fatalf("retry: ran %v, prior %+v, error %v", ran, prior, err)
			}
			if _, err := s.Get(ctx, store.ModelKey("p", "a")); err != nil {
				t.Fatalf("the retry's write: %v", err)
			}
		})
	}
}

// TestAtomic: a request without an Idempotency-Key keeps its writes when it
// commits and none when it does not, or when an essential call fails; a
// call made with its context after it ended goes to the pool.
func TestAtomic(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			exists := func(name string) bool {
				t.Helper()
				_, err := s.Get(ctx, store.ModelKey("p", name))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Fatal(err)
				}
				return err == nil
			}
			if err := s.Create(ctx, model("taken")); err != nil {
				t.Fatal(err)
			}
			var late context.Context
			err := s.Atomic(ctx, func(ctx context.Context) bool {
				if err := s.Create(ctx, model("a")); err != nil {
					t.Fatal(err)
				}
				if err := s.Create(ctx, model("taken")); !errors.Is(err, store.ErrExists) {
					t.Fatalf("duplicate create: %v", err)
				}
				late = ctx
				return true
			})
			if err != nil || !exists("a") {
				t.Fatalf("committed request: error %v, its write kept: %v", err, exists("a"))
			}
			if err := s.Create(late, model("after")); err != nil || !exists("after") {
				t.Fatalf("a write after the request ended: %v", err)
			}

			if err := s.Atomic(ctx, func(ctx context.Context) bool {
				if err := s.Create(ctx, model("b")); err != nil {
					t.Fatal(err)
				}
				return false
			}); err != nil || exists("b") {
				t.Fatalf("rolled back request: error %v, its write kept: %v", err, exists("b"))
			}

			err = s.Atomic(ctx, func(ctx context.Context) bool {
				if err := s.Create(ctx, model("c")); err != nil {
					t.Fatal(err)
				}
				_ = s.Create(store.Essential(ctx), model("taken"))
				return true
			})
			if !errors.Is(err, store.ErrExists) || exists("c") {
				t.Fatalf("request whose essential call failed: error %v (want ErrExists), its write kept: %v", err, exists("c"))
			}
		})
	}
}

// model is a new model named name in project p.
func model(name string) *store.Object {
	return &store.Object{Key: store.ModelKey("p", name), Data: []byte(`{}`)}
}
