package server

import (
	"context"
	"maps"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

type ModelPath struct {
	Project string `path:"project" doc:"Project name."`
	Model   string `path:"model" doc:"Model name."`
}

type VersionPath struct {
	ModelPath
	Version int64 `path:"version" minimum:"1" doc:"Version number."`
}

// fillVersion completes a stored version with its gate results (against the
// model's current gates) and the aliases that point at it.
func fillVersion(v *api.ModelVersion, o *store.Object, model *api.Model, aliases []api.ModelAlias) {
	v.Meta = meta(o)
	v.GateResults = api.EvaluateGates(model.Gates, v.Metrics)
	v.Aliases = nil
	for _, a := range aliases {
		if a.Version == v.Version {
			v.Aliases = append(v.Aliases, a.Alias)
		}
	}
}

func (s *Server) loadModel(ctx context.Context, st store.Store, project, name string) (*api.Model, error) {
	m, _, err := load[api.Model](ctx, st, store.ModelKey(project, name))
	if err != nil {
		return nil, s.storeError(ctx, store.ModelKey(project, name), err)
	}
	return &m, nil
}

func (s *Server) registerModelVersions() {
	tags := []string{"model versions"}
	base := "/v1/projects/{project}/models/{model}/versions"
	register(s, accessRead, huma.Operation{
		OperationID: "list-model-versions", Method: http.MethodGet, Path: base, Tags: tags, Summary: "List a model's versions, oldest first",
	}, func(ctx context.Context, in *struct {
		ModelPath
		Paging
	}) (*ListBody[api.ModelVersion], error) {
		m, err := s.loadModel(ctx, s.store, in.Project, in.Model)
		if err != nil {
			return nil, err
		}
		aliases, err := listAliases(ctx, s.store, in.Project, in.Model)
		if err != nil {
			return nil, s.storeError(ctx, store.ModelKey(in.Project, in.Model), err)
		}
		page, err := list(ctx, s.store, store.ListQuery{Kind: store.KindModelVersion, Project: in.Project, Parent: in.Model}, in.Paging,
			func(v *api.ModelVersion, o *store.Object) error {
				fillVersion(v, o, m, aliases)
				return nil
			})
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		return &ListBody[api.ModelVersion]{Body: *page}, nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-model-version", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Register a new version of a model",
		Description: "The server assigns the next version number. artifact_uri, metrics, params and lineage are immutable.",
	}, func(ctx context.Context, in *struct {
		ModelPath
		Body api.ModelVersionSpec
	}) (*Body[api.ModelVersion], error) {
		if fe := in.Body.Validate(); fe != nil {
			return nil, badRequest(fe)
		}
		m, err := s.loadModel(ctx, s.store, in.Project, in.Model)
		if err != nil {
			return nil, err
		}
		spec := in.Body
		if spec.Dataset != "" {
			d, _, err := load[api.Dataset](ctx, s.store, store.DatasetKey(in.Project, spec.Dataset))
			if err != nil {
				return nil, fieldError("dataset", "dataset %q is not in project %q; register it first", spec.Dataset, in.Project)
			}
			switch {
			case spec.DatasetVersion == 0:
				spec.DatasetVersion = d.Version
			case spec.DatasetVersion > d.Version:
				return nil, fieldError("dataset_version", "dataset %q has no version %d yet (current: %d)", spec.Dataset, spec.DatasetVersion, d.Version)
			}
		}
		v := api.ModelVersion{Project: in.Project, Model: in.Model, ModelVersionSpec: spec}
		var o *store.Object
		err = s.store.InTx(ctx, func(tx store.Store) error {
			n, err := tx.NextSequence(ctx, store.ModelVersionScope(in.Project, in.Model))
			if err != nil {
				return err
			}
			v.Version = n
			o = &store.Object{Key: store.ModelVersionKey(in.Project, in.Model, n), Ordinal: n, Data: encode(v)}
			return tx.Create(ctx, o)
		})
		if err != nil {
			return nil, s.storeError(ctx, store.ModelKey(in.Project, in.Model), err)
		}
		fillVersion(&v, o, m, nil)
		return withETag(v, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-model-version", Method: http.MethodGet, Path: base + "/{version}", Tags: tags, Summary: "Get a model version",
	}, func(ctx context.Context, in *VersionPath) (*Body[api.ModelVersion], error) {
		v, o, err := s.loadVersion(ctx, s.store, in.Project, in.Model, in.Version)
		if err != nil {
			return nil, err
		}
		return withETag(*v, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-model-version", Method: http.MethodPut, Path: base + "/{version}", Tags: tags,
		Summary: "Update a version's description and labels",
	}, func(ctx context.Context, in *struct {
		VersionPath
		IfMatch
		Body api.ModelVersionUpdate
	}) (*Body[api.ModelVersion], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		if fe := api.ValidateLabels("labels", in.Body.Labels); fe != nil {
			return nil, badRequest(fe)
		}
		k := store.ModelVersionKey(in.Project, in.Model, in.Version)
		var v *api.ModelVersion
		var o *store.Object
		err = s.store.InTx(ctx, func(tx store.Store) error {
			cur, co, err := s.loadVersion(ctx, tx, in.Project, in.Model, in.Version)
			if err != nil {
				return err
			}
			if gen > 0 && co.Generation != gen {
				return store.ErrStale
			}
			cur.Description, cur.Labels = in.Body.Description, maps.Clone(in.Body.Labels)
			o = &store.Object{Key: k, Ordinal: in.Version, Data: encode(stripComputed(*cur))}
			v = cur
			return tx.Update(ctx, o, co.Generation)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		v.Meta = meta(o)
		return withETag(*v, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-model-version", Method: http.MethodDelete, Path: base + "/{version}", Tags: tags,
		Summary: "Delete a model version", Description: "Aliases that point at the version are removed with it.",
		DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		VersionPath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.ModelVersionKey(in.Project, in.Model, in.Version)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			aliases, err := listAliases(ctx, tx, in.Project, in.Model)
			if err != nil {
				return err
			}
			for _, a := range aliases {
				if a.Version == in.Version {
					if err := tx.Delete(ctx, store.ModelAliasKey(in.Project, in.Model, a.Alias), 0); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})
}

// loadVersion reads a version with its computed fields, answering 404 for a missing model or version.
func (s *Server) loadVersion(ctx context.Context, st store.Store, project, model string, version int64) (*api.ModelVersion, *store.Object, error) {
	m, err := s.loadModel(ctx, st, project, model)
	if err != nil {
		return nil, nil, err
	}
	k := store.ModelVersionKey(project, model, version)
	v, o, err := load[api.ModelVersion](ctx, st, k)
	if err != nil {
		return nil, nil, s.storeError(ctx, k, err)
	}
	aliases, err := listAliases(ctx, st, project, model)
	if err != nil {
		return nil, nil, s.storeError(ctx, k, err)
	}
	fillVersion(&v, o, m, aliases)
	return &v, o, nil
}

// stripComputed drops fields computed on read before a version is stored.
func stripComputed(v api.ModelVersion) api.ModelVersion {
	v.GateResults, v.Aliases, v.Meta = nil, nil, api.Meta{}
	return v
}
