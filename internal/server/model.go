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

// fillModel completes a stored model with its latest version and aliases.
func (s *Server) fillModel(ctx context.Context, st store.Store, m *api.Model, o *store.Object) error {
	return fillModels(ctx, st, m.Project, []*api.Model{m}, []*store.Object{o})
}

// fillModels completes models of one project (objs[i] is models[i]'s
// object) with their latest versions and aliases: one query for them all.
func fillModels(ctx context.Context, st store.Store, project string, models []*api.Model, objs []*store.Object) error {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	families, err := st.Families(ctx, project, names, store.KindModelAlias, store.KindModelVersion)
	if err != nil {
		return err
	}
	for i, m := range models {
		if err := completeModel(m, objs[i], families[m.Name]); err != nil {
			return err
		}
	}
	return nil
}

// completeModel sets what a model's object does not hold: its metadata,
// latest version (0 without versions) and aliases, from its family.
func completeModel(m *api.Model, o *store.Object, f store.Family) error {
	m.Meta = meta(o)
	m.LatestVersion = f.Last
	m.Aliases = nil
	for _, o := range f.Children {
		a, err := decode[api.ModelAlias](o)
		if err != nil {
			return err
		}
		if m.Aliases == nil {
			m.Aliases = map[string]int64{}
		}
		m.Aliases[a.Alias] = a.Version
	}
	return nil
}

type DeleteModelInput struct {
	NamePath
	IfMatch
	Force bool `query:"force" doc:"Also delete the model's versions and aliases."`
}

func (s *Server) registerModels() {
	tags := []string{"models"}
	base := "/v1/projects/{project}/models"
	registerProjectPage(s, "list-models", base, "List models", tags, store.KindModel, func(ctx context.Context, items []api.Model, objs []*store.Object) error {
		models := make([]*api.Model, len(items))
		for i := range items {
			models[i] = &items[i]
		}
		project := ""
		if len(objs) > 0 {
			project = objs[0].Project
		}
		return fillModels(ctx, s.store, project, models, objs)
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-model", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Register a model",
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Body api.CreateModelRequest
	}) (*Body[api.Model], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		if fe := in.Body.Validate(); fe != nil {
			return nil, badRequest(fe)
		}
		m := api.Model{Project: in.Project, Name: in.Body.Name, ModelSpec: in.Body.ModelSpec}
		k := store.ModelKey(in.Project, m.Name)
		o := &store.Object{Key: k, Data: encode(m)}
		// A model of the same name deleted earlier starts its versions at 1
		// again; ErrNotFound means the project does not exist.
		switch err := s.store.CreateFresh(ctx, o, store.ModelVersionScope(m.Project, m.Name)); {
		case errors.Is(err, store.ErrNotFound):
			return nil, s.storeError(ctx, store.ProjectKey(in.Project), err)
		case err != nil:
			return nil, s.storeError(ctx, k, err)
		}
		m.Meta = meta(o)
		return withETag(m, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-model", Method: http.MethodGet, Path: base + "/{name}", Tags: tags, Summary: "Get a model",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Model], error) {
		k := store.ModelKey(in.Project, in.Name)
		o, family, err := s.store.GetFamily(ctx, k, store.KindModelAlias, store.KindModelVersion)
		var m api.Model
		if err == nil {
			m, err = decode[api.Model](o)
		}
		if err == nil {
			err = completeModel(&m, o, family)
		}
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return withETag(m, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-model", Method: http.MethodPut, Path: base + "/{name}", Tags: tags, Summary: "Update a model",
		Description: "Changing gates does not move existing aliases; they apply to the next alias change.",
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
		Body api.ModelSpec
	}) (*Body[api.Model], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		if fe := in.Body.Validate(); fe != nil {
			return nil, badRequest(fe)
		}
		k := store.ModelKey(in.Project, in.Name)
		m := api.Model{Project: in.Project, Name: in.Name, ModelSpec: in.Body}
		o := &store.Object{Key: k, Data: encode(m)}
		if err := s.store.Update(ctx, o, gen); err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		if err := s.fillModel(ctx, s.store, &m, o); err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return withETag(m, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-model", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a model", Description: "A model that has versions is kept unless force=true, which deletes its versions and aliases too.",
		DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *DeleteModelInput) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.ModelKey(in.Project, in.Name)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if _, err := tx.Get(ctx, k); err != nil {
				return err
			}
			versions, _, err := tx.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: in.Project, Parent: in.Name, Limit: 1})
			if err != nil {
				return err
			}
			if len(versions) > 0 && !in.Force {
				return huma.Error409Conflict(fmt.Sprintf("model %q still has versions; delete them first or pass force=true to delete them with the model", in.Name))
			}
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			if err := tx.DeleteChildren(ctx, store.KindModelAlias, in.Project, in.Name); err != nil {
				return err
			}
			return tx.DeleteChildren(ctx, store.KindModelVersion, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})
}
