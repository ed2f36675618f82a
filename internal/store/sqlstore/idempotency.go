package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Idempotent implements store.Store. The response is recorded with an
// upsert in the request's own transaction: of two concurrent requests with
// one key, the second waits on the first's row (or, on SQLite, on its write
// lock), finds it recorded and rolls its own writes back. Rows with status 0
// are claims left by mlopsd versions that recorded responses separately and
// were killed mid-request; they are taken over.
func (s *Store) Idempotent(ctx context.Context, scope, key, requestHash string, fn func(ctx context.Context) *store.IdempotentResponse) (*store.IdempotentResponse, error) {
	if prior, err := s.recordedResponse(ctx, scope, key); err == nil || !errors.Is(err, store.ErrNotFound) {
		return prior, err
	}
	r := s.newRequest(ctx)
	defer r.end()
	resp := fn(context.WithValue(ctx, requestKey{}, r))
	if r.failed != nil {
		return nil, r.failed
	}
	if resp == nil {
		return nil, nil
	}
	if err := r.begin(); err != nil {
		return nil, err
	}
	res, err := r.txs.exec(ctx, `INSERT INTO idempotency (scope, key, request_hash, status, header, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, status = excluded.status,
			header = excluded.header, body = excluded.body, created_at = excluded.created_at
		WHERE idempotency.status = 0`,
		scope, key, requestHash, resp.Status, resp.Header, resp.Body, micros(s.now()))
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, s.wrap(err)
	} else if n == 0 {
		// A concurrent request with this key recorded first: undo ours, answer with its response.
		_ = r.tx.Rollback()
		return s.recordedResponse(ctx, scope, key)
	}
	return nil, s.wrap(r.tx.Commit())
}

// Atomic implements store.Store.
func (s *Store) Atomic(ctx context.Context, fn func(ctx context.Context) bool) error {
	r := s.newRequest(ctx)
	defer r.end()
	commit := fn(context.WithValue(ctx, requestKey{}, r))
	switch {
	case r.failed != nil:
		return r.failed
	case !commit || r.tx == nil:
		return nil // r.end rolls back what was written
	}
	return s.wrap(r.tx.Commit())
}

// recordedResponse returns the response recorded for (scope, key), or ErrNotFound.
func (s *Store) recordedResponse(ctx context.Context, scope, key string) (*store.IdempotentResponse, error) {
	var r store.IdempotentResponse
	err := s.queryRow(ctx, `SELECT request_hash, status, header, body FROM idempotency WHERE scope = ? AND key = ? AND status <> 0`, scope, key).
		Scan(&r.RequestHash, &r.Status, &r.Header, &r.Body)
	if err != nil {
		return nil, s.wrap(err)
	}
	return &r, nil
}

// PurgeIdempotent implements store.Store.
func (s *Store) PurgeIdempotent(ctx context.Context, olderThan time.Time) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.PurgeIdempotent(ctx, olderThan) })
	}
	_, err := s.exec(ctx, `DELETE FROM idempotency WHERE created_at < ?`, micros(olderThan))
	return err
}
