package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// testChildren: Children, Families and GetFamily read several parents'
// children at once, and only those of the kind, project and parents asked for.
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
	families, err := s.Families(ctx, "p", parents, store.KindModelAlias, store.KindModelVersion)
	mustNil(t, err)
	if got := familyString(families); got != "a:[canary prod] last 3; b:[] last 7; c:[prod] last 0" {
		t.Fatalf("Families = %s", got)
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
		families, err := s.Families(ctx, "p", empty, store.KindModelAlias, store.KindModelVersion)
		mustNil(t, err)
		if len(kids) != 0 || len(families) != 0 {
			t.Fatalf("no parents: %v %v", kids, families)
		}
	}

	// GetFamily: the object with its family, in one call.
	put(store.KindModel, "p", "", "a", 0)
	put(store.KindModel, "p", "", "d", 0)
	o, f, err := s.GetFamily(ctx, store.ModelKey("p", "a"), store.KindModelAlias, store.KindModelVersion)
	mustNil(t, err)
	if o.Key != store.ModelKey("p", "a") || o.Generation != 1 || string(o.Data) != `{}` || o.CreatedAt.IsZero() {
		t.Fatalf("GetFamily object = %+v", o)
	}
	if got := familyString(map[string]store.Family{"a": f}); got != "a:[canary prod] last 3" {
		t.Fatalf("GetFamily family = %s", got)
	}
	for _, kid := range f.Children {
		if kid.Kind != store.KindModelAlias || kid.Project != "p" || kid.Parent != "a" || kid.Generation != 1 {
			t.Fatalf("GetFamily child %+v", kid)
		}
	}
	o, f, err = s.GetFamily(ctx, store.ModelKey("p", "d"), store.KindModelAlias, store.KindModelVersion)
	mustNil(t, err)
	if o.Name != "d" || len(f.Children) != 0 || f.Last != 0 {
		t.Fatalf("GetFamily of a childless object = %+v, %+v", o, f)
	}
	// Children without their object: not found, like Get.
	if _, _, err := s.GetFamily(ctx, store.ModelKey("p", "c"), store.KindModelAlias, store.KindModelVersion); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetFamily of a missing object: %v, want ErrNotFound", err)
	}
}

// familyString renders families sorted by parent: "a:[alias …] last N; …".
func familyString(families map[string]store.Family) string {
	var parts []string
	for parent, f := range families {
		names := []string{}
		for _, o := range f.Children {
			names = append(names, o.Name)
		}
		parts = append(parts, fmt.Sprintf("%s:%v last %d", parent, names, f.Last))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}
