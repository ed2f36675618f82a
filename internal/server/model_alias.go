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

type AliasPath struct {
	ModelPath
	Alias string `path:"alias" doc:"Alias name."`
}

// listAliases returns all aliases of a model (a model has few).
func listAliases(ctx context.Context, st store.Store, project, model string) ([]api.ModelAlias, error) {
	objs, _, err := st.List(ctx, store.ListQuery{Kind: store.KindModelAlias, Project: project, Parent: model})
	if err != nil {
		return nil, err
	}
	out := make([]api.ModelAlias, 0, len(objs))
	for _, o := range objs {
		a, err := decode[api.ModelAlias](o)
		if err != nil {
			return nil, err
		}
		a.Meta = meta(o)
		out = append(out, a)
	}
	return out, nil
}

// checkAliasTarget refuses a version that does not exist or fails a gate guarding the alias.
func (s *Server) checkAliasTarget(ctx context.Context, st store.Store, project, model, alias string, version int64) error {
	m, err := s.loadModel(ctx, st, project, model)
	if err != nil {
		return err
	}
	v, _, err := load[api.ModelVersion](ctx, st, store.ModelVersionKey(project, model, version))
	if errors.Is(err, store.ErrNotFound) {
		return fieldError("version", "model %q has no version %d", model, version)
	}
	if err != nil {
		return err
	}
	if why := api.GateFailure(m.Gates, v.Metrics, alias); why != "" {
		return unprocessable("version", fmt.Sprintf("version %d of model %q may not take alias %q: %s", version, model, alias, why), why)
	}
	return nil
}

func (s *Server) registerModelAliases() {
	tags := []string{"model aliases"}
	base := "/v1/projects/{project}/models/{model}/aliases"
	register(s, accessRead, huma.Operation{
		OperationID: "list-model-aliases", Method: http.MethodGet, Path: base, Tags: tags, Summary: "List a model's aliases",
	}, func(ctx context.Context, in *ModelPath) (*ListBody[api.ModelAlias], error) {
		if _, err := s.loadModel(ctx, s.store, in.Project, in.Model); err != nil {
			return nil, err
		}
		aliases, err := listAliases(ctx, s.store, in.Project, in.Model)
		if err != nil {
			return nil, s.storeError(ctx, store.ModelKey(in.Project, in.Model), err)
		}
		return &ListBody[api.ModelAlias]{Body: api.List[api.ModelAlias]{Items: aliases}}, nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-model-alias", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Point a new alias at a version",
		Description: "Refused with 422 when the version fails a gate that guards the alias.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ModelPath
		Body api.ModelAlias
	}) (*Body[api.ModelAlias], error) {
		if err := checkName("alias", in.Body.Alias); err != nil {
			return nil, err
		}
		a := api.ModelAlias{Project: in.Project, Model: in.Model, Alias: in.Body.Alias, Version: in.Body.Version}
		k := store.ModelAliasKey(in.Project, in.Model, a.Alias)
		o := &store.Object{Key: k, Data: encode(a)}
		err := s.store.InTx(ctx, func(tx store.Store) error {
			if err := s.checkAliasTarget(ctx, tx, in.Project, in.Model, a.Alias, a.Version); err != nil {
				return err
			}
			if err := tx.Create(ctx, o); err != nil {
				return err
			}
			return s.syncAliasFollowers(ctx, tx, in.Project, in.Model, a.Alias)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		a.Meta = meta(o)
		return withETag(a, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-model-alias", Method: http.MethodGet, Path: base + "/{alias}", Tags: tags, Summary: "Get an alias",
	}, func(ctx context.Context, in *AliasPath) (*Body[api.ModelAlias], error) {
		if _, err := s.loadModel(ctx, s.store, in.Project, in.Model); err != nil {
			return nil, err
		}
		k := store.ModelAliasKey(in.Project, in.Model, in.Alias)
		a, o, err := load[api.ModelAlias](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		a.Meta = meta(o)
		return withETag(a, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-model-alias", Method: http.MethodPut, Path: base + "/{alias}", Tags: tags,
		Summary: "Move an alias to another version", Description: "One atomic write; refused with 422 when the version fails a gate that guards the alias.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		AliasPath
		IfMatch
		Body api.ModelAliasUpdate
	}) (*Body[api.ModelAlias], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		a := api.ModelAlias{Project: in.Project, Model: in.Model, Alias: in.Alias, Version: in.Body.Version}
		k := store.ModelAliasKey(in.Project, in.Model, in.Alias)
		o := &store.Object{Key: k, Data: encode(a)}
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if _, err := tx.Get(ctx, k); err != nil {
				return err
			}
			if err := s.checkAliasTarget(ctx, tx, in.Project, in.Model, a.Alias, a.Version); err != nil {
				return err
			}
			if err := tx.Update(ctx, o, gen); err != nil {
				return err
			}
			// Deployments following the alias roll forward (or back) to its version.
			return s.syncAliasFollowers(ctx, tx, in.Project, in.Model, a.Alias)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		a.Meta = meta(o)
		return withETag(a, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-model-alias", Method: http.MethodDelete, Path: base + "/{alias}", Tags: tags,
		Summary: "Delete an alias", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		AliasPath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.ModelAliasKey(in.Project, in.Model, in.Alias)
		if err := s.store.Delete(ctx, k, gen); err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})
}

func (s *Server) syncAliasFollowers(ctx context.Context, tx store.Store, project, model, alias string) error {
	if s.engine == nil {
		return nil
	}
	return s.engine.SyncAliasFollowers(ctx, tx, project, model, alias)
}
