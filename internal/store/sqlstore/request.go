package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"sync/atomic"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// request is the transaction of one API request that makes changes (see
// Idempotent and Atomic). Every store call made with the request's context
// joins it, so the handlers, the run engine and the audit log need not know
// about it.
type request struct {
	pool   *Store // the store the request runs on
	direct *Store // the pool, for reads before the first write
	ctx    context.Context
	tx     *sql.Tx // nil until the first write
	txs    *Store  // the store on tx
	depth  int     // calls running, nested
	// open lists the savepoints set on tx, oldest first, by the depth of the
	// call that set each: those of the calls running, then any left by calls
	// that finished (see run).
	open []int
	// failed is the error of the first essential call that failed (see
	// store.Essential): the request fails with it.
	failed error
	ended  atomic.Bool
}

type requestKey struct{}

// newRequest starts a request on s (see Store.Idempotent, Store.Atomic).
func (s *Store) newRequest(ctx context.Context) *request {
	return &request{pool: s, direct: &Store{db: s.db, q: s.db, dialect: s.dialect, direct: true, now: s.now}, ctx: ctx}
}

// end closes the request: later calls under its context go to the pool, and
// an open transaction rolls back (after a commit, a no-op; after a panic,
// the crash case).
func (r *request) end() {
	r.ended.Store(true)
	if r.tx != nil {
		_ = r.tx.Rollback()
	}
}

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
// transaction, so that a call that fails (a duplicate create, a stale update
// the handler answers 409 or 412 to) leaves none of its writes behind, and on
// PostgreSQL does not abort the whole transaction:
//   - The call that begins the transaction needs no savepoint: if it fails,
//     rolling the whole transaction back undoes its writes and nothing else.
//   - An essential call (store.Essential) needs none either: if it fails,
//     the request fails and its transaction rolls back.
//   - Any later call sets a savepoint and rolls back to it if it fails. One
//     that succeeds leaves its savepoint open, and the next call releases it
//     in the same statement as it sets its own; COMMIT releases the last.
//
// On PostgreSQL each statement is a round trip: setting and releasing a
// savepoint around every call took 4 for a model create (its own call and
// the audit record's); this takes none, the audit record being essential.
func (r *request) run(ctx context.Context, write bool, f func(*Store) error) error {
	if r.tx == nil && !write {
		return f(r.direct)
	}
	r.depth++
	defer func() { r.depth-- }()
	err := r.call(ctx, f)
	if err != nil && r.failed == nil && store.IsEssential(ctx) {
		r.failed = err
	}
	return err
}

// call runs f on the request's transaction, beginning it or setting a
// savepoint as run says.
func (r *request) call(ctx context.Context, f func(*Store) error) error {
	if r.tx == nil {
		if err := r.begin(); err != nil {
			return err
		}
		if err := f(r.txs); err != nil {
			_ = r.tx.Rollback()
			r.tx, r.txs, r.open = nil, nil, nil
			return err
		}
		return nil
	}
	if store.IsEssential(ctx) {
		return f(r.txs) // if it fails, nothing of the request is kept: no savepoint to return to
	}
	// Savepoints set at this depth or deeper belong to calls that finished.
	i := 0
	for i < len(r.open) && r.open[i] < r.depth {
		i++
	}
	sp := savepoint(r.depth)
	set := "SAVEPOINT " + sp
	if i < len(r.open) {
		set = "RELEASE SAVEPOINT " + savepoint(r.open[i]) + "; " + set
	}
	if _, err := r.txs.exec(ctx, set); err != nil {
		return err
	}
	r.open = append(r.open[:i], r.depth)
	if err := f(r.txs); err != nil {
		_, _ = r.txs.exec(ctx, "ROLLBACK TO SAVEPOINT "+sp+"; RELEASE SAVEPOINT "+sp)
		r.open = r.open[:i]
		return err
	}
	return nil
}

func savepoint(depth int) string { return "request_" + strconv.Itoa(depth) }

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
