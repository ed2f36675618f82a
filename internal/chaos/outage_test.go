package chaos_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// privatePostgres is a PostgreSQL instance of this test alone (its own data
// directory, port and socket directory), so that stopping it disturbs no
// other test using the shared server.
type privatePostgres struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cred *syscall.Credential // the user it runs as when the test runs as root
}

// startPrivatePostgres runs initdb and pg_ctl from /usr/lib/postgresql/*/bin,
// as the postgres user when running as root (PostgreSQL refuses root), or
// skips saying why it cannot.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): install Debian's postgresql to run the outage scenario")
	}
	slices.Sort(bins)
	pg := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	// Not t.TempDir: its parents are private to root, and the server may run as postgres.
	dir, err := os.MkdirTemp("", "mlops-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() {
		_ = pg.ctl("stop", "-m", "immediate", "-w")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and there is no postgres user to run a private PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := pg.command("initdb", "-D", pg.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Skipf("initdb of a private PostgreSQL failed (%v); skipping the outage scenario:\n%s", err, out)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	return pg
}

func (pg *privatePostgres) data() string { return filepath.Join(pg.dir, "data") }

func (pg *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

func (pg *privatePostgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

func (pg *privatePostgres) ctl(args ...string) error {
	args = append([]string{"-D", pg.data()}, args...)
	out, err := pg.command("pg_ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %w\n%s", args, err, out)
	}
	return nil
}

func (pg *privatePostgres) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c max_connections=60", pg.port, pg.dir)
	return pg.ctl("start", "-w", "-t", "60", "-l", filepath.Join(pg.dir, "log"), "-o", opts)
}

// stop is a fast shutdown: clients are disconnected, transactions rolled back.
func (pg *privatePostgres) stop() error { return pg.ctl("stop", "-m", "fast", "-w", "-t", "60") }

// TestDatabaseOutage stops a private PostgreSQL under mlopsd for a few seconds
// while clients write: meanwhile the API answers 503 with Retry-After (never
// 500, never 502 or 504) and no request takes longer than a bound; afterwards
// mlopsd recovers by itself (same process) and every acknowledged write is
// present.
func TestDatabaseOutage(t *testing.T) {
	enabled(t)
	t.Parallel() // runs beside the other parallel scenarios, after the measured ones
	const answerBound = 5 * time.Second
	outage := time.Duration(envInt("MLOPS_CHAOS_OUTAGE_SECONDS", 3)) * time.Second
	pg := startPrivatePostgres(t)
	srv := startServer(t, serverOptions{database: pg.url(), env: unlimited})
	var v violations
	w := newWorkload(t, srv, 8, true, &v)
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx, t) })

	// readyz, polled throughout, must say 503 while the database is down.
	var readyMu sync.Mutex
	ready := map[int]int{}
	wg.Go(func() {
		hc := &http.Client{Timeout: 10 * time.Second}
		for ctx.Err() == nil {
			code := 0
			if resp, err := hc.Get(srv.URL + "/readyz"); err == nil {
				resp.Body.Close()
				code = resp.StatusCode
			}
			readyMu.Lock()
			ready[code]++
			readyMu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	})

	time.Sleep(3 * time.Second)
	before := w.acked.Load()
	if n := w.failed.Load(); n > 0 {
		v.add("%d requests failed before PostgreSQL was stopped", n)
	}
	w.wire.since.Store(time.Now().UnixNano())
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(outage)
	failedDuring := w.failed.Load()
	up := time.Now()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	w.markRecovery()
	recovered := waitFor(context.Background(), 30*time.Second, func() bool { return w.firstOK.Load() != 0 })
	recovery := time.Duration(0)
	if recovered {
		recovery = time.Unix(0, w.firstOK.Load()).Sub(up)
	}
	time.Sleep(3 * time.Second)
	stopLoad()
	wg.Wait()

	if !srv.Alive() {
		v.add("mlopsd exited during the outage; log:\n%s", tail(srv.LogPath, 10))
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if !recovered {
		v.add("no write was acknowledged within 30s after PostgreSQL came back")
	}
	if n := w.wire.count5xx(http.StatusServiceUnavailable); n > 0 {
		v.add("%d answers were 5xx other than 503 (500: %d)", n, w.wire.status(http.StatusInternalServerError))
	}
	noRetryAfter := ""
	if n := w.wire.noRetryHint.Load(); n > 0 {
		noRetryAfter = fmt.Sprintf("%d of %d 503 answers carry no Retry-After, e.g. %s", n, w.wire.status(http.StatusServiceUnavailable), strings.Join(w.wire.examples, ", "))
	}
	if slow := time.Duration(w.wire.slowestSince.Load()); slow > answerBound {
		v.add("a request during or after the outage took %s to answer (bound %s)", slow.Round(time.Millisecond), answerBound)
	}
	if w.wire.status(http.StatusServiceUnavailable) == 0 {
		v.add("no request was answered 503 while PostgreSQL was down for %s", outage)
	}
	if failedDuring == 0 {
		v.add("no request failed while PostgreSQL was down: the outage was not exercised")
	}
	readyMu.Lock()
	if ready[http.StatusServiceUnavailable] == 0 {
		v.add("/readyz never answered 503 during the outage: %v", ready)
	}
	readyMu.Unlock()
	if noRetryAfter != "" {
		v.add("%s", noRetryAfter)
	}
	checked := w.verify(t)
	report("db-outage/postgres", "outage=%s requests=%d 503s=%d (without Retry-After %d) 500s=%d transport errors=%d slowest answer since outage %s "+
		"recovered %s after restart; acked writes=%d (%d before outage) objects checked=%d violations=%d",
		outage, w.wire.requests.Load(), w.wire.status(http.StatusServiceUnavailable), w.wire.noRetryHint.Load(),
		w.wire.status(http.StatusInternalServerError), w.wire.transport.Load(),
		time.Duration(w.wire.slowestSince.Load()).Round(time.Millisecond), recovery.Round(time.Millisecond),
		w.acked.Load(), before, checked, v.count())
	v.fail(t)
}
