package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Common inputs, embedded in each operation's input.

// ProjectPath addresses a project's collection.
type ProjectPath struct {
	Project string `path:"project" doc:"Project name."`
}

// NamePath addresses one named object in a project.
type NamePath struct {
	Project string `path:"project" doc:"Project name."`
	Name    string `path:"name" doc:"Object name."`
}

// IfMatch is the optional precondition of a write.
type IfMatch struct {
	IfMatch string `header:"If-Match" doc:"ETag (generation) the object must still have; 412 otherwise."`
}

// Paging selects one page of a list.
type Paging struct {
	PageSize  int    `query:"page_size" minimum:"0" maximum:"500" doc:"Items per page (default 100, at most 500)."`
	PageToken string `query:"page_token" doc:"next_page_token of the previous page."`
}

func (p Paging) limit() int {
	if p.PageSize <= 0 {
		return 100
	}
	return p.PageSize
}

// Body is a single-object response with its ETag.
type Body[T any] struct {
	ETag string `header:"ETag"`
	Body T
}

// ListBody is a page of a list.
type ListBody[T any] struct {
	Body api.List[T]
}

// Empty is the response of a delete.
type Empty struct{}

func withETag[T any](v T, generation int64) *Body[T] {
	return &Body[T]{ETag: etag(generation), Body: v}
}

// meta renders the object's bookkeeping.
func meta(o *store.Object) api.Meta {
	return api.Meta{Generation: o.Generation, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

func decode[T any](o *store.Object) (T, error) {
	var v T
	if err := json.Unmarshal(o.Data, &v); err != nil {
		return v, fmt.Errorf("stored %s is corrupt: %w", describe(o.Key), err)
	}
	return v, nil
}

func encode(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		// Only API types reach here, and they always marshal.
		panic(err)
	}
	return data
}

// load reads and decodes one object.
func load[T any](ctx context.Context, st store.Store, k store.Key) (T, *store.Object, error) {
	o, err := st.Get(ctx, k)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	v, err := decode[T](o)
	return v, o, err
}

// list reads one page of a kind and decodes it with fill, which completes each item.
func list[T any](ctx context.Context, st store.Store, q store.ListQuery, p Paging, fill func(*T, *store.Object) error) (*api.List[T], error) {
	return listPage(ctx, st, q, p, func(items []T, objs []*store.Object) error {
		for i := range items {
			if err := fill(&items[i], objs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// listPage reads one page of a kind, decodes it and hands the whole page to
// fill, which completes the items (objs[i] is items[i]'s object).
func listPage[T any](ctx context.Context, st store.Store, q store.ListQuery, p Paging, fill func(items []T, objs []*store.Object) error) (*api.List[T], error) {
	q.Limit, q.PageToken = p.limit(), p.PageToken
	objs, next, err := st.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &api.List[T]{Items: make([]T, 0, len(objs)), NextPageToken: next}
	for _, o := range objs {
		v, err := decode[T](o)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, v)
	}
	if err := fill(out.Items, objs); err != nil {
		return nil, err
	}
	return out, nil
}

// requireProject answers 404 when the project of a nested path does not exist.
func (s *Server) requireProject(ctx context.Context, project string) error {
	if _, err := s.store.Get(ctx, store.Key{Kind: store.KindProject, Name: project}); err != nil {
		return s.storeError(ctx, store.Key{Kind: store.KindProject, Name: project}, err)
	}
	return nil
}

// checkName validates a name taken from a request body.
func checkName(field, name string) error {
	if fe := api.ValidateName(field, name); fe != nil {
		return badRequest(fe)
	}
	return nil
}

// registerProjectList registers GET base: one page of a kind's objects in a
// project, each completed by fill.
func registerProjectList[T any](s *Server, id, base, summary string, tags []string, kind store.Kind, fill func(context.Context, *T, *store.Object) error) {
	registerProjectPage(s, id, base, summary, tags, kind, func(ctx context.Context, items []T, objs []*store.Object) error {
		for i := range items {
			if err := fill(ctx, &items[i], objs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// registerProjectPage is registerProjectList for kinds that complete a whole
// page at once, in a few queries rather than a few per item.
func registerProjectPage[T any](s *Server, id, base, summary string, tags []string, kind store.Kind, fill func(context.Context, []T, []*store.Object) error) {
	register(s, accessRead, huma.Operation{
		OperationID: id, Method: http.MethodGet, Path: base, Tags: tags, Summary: summary,
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Paging
	}) (*ListBody[T], error) {
		if err := s.requireProject(ctx, in.Project); err != nil {
			return nil, err
		}
		page, err := listPage(ctx, s.store, store.ListQuery{Kind: kind, Project: in.Project}, in.Paging, func(items []T, objs []*store.Object) error {
			return fill(ctx, items, objs)
		})
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		return &ListBody[T]{Body: *page}, nil
	})
}
