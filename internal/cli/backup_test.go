package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
)

// mlopsd runs one mlopsd command in-process and returns what it printed.
func mlopsd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot("test")
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// seed opens a migrated store at path with n datasets and one token.
func seed(t *testing.T, path string, n int) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	data := []byte(`{"uri":"file:///data/` + strings.Repeat("x", 400) + `.csv"}`)
	err = st.InTx(ctx, func(tx store.Store) error {
		for i := range n {
			if err := tx.Create(ctx, &store.Object{Key: store.DatasetKey("p", fmt.Sprintf("d%05d", i)), Data: data}); err != nil {
				return err
			}
		}
		return tx.CreateToken(ctx, &store.Token{ID: "t1", Hash: "h1", Role: "admin", Description: "test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func integrityOK(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of %s = %q, %v", path, res, err)
	}
}

func pairName(i int64, half string) string { return fmt.Sprintf("pair%06d-%s", i, half) }

func TestBackupWhileWritingThenRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const seeded = 2000
	st := seed(t, filepath.Join(dir, "mlops.db"), seeded)
	db := "sqlite://" + filepath.Join(dir, "mlops.db")

	// A writer commits pairs of models, both in one transaction, until told to stop.
	var committed atomic.Int64
	stop := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				writeErr <- nil
				return
			default:
			}
			err := st.InTx(ctx, func(tx store.Store) error {
				for _, half := range []string{"a", "b"} {
					if err := tx.Create(ctx, &store.Object{Key: store.ModelKey("p", pairName(i, half)), Data: []byte(`{}`)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				writeErr <- err
				return
			}
			committed.Store(i + 1)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); committed.Load() < 20 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}

	before := committed.Load()
	bk := filepath.Join(t.TempDir(), "backup.db")
	out, err := mlopsd(t, "backup", "--database", db, "--to", bk)
	during := committed.Load() - before
	close(stop)
	if err := <-writeErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	t.Logf("the writer committed %d pairs while the backup ran\n%s", during, out)
	for _, want := range []string{"backed up " + filepath.Join(dir, "mlops.db") + " to " + bk, "schema version 1", "dataset", fmt.Sprint(seeded), "tokens"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q:\n%s", want, out)
		}
	}
	integrityOK(t, bk)
	if ents, _ := os.ReadDir(filepath.Dir(bk)); len(ents) != 1 {
		t.Errorf("the backup directory holds %d files, want only the backup", len(ents))
	}

	// Restore into a new path and read everything back.
	restored := filepath.Join(t.TempDir(), "restored.db")
	out, err = mlopsd(t, "restore", "--from", bk, "--database", "sqlite://"+restored)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if !strings.Contains(out, "restored "+bk+" to "+restored) || !strings.Contains(out, fmt.Sprint(seeded)) {
		t.Errorf("restore output:\n%s", out)
	}
	rs, err := sqlstore.Open(ctx, "sqlite://"+restored, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	datasets, _, err := rs.List(ctx, store.ListQuery{Kind: store.KindDataset, Project: "p"})
	if err != nil || len(datasets) != seeded {
		t.Fatalf("after restore: %d datasets, %v; want %d", len(datasets), err, seeded)
	}
	for i, d := range datasets {
		if want := fmt.Sprintf("d%05d", i); d.Name != want || len(d.Data) < 400 {
			t.Fatalf("dataset %d after restore = %s (%d bytes), want %s", i, d.Name, len(d.Data), want)
		}
	}
	if toks, err := rs.ListTokens(ctx); err != nil || len(toks) != 1 {
		t.Fatalf("tokens after restore: %v %v", toks, err)
	}
	// Every pair committed before the backup began is there, and the
	// snapshot holds no half of a transaction.
	models, _, err := rs.List(ctx, store.ListQuery{Kind: store.KindModel, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range models {
		have[m.Name] = true
	}
	for i := range before {
		if !have[pairName(i, "a")] || !have[pairName(i, "b")] {
			t.Fatalf("pair %d, committed before the backup began, is missing", i)
		}
	}
	for name := range have {
		other := strings.TrimSuffix(name, "a") + "b"
		if strings.HasSuffix(name, "b") {
			other = strings.TrimSuffix(name, "b") + "a"
		}
		if !have[other] {
			t.Fatalf("the backup holds %s without %s: not a consistent snapshot", name, other)
		}
	}
}

func TestBackupAndRestoreRefuseToOverwrite(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "mlops.db")
	st := seed(t, dbPath, 3)
	db := "sqlite://" + dbPath

	bk := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(bk, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := mlopsd(t, "backup", "--database", db, "--to", bk)
	if err == nil || !strings.Contains(err.Error(), "already exists; pass --force") {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(bk); string(b) != "keep me" {
		t.Fatal("a refused backup changed the existing file")
	}
	if out, err := mlopsd(t, "backup", "--database", db, "--to", bk, "--force"); err != nil {
		t.Fatalf("backup --force: %v\n%s", err, out)
	}
	integrityOK(t, bk)

	// The database exists: restore wants --force, and with it refuses while a store has it open.
	_, err = mlopsd(t, "restore", "--from", bk, "--database", db)
	if err == nil || !strings.Contains(err.Error(), "already exists; pass --force") {
		t.Fatalf("restore over an existing database: %v", err)
	}
	_, err = mlopsd(t, "restore", "--from", bk, "--database", db, "--force")
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore --force over a database a server holds: %v", err)
	}
	if err := st.Create(context.Background(), &store.Object{Key: store.DatasetKey("p", "after-backup"), Data: []byte(`{}`)}); err != nil {
		t.Fatalf("the database no longer works after the refused restore: %v", err)
	}
	_ = st.Close()
	if out, err := mlopsd(t, "restore", "--from", bk, "--database", db, "--force"); err != nil {
		t.Fatalf("restore --force with no server: %v\n%s", err, out)
	}
	rs, err := sqlstore.Open(context.Background(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if _, err := rs.Get(context.Background(), store.DatasetKey("p", "after-backup")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("restore did not roll the database back to the backup: %v", err)
	}
	if _, err := rs.Get(context.Background(), store.DatasetKey("p", "d00002")); err != nil {
		t.Fatalf("restored dataset: %v", err)
	}
}

func TestRestoreRefusesBadBackups(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	seed(t, src, 500)
	good := filepath.Join(dir, "good.db")
	if out, err := mlopsd(t, "backup", "--database", "sqlite://"+src, "--to", good); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	corrupt := bytes.Clone(raw)
	// Leave page 1 (header and schema) alone and scribble over the next pages.
	for i := 4096; i < min(len(corrupt), 6*4096); i++ {
		corrupt[i] = byte(i * 7)
	}
	emptySQLite := filepath.Join(dir, "empty.db")
	edb, err := sql.Open("sqlite", "file:"+emptySQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edb.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	_ = edb.Close()
	emptyRaw, _ := os.ReadFile(emptySQLite)

	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"text", []byte(strings.Repeat("this is not a database\n", 200)), "is not a SQLite database"},
		{"corrupt", corrupt, "is corrupt"},
		{"truncated", raw[:len(raw)/2], "is corrupt"},
		{"other SQLite", emptyRaw, "not mlopsd's: it has no schema_migrations table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bk := filepath.Join(t.TempDir(), "backup.db")
			if err := os.WriteFile(bk, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			targetDir := t.TempDir()
			target := filepath.Join(targetDir, "mlops.db")
			if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := mlopsd(t, "restore", "--from", bk, "--database", "sqlite://"+target, "--force")
			if err == nil || !strings.Contains(err.Error(), "refusing to restore") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore of a %s backup: %v; want an error saying %q", tc.name, err, tc.want)
			}
			if b, _ := os.ReadFile(target); string(b) != "old" {
				t.Fatal("a refused restore changed the database")
			}
			if ents, _ := os.ReadDir(targetDir); len(ents) != 1 {
				t.Fatalf("a refused restore left %d files beside the database", len(ents))
			}
		})
	}
}

func TestBackupAndRestoreOfPostgresPrintPgTools(t *testing.T) {
	const url = "postgres://mlops:s3cret@db.example:5432/mlops"
	_, err := mlopsd(t, "backup", "--database", url, "--to", "/backups/mlops.dump")
	if err == nil || !strings.Contains(err.Error(), `pg_dump --format=custom --file=/backups/mlops.dump "$DATABASE_URL"`) {
		t.Fatalf("backup of a PostgreSQL URL: %v", err)
	}
	_, err2 := mlopsd(t, "restore", "--database", url, "--from", "my dump")
	if err2 == nil || !strings.Contains(err2.Error(), `pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$DATABASE_URL" 'my dump'`) {
		t.Fatalf("restore of a PostgreSQL URL: %v", err2)
	}
	for _, e := range []error{err, err2} {
		if strings.Contains(e.Error(), "s3cret") {
			t.Fatalf("the guidance repeats the URL's password: %v", e)
		}
	}
	// Without --to the guidance still comes, with a default file name.
	if code := Main("test", []string{"backup", "--database", url}); code == 0 {
		t.Fatal("mlopsd backup of a PostgreSQL URL exited 0")
	}
}
