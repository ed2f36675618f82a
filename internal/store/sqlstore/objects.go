package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

const objectColumns = `kind, project, parent, name, ordinal, generation, data, created_at, updated_at`

func scanObject(sc interface{ Scan(...any) error }) (*store.Object, error) {
	var o store.Object
	var kind string
	var created, updated int64
	if err := sc.Scan(&kind, &o.Project, &o.Parent, &o.Name, &o.Ordinal, &o.Generation, &o.Data, &created, &updated); err != nil {
		return nil, err
	}
	o.Kind = store.Kind(kind)
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &o, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, k store.Key) (*store.Object, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (*store.Object, error) { return s.Get(ctx, k) })
	}
	row := s.queryRow(ctx, `SELECT `+objectColumns+` FROM objects WHERE kind = ? AND project = ? AND parent = ? AND name = ?`,
		string(k.Kind), k.Project, k.Parent, k.Name)
	o, err := scanObject(row)
	return o, s.wrap(err)
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, objs ...*store.Object) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.Create(ctx, objs...) })
	}
	if len(objs) == 0 {
		return nil
	}
	q, args, now := insertObjects(s.now(), objs)
	if _, err := s.exec(ctx, q, args...); err != nil {
		return err
	}
	for _, o := range objs {
		o.Generation, o.CreatedAt, o.UpdatedAt = 1, now, now
	}
	return nil
}

// insertObjects is the statement inserting objs at generation 1, created now.
func insertObjects(now time.Time, objs []*store.Object) (string, []any, time.Time) {
	now = now.UTC().Truncate(time.Microsecond)
	var q strings.Builder
	q.WriteString(`INSERT INTO objects (` + objectColumns + `) VALUES `)
	args := make([]any, 0, 8*len(objs))
	for i, o := range objs {
		if i > 0 {
			q.WriteString(`, `)
		}
		q.WriteString(`(?, ?, ?, ?, ?, 1, ?, ?, ?)`)
		args = append(args, string(o.Kind), o.Project, o.Parent, o.Name, o.Ordinal, o.Data, micros(now), micros(now))
	}
	return q.String(), args, now
}

// CreateFresh implements store.Store.
func (s *Store) CreateFresh(ctx context.Context, o *store.Object, scope string) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.CreateFresh(ctx, o, scope) })
	}
	if s.dialect.name != "postgres" {
		// SQLite has no DELETE in a WITH clause, and no round trips to save.
		return s.InTx(ctx, func(tx store.Store) error {
			if _, err := tx.Get(ctx, store.ProjectKey(o.Project)); err != nil {
				return err
			}
			if err := tx.ResetSequence(ctx, scope); err != nil {
				return err
			}
			return tx.Create(ctx, o)
		})
	}
	// The project's existence is checked in the same statement: a separate
	// read was one more round trip for every model created.
	now := s.now().UTC().Truncate(time.Microsecond)
	const projectExists = `EXISTS (SELECT 1 FROM objects WHERE kind = ? AND project = '' AND parent = '' AND name = ?)`
	res, err := s.exec(ctx, `WITH reset AS (DELETE FROM sequences WHERE scope = ? AND `+projectExists+`)
		INSERT INTO objects (`+objectColumns+`) SELECT ?, ?, ?, ?, ?, 1, ?, ?, ? WHERE `+projectExists,
		scope, string(store.KindProject), o.Project,
		string(o.Kind), o.Project, o.Parent, o.Name, o.Ordinal, o.Data, micros(now), micros(now),
		string(store.KindProject), o.Project)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap(err)
	} else if n == 0 {
		return store.ErrNotFound
	}
	o.Generation, o.CreatedAt, o.UpdatedAt = 1, now, now
	return nil
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, o *store.Object, ifGeneration int64) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.Update(ctx, o, ifGeneration) })
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	q := `UPDATE objects SET data = ?, ordinal = ?, generation = generation + 1, updated_at = ?
		WHERE kind = ? AND project = ? AND parent = ? AND name = ?`
	args := []any{o.Data, o.Ordinal, micros(now), string(o.Kind), o.Project, o.Parent, o.Name}
	if ifGeneration > 0 {
		q += ` AND generation = ?`
		args = append(args, ifGeneration)
	}
	var gen, created int64
	err := s.queryRow(ctx, q+` RETURNING generation, created_at`, args...).Scan(&gen, &created)
	if err = s.wrap(err); err != nil {
		return s.missingOrStale(ctx, o.Key, err)
	}
	o.Generation, o.CreatedAt, o.UpdatedAt = gen, fromMicros(created), now
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, k store.Key, ifGeneration int64) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.Delete(ctx, k, ifGeneration) })
	}
	q := `DELETE FROM objects WHERE kind = ? AND project = ? AND parent = ? AND name = ?`
	args := []any{string(k.Kind), k.Project, k.Parent, k.Name}
	if ifGeneration > 0 {
		q += ` AND generation = ?`
		args = append(args, ifGeneration)
	}
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return s.missingOrStale(ctx, k, store.ErrNotFound)
	}
	return nil
}

// missingOrStale tells apart a write that found no row from one whose generation did not match.
func (s *Store) missingOrStale(ctx context.Context, k store.Key, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, getErr := s.Get(ctx, k); getErr == nil {
		return store.ErrStale
	}
	return store.ErrNotFound
}

// DeleteChildren implements store.Store.
func (s *Store) DeleteChildren(ctx context.Context, kind store.Kind, project, parent string) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.DeleteChildren(ctx, kind, project, parent) })
	}
	_, err := s.exec(ctx, `DELETE FROM objects WHERE kind = ? AND project = ? AND parent = ?`, string(kind), project, parent)
	return err
}

// CountProject implements store.Store.
func (s *Store) CountProject(ctx context.Context, project string) (int64, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (int64, error) { return s.CountProject(ctx, project) })
	}
	var n int64
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM objects WHERE project = ? AND kind <> ?`, project, string(store.KindProject)).Scan(&n)
	return n, s.wrap(err)
}

// pageToken is where a listing stopped: the last (ordinal, name) returned.
type pageToken struct {
	Ordinal int64  `json:"o"`
	Name    string `json:"n"`
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, q store.ListQuery) ([]*store.Object, string, error) {
	if r := s.joined(ctx); r != nil {
		var next string
		objs, err := inRequest(ctx, r, false, func(s *Store) (objs []*store.Object, err error) {
			objs, next, err = s.List(ctx, q)
			return objs, err
		})
		return objs, next, err
	}
	sqlq := `SELECT ` + objectColumns + ` FROM objects WHERE kind = ? AND project = ? AND parent = ?`
	args := []any{string(q.Kind), q.Project, q.Parent}
	if q.PageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.PageToken)
		var tok pageToken
		if err == nil {
			err = json.Unmarshal(raw, &tok)
		}
		if err != nil {
			return nil, "", fmt.Errorf("%w: page_token is not one this server issued", store.ErrBadPageToken)
		}
		cmp := ">"
		if q.Desc {
			cmp = "<"
		}
		sqlq += ` AND (ordinal ` + cmp + ` ? OR (ordinal = ? AND name ` + cmp + ` ?))`
		args = append(args, tok.Ordinal, tok.Ordinal, tok.Name)
	}
	if q.Desc {
		sqlq += ` ORDER BY ordinal DESC, name DESC`
	} else {
		sqlq += ` ORDER BY ordinal, name`
	}
	if q.Limit > 0 {
		// One extra row tells whether another page exists.
		sqlq += fmt.Sprintf(` LIMIT %d`, q.Limit+1)
	}
	rows, err := s.query(ctx, sqlq, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*store.Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, "", s.wrap(err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap(err)
	}
	next := ""
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
		last := out[len(out)-1]
		raw, _ := json.Marshal(pageToken{Ordinal: last.Ordinal, Name: last.Name})
		next = base64.RawURLEncoding.EncodeToString(raw)
	}
	return out, next, nil
}

// NextSequence implements store.Store.
func (s *Store) NextSequence(ctx context.Context, scope string) (int64, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, true, func(s *Store) (int64, error) { return s.NextSequence(ctx, scope) })
	}
	var v int64
	if scope == store.AuditScope && s.dialect.name == "postgres" {
		// Every change takes an audit id. From a counter row, the row stays
		// locked until the change's transaction commits, so on PostgreSQL
		// concurrent changes queued behind each other's commits (30 of 32
		// writers waiting on it, make bench). A sequence hands out ids
		// without a lock: they still increase in the order changes take
		// them, but one can commit (and show up in the log) after one with a
		// larger id, and a change rolled back leaves a gap. SQLite has one
		// writer at a time anyway and keeps the counter row.
		err := s.queryRow(ctx, `SELECT nextval('audit_ids')`).Scan(&v)
		return v, s.wrap(err)
	}
	err := s.queryRow(ctx, `INSERT INTO sequences (scope, value) VALUES (?, 1)
		ON CONFLICT (scope) DO UPDATE SET value = sequences.value + 1 RETURNING value`, scope).Scan(&v)
	return v, s.wrap(err)
}

// CreateNumbered implements store.Store.
func (s *Store) CreateNumbered(ctx context.Context, scope string, objs ...*store.Object) (int64, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, true, func(s *Store) (int64, error) { return s.CreateNumbered(ctx, scope, objs...) })
	}
	if len(objs) == 0 {
		return 0, errors.New("CreateNumbered: no objects")
	}
	number := func(n int64) {
		for _, o := range objs {
			o.Name, o.Ordinal = strconv.FormatInt(n, 10), n
		}
	}
	if s.dialect.name != "postgres" {
		// SQLite has no round trips to save.
		var n int64
		err := s.InTx(ctx, func(tx store.Store) error {
			var err error
			if n, err = tx.NextSequence(ctx, scope); err != nil {
				return err
			}
			number(n)
			return tx.Create(ctx, objs...)
		})
		return n, err
	}
	// The number comes from a WITH clause and is joined to every row.
	next := `WITH n AS (INSERT INTO sequences (scope, value) VALUES (?, 1)
		ON CONFLICT (scope) DO UPDATE SET value = sequences.value + 1 RETURNING value AS v) `
	args := []any{scope}
	if scope == store.AuditScope {
		next, args = `WITH n AS (SELECT nextval('audit_ids') AS v) `, nil // see NextSequence
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var q strings.Builder
	q.WriteString(next + `INSERT INTO objects (` + objectColumns + `)
		SELECT o.kind, o.project, o.parent, n.v::text, n.v, 1, o.data, ?::bigint, ?::bigint FROM n CROSS JOIN (VALUES `)
	args = append(args, micros(now), micros(now))
	for i, o := range objs {
		if i > 0 {
			q.WriteString(`, `)
		}
		q.WriteString(`(?::text, ?::text, ?::text, ?::bytea)`)
		args = append(args, string(o.Kind), o.Project, o.Parent, o.Data)
	}
	q.WriteString(`) AS o (kind, project, parent, data) RETURNING ordinal`)
	var n int64
	if err := s.queryRow(ctx, q.String(), args...).Scan(&n); err != nil {
		return 0, s.wrap(err)
	}
	number(n)
	for _, o := range objs {
		o.Generation, o.CreatedAt, o.UpdatedAt = 1, now, now
	}
	return n, nil
}

// ResetSequence implements store.Store.
func (s *Store) ResetSequence(ctx context.Context, scope string) error {
	if r := s.joined(ctx); r != nil {
		return r.run(ctx, true, func(s *Store) error { return s.ResetSequence(ctx, scope) })
	}
	_, err := s.exec(ctx, `DELETE FROM sequences WHERE scope = ?`, scope)
	return err
}
