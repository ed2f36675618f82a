// Package sqlstore implements store.Store on database/sql, for the embedded
// SQLite database (modernc.org/sqlite, no cgo) and for PostgreSQL (pgx). One
// implementation serves both; the dialect covers placeholders, error codes and
// migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is a store.Store on a SQL database.
type Store struct {
	db      *sql.DB
	q       querier
	dialect *dialect
	inTx    bool
	// direct: on the pool even under a request's context (see request.run).
	direct bool
	now    func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open connects to a database URL: sqlite://path/to/file.db (relative or
// absolute: sqlite:///var/lib/mlops.db) or postgres://... and applies pending
// migrations unless migrate is false.
func Open(ctx context.Context, databaseURL string, migrate bool) (*Store, error) {
	d, dsn, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	dsn, poolSize, err := takePoolSize(d, dsn)
	if err != nil {
		return nil, err
	}
	db, err := d.open(dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d.name, err)
	}
	d.configure(db)
	if poolSize > 0 {
		db.SetMaxOpenConns(poolSize)
		db.SetMaxIdleConns(poolSize)
	}
	s := &Store{db: db, q: db, dialect: d, now: time.Now}
	if err := s.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", d.name, err)
	}
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return s, nil
}

func parseURL(raw string) (*dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		query := ""
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, query = path[:i], path[i+1:]
		}
		if path == "" {
			return nil, "", fmt.Errorf("database URL %q has no file path; use sqlite://./mlops.db or sqlite:///var/lib/mlops/mlops.db", raw)
		}
		v, err := url.ParseQuery(query)
		if err != nil {
			return nil, "", fmt.Errorf("database URL %q: %w", raw, err)
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take the
		// write lock up front so two writers queue on busy_timeout instead of
		// failing mid-transaction.
		v.Add("_pragma", "busy_timeout(10000)")
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "foreign_keys(ON)")
		v.Add("_pragma", "synchronous(NORMAL)")
		v.Set("_txlock", "immediate")
		return sqliteDialect, "file:" + path + "?" + v.Encode(), nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return postgresDialect, raw, nil
	}
	return nil, "", fmt.Errorf("database URL %q is not supported; use sqlite://<path> or postgres://<user>@<host>/<db>", raw)
}

// maxPoolSize bounds pool_max_conns: PostgreSQL's own default limit is 100
// connections for every client together.
const maxPoolSize = 1000

// takePoolSize reads and removes pool_max_conns, the connections a
// PostgreSQL URL lets one mlopsd keep open (pgxpool's name for it; pgx would
// send it to the server as a setting). 0: the dialect's default. Errors do
// not repeat the URL, which may hold a password.
func takePoolSize(d *dialect, dsn string) (string, int, error) {
	if d != postgresDialect || !strings.Contains(dsn, "pool_max_conns") {
		return dsn, 0, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", 0, errors.New("the PostgreSQL database URL does not parse as a URL")
	}
	q := u.Query()
	v := q.Get("pool_max_conns")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPoolSize {
		return "", 0, fmt.Errorf("the PostgreSQL database URL has pool_max_conns=%q: want a number of connections from 1 to %d, such as 16", v, maxPoolSize)
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

// DB exposes the underlying pool, for benchmarks and tests.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect names the database kind: sqlite or postgres.
func (s *Store) Dialect() string { return s.dialect.name }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	return s.wrap(s.db.PingContext(ctx))
}

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }

// InTx implements store.Store. A store already in a transaction runs fn in
// it; under an idempotent request's context, fn runs in the request's.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(tx *Store) error { return fn(tx) })
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	txs := &Store{db: s.db, q: tx, dialect: s.dialect, inTx: true, now: s.now}
	if err := fn(txs); err != nil {
		_ = tx.Rollback()
		return err
	}
	return s.wrap(tx.Commit())
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := s.q.ExecContext(ctx, s.dialect.rebind(query), args...)
	return res, s.wrap(err)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := s.q.QueryContext(ctx, s.dialect.rebind(query), args...)
	return rows, s.wrap(err)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.q.QueryRowContext(ctx, s.dialect.rebind(query), args...)
}

// wrap turns driver errors into the store's sentinel errors.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case s.dialect.isInvalidText(err):
		// A key PostgreSQL cannot even hold as text (invalid UTF-8, NUL) names
		// nothing stored: every stored name passed validation.
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case s.dialect.isUnique(err):
		return fmt.Errorf("%w: %w", store.ErrExists, err)
	case s.dialect.isUnavailable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// Tx returns the transaction a store made by InTx runs in, so that other
// libraries (the job queue) can write in the same transaction; nil outside InTx.
func (s *Store) Tx() *sql.Tx {
	tx, _ := s.q.(*sql.Tx)
	return tx
}
