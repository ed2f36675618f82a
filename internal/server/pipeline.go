package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// runnable is the part of a pipeline spec a revision freezes; description and labels are not part of it.
func runnable(spec api.PipelineSpec) api.PipelineSpec {
	return api.PipelineSpec{Parameters: spec.Parameters, Steps: spec.Steps, Datasets: spec.Datasets, PromoteTo: spec.PromoteTo}
}

// saveRevision freezes the pipeline's runnable spec as its next revision.
func (s *Server) saveRevision(ctx context.Context, tx store.Store, p *api.Pipeline) error {
	rev, err := tx.NextSequence(ctx, store.PipelineRevisionScope(p.Project, p.Name))
	if err != nil {
		return err
	}
	p.Revision = rev
	r := api.PipelineRevision{Pipeline: p.Name, Revision: rev, Parameters: p.Parameters, Steps: p.Steps,
		Datasets: p.Datasets, PromoteTo: p.PromoteTo, CreatedAt: s.now().UTC()}
	return tx.Create(ctx, &store.Object{Key: store.PipelineRevisionKey(p.Project, p.Name, rev), Ordinal: rev, Data: encode(r)})
}

type RevisionPath struct {
	NamePath
	Revision int64 `path:"revision" minimum:"1" doc:"Revision number."`
}

func (s *Server) registerPipelines() {
	tags := []string{"pipelines"}
	base := "/v1/projects/{project}/pipelines"
	registerProjectList(s, "list-pipelines", base, "List pipelines", tags, store.KindPipeline, func(_ context.Context, v *api.Pipeline, o *store.Object) error {
		v.Meta = meta(o)
		return nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-pipeline", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Create a pipeline", Description: "The steps must form a DAG. The spec becomes revision 1.",
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Body api.CreatePipelineRequest
	}) (*Body[api.Pipeline], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		if fe := in.Body.Validate(); fe != nil {
			return nil, badRequest(fe)
		}
		if err := s.requireProject(ctx, in.Project); err != nil {
			return nil, err
		}
		if err := s.checkInputs(ctx, in.Project, &in.Body.PipelineSpec); err != nil {
			return nil, err
		}
		p := api.Pipeline{Project: in.Project, Name: in.Body.Name, PipelineSpec: in.Body.PipelineSpec}
		k := store.PipelineKey(in.Project, p.Name)
		var o *store.Object
		err := s.store.InTx(ctx, func(tx store.Store) error {
			if _, err := tx.Get(ctx, k); err == nil {
				return store.ErrExists
			}
			// A pipeline of the same name deleted earlier may have left its counter.
			if err := tx.ResetSequence(ctx, store.PipelineRevisionScope(p.Project, p.Name)); err != nil {
				return err
			}
			if err := s.saveRevision(ctx, tx, &p); err != nil {
				return err
			}
			o = &store.Object{Key: k, Data: encode(p)}
			return tx.Create(ctx, o)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		p.Meta = meta(o)
		return withETag(p, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-pipeline", Method: http.MethodGet, Path: base + "/{name}", Tags: tags, Summary: "Get a pipeline",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Pipeline], error) {
		k := store.PipelineKey(in.Project, in.Name)
		p, o, err := load[api.Pipeline](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		p.Meta = meta(o)
		return withETag(p, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-pipeline", Method: http.MethodPut, Path: base + "/{name}", Tags: tags, Summary: "Update a pipeline",
		Description: "A change to parameters or steps creates a new revision; description and labels do not.",
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
		Body api.PipelineSpec
	}) (*Body[api.Pipeline], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		if fe := in.Body.Validate(); fe != nil {
			return nil, badRequest(fe)
		}
		if err := s.checkInputs(ctx, in.Project, &in.Body); err != nil {
			return nil, err
		}
		k := store.PipelineKey(in.Project, in.Name)
		var p api.Pipeline
		var o *store.Object
		err = s.store.InTx(ctx, func(tx store.Store) error {
			prev, po, err := load[api.Pipeline](ctx, tx, k)
			if err != nil {
				return err
			}
			if gen > 0 && po.Generation != gen {
				return store.ErrStale
			}
			p = prev
			p.PipelineSpec = in.Body
			if !reflect.DeepEqual(normalized(runnable(prev.PipelineSpec)), normalized(runnable(in.Body))) {
				if err := s.saveRevision(ctx, tx, &p); err != nil {
					return err
				}
			}
			o = &store.Object{Key: k, Data: encode(p)}
			return tx.Update(ctx, o, po.Generation)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		p.Meta = meta(o)
		return withETag(p, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-pipeline", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a pipeline and its revisions", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.PipelineKey(in.Project, in.Name)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			if err := tx.DeleteChildren(ctx, store.KindPipelineRevision, in.Project, in.Name); err != nil {
				return err
			}
			return deleteRuns(ctx, tx, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "list-pipeline-revisions", Method: http.MethodGet, Path: base + "/{name}/revisions", Tags: tags,
		Summary: "List a pipeline's revisions, oldest first",
	}, func(ctx context.Context, in *struct {
		NamePath
		Paging
	}) (*ListBody[api.PipelineRevision], error) {
		if _, err := s.store.Get(ctx, store.PipelineKey(in.Project, in.Name)); err != nil {
			return nil, s.storeError(ctx, store.PipelineKey(in.Project, in.Name), err)
		}
		page, err := list(ctx, s.store, store.ListQuery{Kind: store.KindPipelineRevision, Project: in.Project, Parent: in.Name}, in.Paging,
			func(*api.PipelineRevision, *store.Object) error { return nil })
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		return &ListBody[api.PipelineRevision]{Body: *page}, nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-pipeline-revision", Method: http.MethodGet, Path: base + "/{name}/revisions/{revision}", Tags: tags,
		Summary: "Get one revision of a pipeline",
	}, func(ctx context.Context, in *RevisionPath) (*struct{ Body api.PipelineRevision }, error) {
		k := store.PipelineRevisionKey(in.Project, in.Name, in.Revision)
		r, _, err := load[api.PipelineRevision](ctx, s.store, k)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				if _, perr := s.store.Get(ctx, store.PipelineKey(in.Project, in.Name)); perr != nil {
					return nil, s.storeError(ctx, store.PipelineKey(in.Project, in.Name), perr)
				}
			}
			return nil, s.storeError(ctx, k, err)
		}
		return &struct{ Body api.PipelineRevision }{Body: r}, nil
	})
}

// normalized treats nil and empty collections alike, so that only real changes make revisions.
func normalized(spec api.PipelineSpec) api.PipelineSpec {
	out := api.PipelineSpec{Parameters: spec.Parameters, PromoteTo: spec.PromoteTo, Datasets: spec.Datasets}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	if len(out.Datasets) == 0 {
		out.Datasets = nil
	}
	for _, st := range spec.Steps {
		if len(st.Env) == 0 {
			st.Env = nil
		}
		if len(st.DependsOn) == 0 {
			st.DependsOn = nil
		}
		out.Steps = append(out.Steps, st)
	}
	return out
}

// checkInputs refuses input datasets that are not in the project.
func (s *Server) checkInputs(ctx context.Context, project string, spec *api.PipelineSpec) error {
	for i, d := range spec.Datasets {
		if _, err := s.store.Get(ctx, store.DatasetKey(project, d)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fieldError(fmt.Sprintf("datasets[%d]", i), "dataset %q is not in project %q; register it first", d, project)
			}
			return s.storeError(ctx, store.DatasetKey(project, d), err)
		}
	}
	return nil
}

// deleteRuns removes a pipeline's runs, their logs and their numbering.
func deleteRuns(ctx context.Context, tx store.Store, project, pipeline string) error {
	err := store.Each(ctx, tx, store.ListQuery{Kind: store.KindPipelineRun, Project: project, Parent: pipeline}, func(r *store.Object) error {
		return tx.DeleteChildren(ctx, store.KindRunLog, project, pipeline+"/"+r.Name)
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteChildren(ctx, store.KindPipelineRun, project, pipeline); err != nil {
		return err
	}
	return tx.ResetSequence(ctx, store.PipelineRunScope(project, pipeline))
}
