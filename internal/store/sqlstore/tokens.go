package sqlstore

import (
	"context"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// CreateToken implements store.Store.
func (s *Store) CreateToken(ctx context.Context, t *store.Token) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.CreateToken(ctx, t) })
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	}
	_, err := s.exec(ctx, `INSERT INTO tokens (id, hash, role, project, description, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Role, t.Project, t.Description, micros(t.CreatedAt))
	return err
}

func scanToken(sc interface{ Scan(...any) error }) (*store.Token, error) {
	var t store.Token
	var created int64
	if err := sc.Scan(&t.ID, &t.Hash, &t.Role, &t.Project, &t.Description, &created); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// TokenByHash implements store.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (*store.Token, error) { return s.TokenByHash(ctx, hash) })
	}
	t, err := scanToken(s.queryRow(ctx, `SELECT id, hash, role, project, description, created_at FROM tokens WHERE hash = ?`, hash))
	return t, s.wrap(err)
}

// TokenByID implements store.Store.
func (s *Store) TokenByID(ctx context.Context, id string) (*store.Token, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (*store.Token, error) { return s.TokenByID(ctx, id) })
	}
	t, err := scanToken(s.queryRow(ctx, `SELECT id, hash, role, project, description, created_at FROM tokens WHERE id = ?`, id))
	return t, s.wrap(err)
}

// ListTokens implements store.Store.
func (s *Store) ListTokens(ctx context.Context) ([]*store.Token, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) ([]*store.Token, error) { return s.ListTokens(ctx) })
	}
	rows, err := s.query(ctx, `SELECT id, hash, role, project, description, created_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, t)
	}
	return out, s.wrap(rows.Err())
}

// DeleteToken implements store.Store.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.DeleteToken(ctx, id) })
	}
	res, err := s.exec(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
