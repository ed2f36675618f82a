package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// dialect holds what differs between the databases.
type dialect struct {
	name          string
	open          func(dsn string) (*sql.DB, error)
	configure     func(*sql.DB)
	rebind        func(string) string
	isUnique      func(error) bool
	isInvalidText func(error) bool
	isUnavailable func(error) bool
}

var sqliteDialect = &dialect{
	name: "sqlite",
	open: openSQLite,
	configure: func(db *sql.DB) {
		// Connections stay open: every new one would re-run the pragmas.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		db.SetConnMaxLifetime(0)
	},
	rebind:        func(q string) string { return q },
	isInvalidText: func(error) bool { return false },
	isUnique: func(err error) bool {
		return strings.Contains(err.Error(), "UNIQUE constraint failed") || strings.Contains(err.Error(), "PRIMARY KEY constraint failed")
	},
	isUnavailable: func(err error) bool {
		return strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY")
	},
}

var postgresDialect = &dialect{
	name: "postgres",
	open: func(dsn string) (*sql.DB, error) { return sql.Open("pgx", dsn) },
	configure: func(db *sql.DB) {
		// PostgreSQL allows 100 connections by default, shared by every
		// replica: at most 16 each (pool_max_conns in the URL sets another
		// number), and idle ones go after a quiet minute. More connections
		// than the database has cores to run them keep backends waiting on
		// each other: on 2 cores, 32 connections created models at 32
		// concurrent requests 10-15 % slower than 16 (make bench). Under load
		// every open connection may be idle between two queries for a
		// moment; a lower idle limit would close them then and open new ones
		// (a new backend process each) for the next queries, which cut
		// throughput at 32 concurrent requests to a fifth.
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(time.Minute)
	},
	rebind: rebindDollar,
	isInvalidText: func(err error) bool {
		var pgErr *pgconn.PgError
		// 22021: invalid byte sequence for encoding; 22P05: untranslatable character.
		return errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05")
	},
	isUnique: func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "23505"
	},
	isUnavailable: func(err error) bool {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			// Class 08: connection exceptions; 57P0x: server shutting down or starting.
			return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
		}
		var netErr net.Error
		var connectErr *pgconn.ConnectError
		return errors.As(err, &netErr) || errors.As(err, &connectErr) ||
			errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) ||
			errors.Is(err, syscall.ECONNRESET)
	},
}

// rebindDollar turns ? placeholders into $1, $2, ... (queries here never hold a literal ?).
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
