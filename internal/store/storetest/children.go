package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// testChildren: Children and LastOrdinals read several parents' children at
// once, and only those of the kind, project and parents asked for.
func testChildren(t *testing.T, s store.Store) {
	ctx := context.Background()
	put := func(kind store.Kind, project, parent, name string, ordinal int64) {
		t.Helper()
		o := obj(kind, project, parent, name, `{}`)
		o.Ordinal = ordinal
		mustNil(t, s.Create(ctx, o))
	}
	for _, v := range []int64{2, 1, 3} {
		put(store.KindModelVersion, "p", "a", fmt.Sprint(v), v)
	}
	put(store.KindModelVersion, "p", "b", "7", 7)
	put(store.KindModelVersion, "q", "c", "9", 9) // another project
	put(store.KindModelAlias, "p", "a", "prod", 0)
	put(store.KindModelAlias, "p", "a", "canary", 0)
	put(store.KindModelAlias, "p", "c", "prod", 0) // a parent not asked for
	put(store.KindModelAlias, "q", "b", "prod", 0) // another project

	parents := []string{"a", "b", "c", "none"}
	last, err := s.LastOrdinals(ctx, store.KindModelVersion, "p", parents)
	mustNil(t, err)
	if fmt.Sprint(last) != "map[a:3 b:7]" {
		t.Fatalf("LastOrdinals = %v, want map[a:3 b:7]", last)
	}
	kids, err := s.Children(ctx, store.KindModelAlias, "p", []string{"a", "b"})
	mustNil(t, err)
	var got []string
	for parent, objs := range kids {
		for _, o := range objs {
			if o.Kind != store.KindModelAlias || o.Project != "p" || o.Parent != parent {
				t.Fatalf("Children returned %+v under %q", o.Key, parent)
			}
			got = append(got, parent+"/"+o.Name)
		}
	}
	if len(kids) != 1 || strings.Join(got, " ") != "a/canary a/prod" {
		t.Fatalf("Children = %v, want a/canary a/prod", got)
	}
	versions, err := s.Children(ctx, store.KindModelVersion, "p", []string{"a"})
	mustNil(t, err)
	if len(versions["a"]) != 3 || versions["a"][0].Ordinal != 1 || versions["a"][2].Ordinal != 3 {
		t.Fatalf("Children of a: %d objects, want 3 in ordinal order", len(versions["a"]))
	}
	for _, empty := range [][]string{nil, {}} {
		kids, err := s.Children(ctx, store.KindModelAlias, "p", empty)
		mustNil(t, err)
		last, err := s.LastOrdinals(ctx, store.KindModelVersion, "p", empty)
		mustNil(t, err)
		if len(kids) != 0 || len(last) != 0 {
			t.Fatalf("no parents: %v %v", kids, last)
		}
	}
}
