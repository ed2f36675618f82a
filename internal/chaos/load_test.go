package chaos_test

import (
	"context"
	"testing"
	"time"
)

// TestLoad runs MLOPS_LOAD_CLIENTS Go clients (default 16) for
// MLOPS_LOAD_SECONDS (default 10) against a real mlopsd on loopback, on SQLite
// and on PostgreSQL: no 5xx and no transport error may occur, every read of a
// client's own pipeline returns its last acknowledged write, and at the end
// every acknowledged write reads back intact (hot pipelines written by all
// clients with If-Match end at exactly one generation per acknowledged update).
func TestLoad(t *testing.T) {
	enabled(t)
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { load(t, db) })
	}
}

func load(t *testing.T, db database) {
	clients := envInt("MLOPS_LOAD_CLIENTS", 16)
	seconds := envInt("MLOPS_LOAD_SECONDS", 10)
	srv := startServer(t, serverOptions{database: db.url(t), env: unlimited})
	var v violations
	w := newWorkload(t, srv, clients, false, &v)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	start := time.Now()
	w.run(ctx, t)
	elapsed := time.Since(start)
	checked := w.verify(t)
	if n := w.wire.count5xx(0); n > 0 {
		v.add("%d answers were 5xx", n)
	}
	ops := w.lat.total()
	report("load/"+db.name, "clients=%d seconds=%d requests=%d ops=%d (%.0f ops/s) acked writes=%d 412s on hot=%d objects checked=%d violations=%d",
		clients, seconds, w.wire.requests.Load(), ops, float64(ops)/elapsed.Seconds(), w.acked.Load(), w.conflicts.Load(), checked, v.count())
	report("load/"+db.name, "  latency: %s", w.lat.summary())
	v.fail(t)
}
