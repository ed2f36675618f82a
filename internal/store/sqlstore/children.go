package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
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

// Families implements store.Store.
func (s *Store) Families(ctx context.Context, project string, parents []string, all, last store.Kind) (map[string]store.Family, error) {
	if r := s.joined(ctx); r != nil {
		return inRequest(ctx, r, false, func(s *Store) (map[string]store.Family, error) {
			return s.Families(ctx, project, parents, all, last)
		})
	}
	if len(parents) == 0 {
		return map[string]store.Family{}, nil
	}
	q, args := s.familiesQuery(project, parents, all, last)
	_, families, err := s.family(ctx, q, args)
	return families, err
}

// GetFamily implements store.Store.
func (s *Store) GetFamily(ctx context.Context, k store.Key, all, last store.Kind) (*store.Object, store.Family, error) {
	if r := s.joined(ctx); r != nil {
		var f store.Family
		o, err := inRequest(ctx, r, false, func(s *Store) (*store.Object, error) {
			o, family, err := s.GetFamily(ctx, k, all, last)
			f = family
			return o, err
		})
		return o, f, err
	}
	q, args := getFamilyQuery(k, all, last)
	o, families, err := s.family(ctx, q, args)
	if err == nil && o == nil {
		err = store.ErrNotFound
	}
	f := families[k.Name]
	slices.SortFunc(f.Children, func(a, b *store.Object) int {
		return cmp.Or(cmp.Compare(a.Ordinal, b.Ordinal), strings.Compare(a.Name, b.Name))
	})
	return o, f, err
}

// Parts of a family query's result, its first column.
const (
	partObject      = 0 // the object GetFamily reads
	partChild       = 1 // a child of kind all
	partLastOrdinal = 2 // the highest ordinal of kind last under one parent
)

// familiesQuery is the statement reading the families of parents.
func (s *Store) familiesQuery(project string, parents []string, all, last store.Kind) (string, []any) {
	if s.dialect.name == "postgres" {
		// The parents as one array: the statement is the same for every
		// page size, and each parent's last ordinal is one backward index
		// probe, where MAX(ordinal) … GROUP BY read every child of the kind
		// in the project (all of its models' versions for a page of models).
		return `SELECT 1, ` + objectColumns + ` FROM objects WHERE kind = ? AND project = ? AND parent = ANY (?::text[])
			UNION ALL SELECT 2, v.kind, v.project, v.parent, '', v.ordinal, 0, NULL, 0, 0 FROM unnest(?::text[]) AS p (parent)
			CROSS JOIN LATERAL (SELECT kind, project, parent, ordinal FROM objects
				WHERE kind = ? AND project = ? AND parent = p.parent ORDER BY ordinal DESC LIMIT 1) AS v
			ORDER BY 1, 4, 6, 5`, // part, parent, ordinal, name
			[]any{string(all), project, parents, parents, string(last), project}
	}
	where, args := parentsIn(all, project, parents)
	lastWhere, lastArgs := parentsIn(last, project, parents)
	return `SELECT 1, ` + objectColumns + ` FROM objects WHERE ` + where + `
		UNION ALL SELECT 2, kind, project, parent, '', MAX(ordinal), 0, NULL, 0, 0 FROM objects WHERE ` + lastWhere + ` GROUP BY kind, project, parent
		ORDER BY 1, 4, 6, 5`, append(args, lastArgs...)
}

// getFamilyQuery is the statement reading the object at k and its family:
// three index lookups, the last ordinal one backward probe. It leaves the
// children unsorted: an ORDER BY cost PostgreSQL a fifth of the statement.
func getFamilyQuery(k store.Key, all, last store.Kind) (string, []any) {
	return `SELECT 0, ` + objectColumns + ` FROM objects WHERE kind = ? AND project = ? AND parent = ? AND name = ?
		UNION ALL SELECT 1, ` + objectColumns + ` FROM objects WHERE kind = ? AND project = ? AND parent = ?
		UNION ALL SELECT 2, kind, project, parent, '', ordinal, 0, NULL, 0, 0 FROM (SELECT kind, project, parent, ordinal FROM objects
			WHERE kind = ? AND project = ? AND parent = ? ORDER BY ordinal DESC LIMIT 1) AS last`,
		[]any{string(k.Kind), k.Project, k.Parent, k.Name, string(all), k.Project, k.Name, string(last), k.Project, k.Name}
}

// family runs a families or get-family statement (see the two above).
// A UNION ALL of index lookups costs PostgreSQL little more than one of
// them; each statement saved is a round trip.
func (s *Store) family(ctx context.Context, q string, args []any) (*store.Object, map[string]store.Family, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var obj *store.Object
	families := map[string]store.Family{}
	for rows.Next() {
		var part int
		o, err := scanObject(prefixed{rows, &part})
		if err != nil {
			return nil, nil, s.wrap(err)
		}
		switch part {
		case partObject:
			obj = o
		case partChild:
			f := families[o.Parent]
			f.Children = append(f.Children, o)
			families[o.Parent] = f
		case partLastOrdinal:
			f := families[o.Parent]
			f.Last = o.Ordinal
			families[o.Parent] = f
		}
	}
	return obj, families, s.wrap(rows.Err())
}

// prefixed scans a row whose first column precedes what sc scans.
type prefixed struct {
	rows  *sql.Rows
	first any
}

func (p prefixed) Scan(dest ...any) error {
	return p.rows.Scan(append([]any{p.first}, dest...)...)
}
