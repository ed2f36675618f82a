package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// BeginIdempotent implements store.Store. The primary key makes the claim
// atomic: of two concurrent first requests exactly one inserts.
func (s *Store) BeginIdempotent(ctx context.Context, scope, key, requestHash string) (*store.IdempotentResponse, bool, error) {
	_, err := s.exec(ctx, `INSERT INTO idempotency (scope, key, request_hash, status, created_at) VALUES (?, ?, ?, 0, ?)`,
		scope, key, requestHash, micros(s.now()))
	if err == nil {
		return nil, true, nil
	}
	if !errors.Is(err, store.ErrExists) {
		return nil, false, err
	}
	var r store.IdempotentResponse
	err = s.queryRow(ctx, `SELECT request_hash, status, header, body FROM idempotency WHERE scope = ? AND key = ?`, scope, key).
		Scan(&r.RequestHash, &r.Status, &r.Header, &r.Body)
	if err != nil {
		return nil, false, s.wrap(err)
	}
	return &r, false, nil
}

// CompleteIdempotent implements store.Store.
func (s *Store) CompleteIdempotent(ctx context.Context, scope, key string, r *store.IdempotentResponse) error {
	_, err := s.exec(ctx, `UPDATE idempotency SET status = ?, header = ?, body = ? WHERE scope = ? AND key = ?`,
		r.Status, r.Header, r.Body, scope, key)
	return err
}

// AbortIdempotent implements store.Store.
func (s *Store) AbortIdempotent(ctx context.Context, scope, key string) error {
	_, err := s.exec(ctx, `DELETE FROM idempotency WHERE scope = ? AND key = ? AND status = 0`, scope, key)
	return err
}

// PurgeIdempotent implements store.Store.
func (s *Store) PurgeIdempotent(ctx context.Context, olderThan time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM idempotency WHERE created_at < ?`, micros(olderThan))
	return err
}
