package sqlstore

import (
	"context"
	"strings"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// parentsIn is the condition and arguments selecting objects of kind under
// any of parents in project.
func parentsIn(kind store.Kind, project string, parents []string) (string, []any) {
	args := make([]any, 0, 2+len(parents))
	args = append(args, string(kind), project)
	for _, p := range parents {
		args = append(args, p)
	}
	return `kind = ? AND project = ? AND parent IN (?` + strings.Repeat(`, ?`, len(parents)-1) + `)`, args
}

// Children implements store.Store.
func (s *Store) Children(ctx context.Context, kind store.Kind, project string, parents []string) (map[string][]*store.Object, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (map[string][]*store.Object, error) {
			return s.Children(ctx, kind, project, parents)
		})
	}
	out := map[string][]*store.Object{}
	if len(parents) == 0 {
		return out, nil
	}
	where, args := parentsIn(kind, project, parents)
	rows, err := s.query(ctx, `SELECT `+objectColumns+` FROM objects WHERE `+where+` ORDER BY parent, ordinal, name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out[o.Parent] = append(out[o.Parent], o)
	}
	return out, s.wrap(rows.Err())
}

// LastOrdinals implements store.Store.
func (s *Store) LastOrdinals(ctx context.Context, kind store.Kind, project string, parents []string) (map[string]int64, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (map[string]int64, error) {
			return s.LastOrdinals(ctx, kind, project, parents)
		})
	}
	out := map[string]int64{}
	if len(parents) == 0 {
		return out, nil
	}
	where, args := parentsIn(kind, project, parents)
	rows, err := s.query(ctx, `SELECT parent, MAX(ordinal) FROM objects WHERE `+where+` GROUP BY parent`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var parent string
		var last int64
		if err := rows.Scan(&parent, &last); err != nil {
			return nil, s.wrap(err)
		}
		out[parent] = last
	}
	return out, s.wrap(rows.Err())
}
