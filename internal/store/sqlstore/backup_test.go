package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
)

// openWith opens a migrated store at path holding the named datasets in project p.
func openWith(t *testing.T, path string, names ...string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite://"+path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, n := range names {
		if err := s.Create(context.Background(), &store.Object{Key: store.DatasetKey("p", n), Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func mustBackup(t *testing.T, dbPath, to string) {
	t.Helper()
	if _, err := sqlstore.Backup(context.Background(), "sqlite://"+dbPath, to, false); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

// onlyFiles fails unless dir holds exactly the named files: nothing temporary is left behind.
func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s holds %v, want %v", dir, got, want)
	}
}

func TestRestoreRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	s := openWith(t, src, "d1")
	bk := filepath.Join(dir, "backup.db")
	mustBackup(t, src, bk)
	_ = s.Close()

	db, err := sql.Open("sqlite", "file:"+bk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	restoreDir := t.TempDir()
	_, err = sqlstore.Restore(context.Background(), bk, "sqlite://"+filepath.Join(restoreDir, "mlops.db"), false)
	if err == nil || !strings.Contains(err.Error(), "schema version is 9999") {
		t.Fatalf("restore of a backup from a newer mlopsd: %v", err)
	}
	onlyFiles(t, restoreDir)
}

func TestRestoreRefusesDatabaseInUse(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	openWith(t, src, "from-backup")
	bk := filepath.Join(dir, "backup.db")
	mustBackup(t, src, bk)

	target := filepath.Join(dir, "live.db")
	live := openWith(t, target, "live")
	_, err := sqlstore.Restore(context.Background(), bk, "sqlite://"+target, true)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore over a database a store has open: %v", err)
	}
	// The live database is untouched and still works.
	if _, err := live.Get(context.Background(), store.DatasetKey("p", "live")); err != nil {
		t.Fatalf("live database after the refused restore: %v", err)
	}
	if err := live.Create(context.Background(), &store.Object{Key: store.DatasetKey("p", "live2"), Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	_ = live.Close()

	snap, err := sqlstore.Restore(context.Background(), bk, "sqlite://"+target, true)
	if err != nil {
		t.Fatalf("restore once the store is closed: %v", err)
	}
	if snap.Objects[store.KindDataset] != 1 || snap.Path != target {
		t.Fatalf("snapshot = %+v", snap)
	}
	s := openWith(t, target)
	if _, err := s.Get(context.Background(), store.DatasetKey("p", "from-backup")); err != nil {
		t.Fatalf("restored object: %v", err)
	}
	if _, err := s.Get(context.Background(), store.DatasetKey("p", "live")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an object of the replaced database survived the restore: %v", err)
	}
}

// A -wal file left by an earlier database at the same path would be replayed
// into the restored one; restore removes it.
func TestRestoreRemovesStaleWAL(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	openWith(t, src, "from-backup")
	bk := filepath.Join(dir, "backup.db")
	mustBackup(t, src, bk)

	target := filepath.Join(dir, "mlops.db")
	old := openWith(t, target, "old1", "old2", "old3")
	wal, err := os.ReadFile(target + "-wal")
	if err != nil || len(wal) == 0 {
		t.Fatalf("the old database has no WAL to leave behind: %v", err)
	}
	_ = old.Close()
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := sqlstore.Restore(context.Background(), bk, "sqlite://"+target, false); err != nil {
		t.Fatal(err)
	}
	snap, err := sqlstore.Inspect(context.Background(), target)
	if err != nil {
		t.Fatalf("restored database: %v", err)
	}
	if snap.Objects[store.KindDataset] != 1 {
		t.Fatalf("restored database holds %v, want the backup's one dataset", snap.Objects)
	}
}

func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	openWith(t, src, "d1")
	ctx := context.Background()

	if _, err := sqlstore.Backup(ctx, "sqlite://"+src, src, true); err == nil || !strings.Contains(err.Error(), "same file") {
		t.Errorf("backup onto the database itself: %v", err)
	}
	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlstore.Backup(ctx, "sqlite://"+missing, filepath.Join(dir, "b.db"), false); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backing up a missing database created it: %v", err)
	}
	if _, err := sqlstore.Backup(ctx, "postgres://u@h/db", filepath.Join(dir, "b.db"), false); !errors.Is(err, sqlstore.ErrPostgres) {
		t.Errorf("backup of a PostgreSQL URL: %v", err)
	}
	onlyFiles(t, dir, "src.db", "src.db-shm", "src.db-wal")
}
