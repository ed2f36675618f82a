package sqlstore

// Backup and restore of the embedded SQLite database. PostgreSQL has its own
// tools (pg_dump, pg_restore); Backup and Restore refuse its URLs with
// ErrPostgres.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// ErrPostgres is returned for a PostgreSQL URL by the SQLite-only functions below.
var ErrPostgres = errors.New("PostgreSQL databases are backed up with pg_dump and restored with pg_restore")

// sidecars are the files SQLite keeps beside a database. A -wal or -journal
// left from another database would be replayed into whatever file next takes
// the name, so a file moved into place must not find any.
var sidecars = []string{"-wal", "-shm", "-journal"}

// Snapshot describes a database file Backup wrote or Restore put in place.
type Snapshot struct {
	Path          string // absolute
	Size          int64  // bytes
	SchemaVersion int64  // the highest migration applied
	Objects       map[store.Kind]int64
	Tokens        int64
}

// ObjectCount is the number of objects of every kind.
func (s *Snapshot) ObjectCount() int64 {
	var n int64
	for _, c := range s.Objects {
		n += c
	}
	return n
}

// SQLiteFile returns the absolute path of the file a sqlite:// URL names, and
// ErrPostgres for a PostgreSQL URL.
func SQLiteFile(databaseURL string) (string, error) {
	d, _, err := parseURL(databaseURL)
	if err != nil {
		return "", err
	}
	if d != sqliteDialect {
		return "", ErrPostgres
	}
	p, _, _ := strings.Cut(strings.TrimPrefix(databaseURL, "sqlite://"), "?")
	return filepath.Abs(p)
}

// Backup writes a consistent snapshot of the SQLite database at databaseURL
// to the file to, while servers may go on reading and writing the database.
// VACUUM INTO copies what one read transaction sees into a temporary file
// beside to; the copy is checked, synced and renamed into place, so to holds
// either the whole backup or what it held before. An existing to is replaced
// only when overwrite is set.
func Backup(ctx context.Context, databaseURL, to string, overwrite bool) (*Snapshot, error) {
	src, err := SQLiteFile(databaseURL)
	if err != nil {
		return nil, err
	}
	if err := regularFile(src, "database"); err != nil {
		return nil, err
	}
	dst, err := filepath.Abs(to)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(src, dst, overwrite, "backup file"); err != nil {
		return nil, err
	}
	tmp, err := tempBeside(dst)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			removeWithSidecars(tmp)
		}
	}()

	// mode=rw: a mistyped path must not create an empty database to back up.
	db, err := sql.Open("sqlite", fileDSN(src, "rw", "busy_timeout(10000)"))
	if err != nil {
		return nil, err
	}
	// The temporary file exists and is empty, which VACUUM INTO accepts.
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, tmp)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", src, err)
	}
	snap, err := inspect(ctx, tmp, src)
	if err != nil {
		return nil, fmt.Errorf("checking the snapshot: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := moveIntoPlace(tmp, dst); err != nil {
		return nil, err
	}
	done = true
	snap.Path = dst
	return snap, nil
}

// Restore replaces the SQLite database at databaseURL with the backup file
// from. The backup is copied into a temporary file beside the database and
// checked there (Inspect, and a schema version this binary can migrate); only
// then does it take the database's name, by rename, after the old database's
// -wal, -shm and -journal files are removed.
//
// An existing database is replaced only when overwrite is set, and only if no
// process has it open: Restore opens it with a busy timeout of 0 in exclusive
// locking mode, switches it out of WAL mode (SQLite allows that only when no
// other connection has the file open, and checkpoints the WAL on the way) and
// takes BEGIN EXCLUSIVE; "database is locked" means a server holds it. An
// existing file that SQLite cannot read at all (not a database, corrupt) is
// replaced without that check, since no server can be using it.
func Restore(ctx context.Context, from, databaseURL string, overwrite bool) (*Snapshot, error) {
	dst, err := SQLiteFile(databaseURL)
	if err != nil {
		return nil, err
	}
	src, err := filepath.Abs(from)
	if err != nil {
		return nil, err
	}
	if err := regularFile(src, "backup file"); err != nil {
		return nil, err
	}
	if err := checkTarget(src, dst, overwrite, "database"); err != nil {
		return nil, err
	}
	tmp, err := tempBeside(dst)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			removeWithSidecars(tmp)
		}
	}()
	if err := copyFile(src, tmp); err != nil {
		return nil, err
	}
	snap, err := inspect(ctx, tmp, src)
	if err != nil {
		return nil, fmt.Errorf("refusing to restore: %w", err)
	}
	supported, err := latestMigration(sqliteDialect.name)
	if err != nil {
		return nil, err
	}
	if snap.SchemaVersion > supported {
		return nil, fmt.Errorf("refusing to restore %s: its schema version is %d but this mlopsd knows versions up to %d; restore it with the mlopsd release that wrote it, or a newer one",
			src, snap.SchemaVersion, supported)
	}
	// Inspect's connection is closed; none of its files may stay beside the copy.
	removeSidecars(tmp)
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dst); err == nil {
		if err := ensureUnused(ctx, dst); err != nil {
			return nil, err
		}
		// Keep the permissions the old database had.
		if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
			return nil, err
		}
	}
	if err := moveIntoPlace(tmp, dst); err != nil {
		return nil, err
	}
	done = true
	snap.Path = dst
	return snap, nil
}

// Inspect checks that the file at path is a sound mlopsd SQLite database
// (PRAGMA integrity_check, a schema_migrations table) and counts what it
// holds. It opens the file read-write (never creating it), so that SQLite can
// also read a file left in WAL mode, and changes nothing in it.
func Inspect(ctx context.Context, path string) (*Snapshot, error) {
	return inspect(ctx, path, path)
}

// inspect is Inspect of the file at path, called name in errors: a temporary
// copy is named after the file it copies.
func inspect(ctx context.Context, path, name string) (*Snapshot, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", fileDSN(path, "rw", "busy_timeout(10000)"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	var problems []string
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(10)`)
	if err == nil {
		for rows.Next() {
			var p string
			if err = rows.Scan(&p); err != nil {
				break
			}
			problems = append(problems, p)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	switch {
	case err != nil && strings.Contains(err.Error(), "not a database"):
		return nil, fmt.Errorf("%s is not a SQLite database", name)
	case err != nil:
		return nil, fmt.Errorf("%s is corrupt: SQLite cannot check it: %w", name, err)
	case len(problems) != 1 || problems[0] != "ok":
		return nil, fmt.Errorf("%s is corrupt: integrity_check found: %s", name, strings.Join(problems, "; "))
	}

	snap := &Snapshot{Path: path, Size: fi.Size(), Objects: map[store.Kind]int64{}}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%s is a SQLite database but not mlopsd's: it has no schema_migrations table", name)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&snap.SchemaVersion); err != nil {
		return nil, fmt.Errorf("%s: read schema_migrations: %w", name, err)
	}
	if snap.SchemaVersion == 0 {
		// Migrated by nothing: nothing to count.
		return snap, nil
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&snap.Tokens); err != nil {
		return nil, fmt.Errorf("%s: count tokens: %w", name, err)
	}
	rows, err = db.QueryContext(ctx, `SELECT kind, COUNT(*) FROM objects GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("%s: count objects: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var c int64
		if err := rows.Scan(&kind, &c); err != nil {
			return nil, err
		}
		snap.Objects[store.Kind(kind)] = c
	}
	return snap, rows.Err()
}

// latestMigration is the highest migration version embedded for a dialect.
func latestMigration(dialect string) (int64, error) {
	entries, err := fs.ReadDir(migrations, path.Join("migrations", dialect))
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		v, err := strconv.ParseInt(strings.SplitN(e.Name(), "_", 2)[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// ensureUnused fails if another connection has the SQLite database at path
// open; see Restore.
func ensureUnused(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileDSN(path, "rw", "busy_timeout(0)", "locking_mode(EXCLUSIVE)"))
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err == nil {
		defer conn.Close()
		var mode string
		err = conn.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode)
		if err == nil {
			_, err = conn.ExecContext(ctx, `BEGIN EXCLUSIVE`)
		}
		if err == nil {
			_, err = conn.ExecContext(ctx, `COMMIT`)
		}
	}
	if err != nil && sqliteDialect.isUnavailable(err) {
		return fmt.Errorf("%s is in use by another process (a running mlopsd?); stop it before restoring: %w", path, err)
	}
	// Any other error means SQLite cannot use the file, and neither can a server.
	return nil
}

// checkTarget refuses to write dst when it is src, is not a regular file, or
// exists and overwrite is false.
func checkTarget(src, dst string, overwrite bool, what string) error {
	fi, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s exists and is not a regular file", what, dst)
	}
	if sfi, err := os.Stat(src); err == nil && os.SameFile(sfi, fi) {
		return fmt.Errorf("%s and the file to copy from are the same file: %s", what, dst)
	}
	if !overwrite {
		return fmt.Errorf("%s %s already exists; pass --force to replace it", what, dst)
	}
	return nil
}

func regularFile(p, what string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s does not exist", what, p)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s %s is not a regular file", what, p)
	}
	return nil
}

// fileDSN is a modernc DSN for path. mode is SQLite's URI mode (rw: never
// create the file); pragmas run on every new connection.
func fileDSN(p, mode string, pragmas ...string) string {
	// SQLite decodes %XX in file: URIs and ends the path at ? or #.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	q := "mode=" + mode
	for _, pr := range pragmas {
		q += "&_pragma=" + pr
	}
	return "file:" + esc + "?" + q
}

// tempBeside creates an empty file in dst's directory, so the final rename
// stays within one file system.
func tempBeside(dst string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create a temporary file beside %s: %w", dst, err)
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return f.Close()
}

// moveIntoPlace renames tmp to dst after removing dst's stale SQLite
// sidecars, then syncs the directory so the rename survives a crash.
func moveIntoPlace(tmp, dst string) error {
	for _, s := range sidecars {
		if err := os.Remove(dst + s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the old %s: %w", dst+s, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync directory of %s: %w", dst, err)
	}
	return nil
}

func removeSidecars(p string) {
	for _, s := range sidecars {
		_ = os.Remove(p + s)
	}
}

func removeWithSidecars(p string) {
	_ = os.Remove(p)
	removeSidecars(p)
}
