package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.Postgres(t) })
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	s := storetest.SQLite(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite://", "./file.db"} {
		_, err := sqlstore.Open(context.Background(), u, false)
		if err == nil || !strings.Contains(err.Error(), "sqlite://") {
			t.Errorf("Open(%q) error = %v; want one that shows the accepted forms", u, err)
		}
	}
}

// killHelperEnv tells the test binary it runs as the process
// TestIdempotentRequestKilled kills, and on which database.
const killHelperEnv = "SQLSTORE_KILLED_REQUEST_DB"

// registerVersion is a request that numbers a new object from a sequence,
// like a model version create: replayed, it would make version 2.
func registerVersion(t *testing.T, s *sqlstore.Store, written func()) func(context.Context) *store.IdempotentResponse {
	return func(ctx context.Context) *store.IdempotentResponse {
		var n int64
		err := s.InTx(ctx, func(tx store.Store) error {
			var err error
			if n, err = tx.NextSequence(ctx, "versions"); err != nil {
				return err
			}
			return tx.Create(ctx, &store.Object{Key: store.Key{Kind: store.KindModelVersion, Project: "p", Parent: "m", Name: fmt.Sprint(n)}, Ordinal: n, Data: []byte(`{}`)})
		})
		if err != nil {
			t.Errorf("register: %v", err)
			return nil
		}
		written()
		return &store.IdempotentResponse{RequestHash: "h", Status: 201, Body: []byte(fmt.Sprint(n))}
	}
}

// TestIdempotentRequestKilled kills a process with SIGKILL after its request
// wrote a version and before the response was recorded. The database keeps
// neither, so the retry (by the next process) runs afresh, once: version 1.
func TestIdempotentRequestKilled(t *testing.T) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return "sqlite://" + filepath.Join(t.TempDir(), "mlops.db") }},
		{"postgres", storetest.PostgresURL},
	} {
		t.Run(db.name, func(t *testing.T) {
			url := db.url(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestIdempotentRequestKilledHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), killHelperEnv+"="+url)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() && sc.Text() != "written" {
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if sc.Text() != "written" {
				t.Fatal("the helper process ended before its request wrote")
			}

			s, err := sqlstore.Open(context.Background(), url, true)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			prior, err := s.Idempotent(ctx, "tok", "k", "h", registerVersion(t, s, func() {}))
			if err != nil || prior != nil {
				t.Fatalf("retry after the kill: prior=%+v err=%v; want it to run", prior, err)
			}
			prior, err = s.Idempotent(ctx, "tok", "k", "h", registerVersion(t, s, func() { t.Error("a recorded request ran again") }))
			if err != nil || prior == nil || string(prior.Body) != "1" {
				t.Fatalf("second retry: prior=%+v err=%v; want version 1 replayed", prior, err)
			}
			objs, _, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m"})
			if err != nil || len(objs) != 1 || objs[0].Name != "1" {
				t.Fatalf("versions after the kill and the retry: %d (%v), want just 1", len(objs), err)
			}
		})
	}
}

// TestIdempotentRequestKilledHelper is the process that is killed mid-request.
func TestIdempotentRequestKilledHelper(t *testing.T) {
	url := os.Getenv(killHelperEnv)
	if url == "" {
		t.Skip("runs only as TestIdempotentRequestKilled's helper process")
	}
	s, err := sqlstore.Open(context.Background(), url, true)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Idempotent(context.Background(), "tok", "k", "h", registerVersion(t, s, func() {
		fmt.Println("written")
		select {} // until killed
	}))
}

// TestIdempotentTakesOverOrphanedClaim: a claim (status 0) that an older
// mlopsd left when killed mid-request does not block the key.
func TestIdempotentTakesOverOrphanedClaim(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			q := `INSERT INTO idempotency (scope, key, request_hash, status, created_at) VALUES ('tok', 'k', 'h', 0, 0)`
			if _, err := s.DB().ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
			prior, err := s.Idempotent(ctx, "tok", "k", "h", registerVersion(t, s, func() {}))
			if err != nil || prior != nil {
				t.Fatalf("request on an orphaned claim: prior=%+v err=%v; want it to run", prior, err)
			}
			prior, err = s.Idempotent(ctx, "tok", "k", "h", registerVersion(t, s, func() { t.Error("a recorded request ran again") }))
			if err != nil || prior == nil || string(prior.Body) != "1" {
				t.Fatalf("retry: prior=%+v err=%v; want version 1 replayed", prior, err)
			}
		})
	}
}

// TestPoolSizeFromURL: pool_max_conns sets how many connections the store
// keeps, is not passed on to PostgreSQL (which would refuse it as an unknown
// setting), and a bad value is refused naming the parameter, without
// repeating the URL's password.
func TestPoolSizeFromURL(t *testing.T) {
	base := storetest.PostgresURL(t)
	with := func(v string) string {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return base + sep + "pool_max_conns=" + v
	}
	s, err := sqlstore.Open(context.Background(), with("3"), false)
	if err != nil {
		t.Fatalf("open with pool_max_conns=3: %v", err)
	}
	defer s.Close()
	if got := s.DB().Stats().MaxOpenConnections; got != 3 {
		t.Fatalf("MaxOpenConnections = %d, want 3", got)
	}
	def, err := sqlstore.Open(context.Background(), base, false)
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := def.DB().Stats().MaxOpenConnections; got != 16 {
		t.Fatalf("default MaxOpenConnections = %d, want 16", got)
	}
	for _, v := range []string{"0", "x", "1001"} {
		_, err := sqlstore.Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/db?pool_max_conns="+v, false)
		if err == nil || !strings.Contains(err.Error(), "pool_max_conns") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("pool_max_conns=%s: error %v; want one naming pool_max_conns and not the password", v, err)
		}
	}
}
