package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
)

// request is the transaction of one idempotent request (see Idempotent).
// Every store call made with the request's context joins it, so the
// handlers, the run engine and the audit log need not know about it.
type request struct {
	pool   *Store // the store Idempotent was called on
	direct *Store // the pool, for reads before the first write
	ctx    context.Context
	tx     *sql.Tx // nil until the first write
	txs    *Store  // the store on tx
	depth  int     // savepoints open
	ended  atomic.Bool
}

type requestKey struct{}

// joined returns the request whose transaction a call with ctx joins, or
// nil: outside a request, in a transaction already, or on another database.
func (s *Store) joined(ctx context.Context) *request {
	if s.inTx || s.direct {
		return nil
	}
	r, _ := ctx.Value(requestKey{}).(*request)
	if r == nil || r.pool.db != s.db || r.ended.Load() {
		return nil
	}
	return r
}

// begin starts the request's transaction, the first time it writes.
func (r *request) begin() error {
	if r.tx != nil {
		return nil
	}
	tx, err := r.pool.db.BeginTx(r.ctx, nil)
	if err != nil {
		return r.pool.wrap(err)
	}
	r.tx = tx
	r.txs = &Store{db: r.pool.db, q: tx, dialect: r.pool.dialect, inTx: true, now: r.pool.now}
	return nil
}

// run runs one store call of the request. Reads before the first write go
// to the pool, like outside a request. Everything else runs on the request's
// transaction inside a savepoint, so that a call that fails (a duplicate
// create, a stale update the handler answers 409 or 412 to) leaves none of
// its writes behind, and on PostgreSQL does not abort the whole transaction.
func (r *request) run(ctx context.Context, write bool, f func(*Store) error) error {
	if r.tx == nil && !write {
		return f(r.direct)
	}
	if err := r.begin(); err != nil {
		return err
	}
	r.depth++
	defer func() { r.depth-- }()
	sp := fmt.Sprintf("request_%d", r.depth)
	if _, err := r.txs.exec(ctx, "SAVEPOINT "+sp); err != nil {
		return err
	}
	if err := f(r.txs); err != nil {
		if _, rerr := r.txs.exec(ctx, "ROLLBACK TO SAVEPOINT "+sp); rerr == nil {
			_, _ = r.txs.exec(ctx, "RELEASE SAVEPOINT "+sp)
		}
		return err
	}
	_, err := r.txs.exec(ctx, "RELEASE SAVEPOINT "+sp)
	return err
}

// inRequest runs a store call with one result on the request's transaction.
func inRequest[T any](ctx context.Context, r *request, write bool, f func(*Store) (T, error)) (T, error) {
	var v T
	err := r.run(ctx, write, func(s *Store) error {
		var err error
		v, err = f(s)
		return err
	})
	return v, err
}
