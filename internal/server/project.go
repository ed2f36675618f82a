package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

type ProjectNamePath struct {
	Name string `path:"name" doc:"Project name."`
}

func (s *Server) registerProjects() {
	tags := []string{"projects"}
	register(s, accessAuthenticated, huma.Operation{
		OperationID: "list-projects", Method: http.MethodGet, Path: "/v1/projects", Tags: tags,
		Summary: "List the projects the token may read",
	}, func(ctx context.Context, in *struct{ Paging }) (*ListBody[api.Project], error) {
		p := principalFrom(ctx)
		if p.role != api.RoleAdmin && p.project != api.AllProjects {
			// A token scoped to one project sees just that one.
			proj, o, err := load[api.Project](ctx, s.store, store.ProjectKey(p.project))
			if errors.Is(err, store.ErrNotFound) {
				return &ListBody[api.Project]{Body: api.List[api.Project]{Items: []api.Project{}}}, nil
			}
			if err != nil {
				return nil, s.storeError(ctx, store.ProjectKey(p.project), err)
			}
			proj.Meta = meta(o)
			return &ListBody[api.Project]{Body: api.List[api.Project]{Items: []api.Project{proj}}}, nil
		}
		page, err := list(ctx, s.store, store.ListQuery{Kind: store.KindProject}, in.Paging, func(v *api.Project, o *store.Object) error {
			v.Meta = meta(o)
			return nil
		})
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		return &ListBody[api.Project]{Body: *page}, nil
	})

	register(s, accessProjectAdmin, huma.Operation{
		OperationID: "create-project", Method: http.MethodPost, Path: "/v1/projects", Tags: tags,
		Summary: "Create a project", DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct{ Body api.Project }) (*Body[api.Project], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		p := api.Project{Name: in.Body.Name, Description: in.Body.Description}
		o := &store.Object{Key: store.ProjectKey(p.Name), Data: encode(p)}
		if err := s.store.Create(ctx, o); err != nil {
			return nil, s.storeError(ctx, o.Key, err)
		}
		p.Meta = meta(o)
		return withETag(p, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-project", Method: http.MethodGet, Path: "/v1/projects/{name}", Tags: tags, Summary: "Get a project",
	}, func(ctx context.Context, in *ProjectNamePath) (*Body[api.Project], error) {
		p, o, err := load[api.Project](ctx, s.store, store.ProjectKey(in.Name))
		if err != nil {
			return nil, s.storeError(ctx, store.ProjectKey(in.Name), err)
		}
		p.Meta = meta(o)
		return withETag(p, o.Generation), nil
	})

	register(s, accessProjectAdmin, huma.Operation{
		OperationID: "update-project", Method: http.MethodPut, Path: "/v1/projects/{name}", Tags: tags, Summary: "Update a project",
	}, func(ctx context.Context, in *struct {
		ProjectNamePath
		IfMatch
		Body api.ProjectUpdate
	}) (*Body[api.Project], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		p := api.Project{Name: in.Name, Description: in.Body.Description}
		o := &store.Object{Key: store.ProjectKey(in.Name), Data: encode(p)}
		if err := s.store.Update(ctx, o, gen); err != nil {
			return nil, s.storeError(ctx, o.Key, err)
		}
		p.Meta = meta(o)
		return withETag(p, o.Generation), nil
	})

	register(s, accessProjectAdmin, huma.Operation{
		OperationID: "delete-project", Method: http.MethodDelete, Path: "/v1/projects/{name}", Tags: tags,
		Summary: "Delete an empty project", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		ProjectNamePath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		if in.Name == api.DefaultProject {
			return nil, huma.Error409Conflict("the default project cannot be deleted")
		}
		err = s.store.InTx(ctx, func(tx store.Store) error {
			n, err := tx.CountProject(ctx, in.Name)
			if err != nil {
				return err
			}
			if n > 0 {
				if _, err := tx.Get(ctx, store.ProjectKey(in.Name)); err != nil {
					return err
				}
				return huma.Error409Conflict(fmt.Sprintf("project %q still holds %d objects; delete them first", in.Name, n))
			}
			return tx.Delete(ctx, store.ProjectKey(in.Name), gen)
		})
		if err != nil {
			return nil, s.storeError(ctx, store.ProjectKey(in.Name), err)
		}
		return &Empty{}, nil
	})
}

// listError maps errors of a list call.
func (s *Server) listError(ctx context.Context, err error) error {
	if isBadPageToken(err) {
		return &huma.ErrorModel{Status: 400, Title: "Bad Request", Detail: "page_token is not one this server issued",
			Errors: []*huma.ErrorDetail{{Location: "query.page_token", Message: "pass next_page_token from the previous page unchanged"}}}
	}
	return s.storeError(ctx, store.Key{}, err)
}

func isBadPageToken(err error) bool { return errors.Is(err, store.ErrBadPageToken) }
