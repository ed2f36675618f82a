package gateway

import (
	"context"
	"io"
	"net/http"
	"time"
)

// startCheck runs the health checker of b until b.stop is called. The
// caller holds g.mu.
func (g *Gateway) startCheck(key string, b *backend, path string) {
	if g.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop, b.path = cancel, path
	g.checks.Add(1)
	go func() {
		defer g.checks.Done()
		g.checkLoop(ctx, key, b, path)
	}()
}

// checkLoop checks b at once and then every HealthInterval. Without a
// health path only a backend marked down by a failed request is checked,
// to find out when it is back.
func (g *Gateway) checkLoop(ctx context.Context, key string, b *backend, path string) {
	t := time.NewTicker(g.opts.HealthInterval)
	defer t.Stop()
	for {
		if path != "" || !b.healthy.Load() {
			ok := g.probe(ctx, b, path)
			if ctx.Err() != nil {
				return
			}
			if b.healthy.Swap(ok) != ok {
				g.log.Info("gateway backend health changed", "deployment", key, "backend", b.name, "healthy", ok)
			}
			b.markProbed()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe GETs the health path and wants a 2xx. Without a path it GETs the
// base URL and any answer will do: the server is reachable again.
func (g *Gateway) probe(ctx context.Context, b *backend, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, g.opts.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url.JoinPath(path).String(), nil)
	if err != nil {
		return false
	}
	resp, err := g.health.Do(req)
	if err != nil {
		return false
	}
	// Drain a little so the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return path == "" || (resp.StatusCode >= 200 && resp.StatusCode < 300)
}
