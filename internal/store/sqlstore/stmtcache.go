package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"strings"
	"sync/atomic"
	"unicode"

	"modernc.org/sqlite"
)

// SQLite connections keep the statements they run. modernc.org/sqlite
// parses and plans every statement given to ExecContext or QueryContext
// afresh and throws it away after one use; the store runs a few dozen
// distinct statements over and over, and parsing them was a quarter of the
// API's CPU time on SQLite (make bench, pprof). Each connection now keeps a
// prepared statement per query text and runs it again with new arguments:
// SQLite only resets and rebinds it. (pgx does the same for PostgreSQL by
// itself.)
//
// The cache sits in the driver connection, under database/sql, so that every
// caller of the pool gets it: the store, its transactions, and the job
// queue's driver, which shares the pool. A connection is used by one
// goroutine at a time, so its cache needs no lock.

// maxCachedStmts bounds the statements one connection keeps; queries past it
// run unprepared as before.
const maxCachedStmts = 256

// openSQLite opens a pool whose connections cache their statements.
func openSQLite(dsn string) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(stmtCacheConnector{base}), nil
}

type stmtCacheConnector struct{ driver.Connector }

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// stmtCacheConn is a SQLite connection with its statement cache. It forwards
// the optional interfaces every modernc.org/sqlite connection implements
// (see sqlite.NewConnector), so database/sql treats it as it would the
// connection itself.
type stmtCacheConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	driver.Stmt
	// busy: rows read from the statement are still open, so a second query
	// with the same text meanwhile (in the same transaction) must not reset it.
	busy atomic.Bool
}

var (
	_ driver.ConnBeginTx        = (*stmtCacheConn)(nil)
	_ driver.ConnPrepareContext = (*stmtCacheConn)(nil)
	_ driver.ExecerContext      = (*stmtCacheConn)(nil)
	_ driver.QueryerContext     = (*stmtCacheConn)(nil)
	_ driver.Pinger             = (*stmtCacheConn)(nil)
	_ driver.SessionResetter    = (*stmtCacheConn)(nil)
	_ driver.Validator          = (*stmtCacheConn)(nil)
)

// Unwrap returns the driver's connection.
func (c *stmtCacheConn) Unwrap() driver.Conn { return c.Conn }

func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *stmtCacheConn) Ping(ctx context.Context) error {
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *stmtCacheConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close finalizes the cached statements, then closes the connection.
func (c *stmtCacheConn) Close() error {
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
	return c.Conn.Close()
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	s.busy.Store(true)
	defer s.busy.Store(false)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	s.busy.Store(true)
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		s.busy.Store(false)
		return nil, err
	}
	return &cachedRows{Rows: rows, stmt: s}, nil
}

// cached returns the connection's statement for query, prepared the first
// time; nil (run it unprepared) when the statement is in use, the cache is
// full, or the query is not one to keep.
func (c *stmtCacheConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy.Load() {
			return nil, nil
		}
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts || !cacheable(query) {
		return nil, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: st}
	c.stmts[query] = s
	return s, nil
}

// cacheable: one data statement (not a script such as a migration, not
// transaction control or a pragma).
func cacheable(query string) bool {
	q := strings.TrimSpace(query)
	if i := strings.IndexByte(q, ';'); i >= 0 && i < len(q)-1 {
		return false
	}
	verb := q
	if i := strings.IndexFunc(q, unicode.IsSpace); i >= 0 {
		verb = q[:i]
	}
	switch strings.ToUpper(verb) {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH":
		return true
	}
	return false
}

// cachedRows frees its statement for the next query when closed. It passes
// the column type methods of the driver's rows on.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.stmt.busy.Store(false)
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
