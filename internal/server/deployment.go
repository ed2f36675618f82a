package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/predlog"
	"github.com/mlopsplane/terraform-provider-mlops/internal/rollout"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// prepareDeployment validates a spec, fills its defaults and checks that the
// model, and the version or alias, exist.
func (s *Server) prepareDeployment(ctx context.Context, project string, spec *api.DeploymentSpec) error {
	if fe := spec.Validate(); fe != nil {
		return badRequest(fe)
	}
	if spec.Runtime.HealthPath == "" {
		spec.Runtime.HealthPath = api.DefaultHealthPath
	}
	if spec.Replicas == 0 {
		spec.Replicas = 1
	}
	if spec.Strategy == nil {
		spec.Strategy = &api.DeploymentStrategy{}
	}
	if pl := spec.PredictionLogging; pl != nil && pl.MaxEntries == 0 {
		pl.MaxEntries = predlog.DefaultMaxEntries
	}
	st := spec.Strategy
	if st.Type == "" {
		st.Type = api.StrategyAllAtOnce
	}
	if st.Type == api.StrategyCanary {
		if st.StepInterval == "" {
			st.StepInterval = api.DefaultStepInterval
		}
		if st.MaxErrorRate == nil {
			v := api.DefaultMaxErrorRate
			st.MaxErrorRate = &v
		}
		if st.MinRequests == nil {
			v := int64(api.DefaultMinRequests)
			st.MinRequests = &v
		}
		if st.AutoRollback == nil {
			v := true
			st.AutoRollback = &v
		}
	}
	if _, err := s.store.Get(ctx, store.ModelKey(project, spec.Model)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fieldError("model", "model %q is not in project %q; create it first", spec.Model, project)
		}
		return s.storeError(ctx, store.ModelKey(project, spec.Model), err)
	}
	k := store.ModelVersionKey(project, spec.Model, spec.Version)
	field, what := "version", "version"
	if spec.Alias != "" {
		k, field, what = store.ModelAliasKey(project, spec.Model, spec.Alias), "alias", "alias"
	}
	if _, err := s.store.Get(ctx, k); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fieldError(field, "model %q has no %s %s; register or create it first", spec.Model, what, k.Name)
		}
		return s.storeError(ctx, k, err)
	}
	return nil
}

// fillDeployment completes a stored deployment with its gateway URL and the controller's status.
func (s *Server) fillDeployment(ctx context.Context, d *api.Deployment, o *store.Object) {
	d.Meta = meta(o)
	d.URL = s.externalURL + "/v1/projects/" + d.Project + "/deployments/" + d.Name
	d.Phase = api.PhaseProgressing
	so, err := s.store.Get(ctx, store.DeploymentStateKey(d.Project, d.Name))
	if err != nil {
		return
	}
	var st api.DeploymentStatus
	if json.Unmarshal(so.Data, &st) == nil && st.Phase != "" {
		d.DeploymentStatus = st
	}
}

func (s *Server) registerDeployments() {
	tags := []string{"deployments"}
	base := "/v1/projects/{project}/deployments"
	registerProjectList(s, "list-deployments", base, "List deployments", tags, store.KindDeployment, func(ctx context.Context, v *api.Deployment, o *store.Object) error {
		s.fillDeployment(ctx, v, o)
		return nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-deployment", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Create a deployment",
		Description: "Serves the model version (or the version an alias points at) behind the gateway at url; phase turns healthy once a backend answers its health check.",
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Body api.CreateDeploymentRequest
	}) (*Body[api.Deployment], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		if err := s.requireProject(ctx, in.Project); err != nil {
			return nil, err
		}
		spec := in.Body.DeploymentSpec
		if err := s.prepareDeployment(ctx, in.Project, &spec); err != nil {
			return nil, err
		}
		d := api.Deployment{Project: in.Project, Name: in.Body.Name, DeploymentSpec: spec}
		k := store.DeploymentKey(in.Project, d.Name)
		o := &store.Object{Key: k, Data: encode(d)}
		err := s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Create(ctx, o); err != nil {
				return err
			}
			return s.syncDeployment(ctx, tx, in.Project, d.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillDeployment(ctx, &d, o)
		return withETag(d, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-deployment", Method: http.MethodGet, Path: base + "/{name}", Tags: tags, Summary: "Get a deployment with its rollout status",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Deployment], error) {
		k := store.DeploymentKey(in.Project, in.Name)
		d, o, err := load[api.Deployment](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillDeployment(ctx, &d, o)
		return withETag(d, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-deployment", Method: http.MethodPut, Path: base + "/{name}", Tags: tags, Summary: "Update a deployment",
		Description: "A new target version rolls out by the strategy: at once, or as a canary through its steps with analysis and automatic rollback.",
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
		Body api.DeploymentSpec
	}) (*Body[api.Deployment], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		spec := in.Body
		if err := s.prepareDeployment(ctx, in.Project, &spec); err != nil {
			return nil, err
		}
		d := api.Deployment{Project: in.Project, Name: in.Name, DeploymentSpec: spec}
		k := store.DeploymentKey(in.Project, in.Name)
		o := &store.Object{Key: k, Data: encode(d)}
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Update(ctx, o, gen); err != nil {
				return err
			}
			return s.syncDeployment(ctx, tx, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillDeployment(ctx, &d, o)
		return withETag(d, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-deployment", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a deployment", Description: "Stops routing and stops the processes it launched.", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.DeploymentKey(in.Project, in.Name)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			if err := tx.Delete(ctx, store.DeploymentStateKey(in.Project, in.Name), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := predlog.Delete(ctx, tx, in.Project, in.Name); err != nil {
				return err
			}
			if err := rollout.DeleteStats(ctx, tx, in.Project, in.Name); err != nil {
				return err
			}
			// The controller finds it gone and tears down its backends.
			return s.syncDeployment(ctx, tx, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})
}

func (s *Server) syncDeployment(ctx context.Context, tx store.Store, project, name string) error {
	if s.engine == nil {
		return nil
	}
	return s.engine.SyncDeployment(ctx, tx, project, name)
}
