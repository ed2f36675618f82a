package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// EvaluationPath addresses one evaluation of a monitor.
type EvaluationPath struct {
	NamePath
	ID int64 `path:"id" minimum:"1" doc:"Evaluation number."`
}

// prepareMonitor validates a spec, fills its defaults so that what is stored
// is explicit, and checks that the objects it names exist.
func (s *Server) prepareMonitor(ctx context.Context, project string, spec *api.MonitorSpec) error {
	if fe := spec.Validate(); fe != nil {
		return badRequest(fe)
	}
	spec.Metric = spec.NumericMetric()
	spec.CategoricalMetric = spec.CategoricalMetricOrDefault()
	if spec.Interval == "" {
		spec.Interval = api.DefaultMonitorInterval
	}
	if spec.Cooldown == "" {
		spec.Cooldown = api.DefaultCooldown
	}
	share, minSamples := spec.DriftShareOrDefault(), spec.MinSamplesOrDefault()
	spec.DriftShare, spec.MinSamples = &share, &minSamples
	if spec.Notification != nil {
		if err := s.webhooks.CheckURL(spec.Notification.URL); err != nil {
			return fieldError("notification.url", "%v", err)
		}
		spec.Notification.SecretSet = false
	}
	type ref struct {
		field, what string
		key         store.Key
	}
	refs := []ref{
		{"model", "model", store.ModelKey(project, spec.Model)},
		{"baseline_dataset", "dataset", store.DatasetKey(project, spec.BaselineDataset)},
	}
	if spec.CurrentDataset != "" {
		refs = append(refs, ref{"current_dataset", "dataset", store.DatasetKey(project, spec.CurrentDataset)})
	} else {
		refs = append(refs, ref{"deployment", "deployment", store.DeploymentKey(project, spec.Deployment)})
		if spec.CurrentWindow == 0 {
			spec.CurrentWindow = api.DefaultCurrentWindow
		}
	}
	if spec.RetrainSchedule != "" {
		refs = append(refs, ref{"retrain_schedule", "schedule", store.ScheduleKey(project, spec.RetrainSchedule)})
	}
	for _, r := range refs {
		if _, err := s.store.Get(ctx, r.key); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fieldError(r.field, "%s %q is not in project %q; create it first", r.what, r.key.Name, project)
			}
			return s.storeError(ctx, r.key, err)
		}
	}
	return nil
}

// fillMonitor completes a stored monitor with the engine's state and hides its secret.
func (s *Server) fillMonitor(ctx context.Context, m *api.Monitor, o *store.Object) {
	m.Meta = meta(o)
	if m.Notification != nil {
		n := *m.Notification
		n.SecretSet, n.Secret = n.Secret != "", ""
		m.Notification = &n
	}
	m.Status = api.MonitorPending
	so, err := s.store.Get(ctx, store.MonitorStateKey(m.Project, m.Name))
	if err != nil {
		return
	}
	var st api.MonitorState
	if json.Unmarshal(so.Data, &st) != nil {
		return
	}
	if st.Status != "" {
		m.Status = st.Status
	}
	m.LastEvaluatedAt, m.LastEvaluationID, m.LastError = st.LastEvaluatedAt, st.LastEvaluationID, st.LastError
	m.NextEvaluationAt, m.LastRetrainAt = st.NextEvaluationAt, st.LastRetrainAt
}

func (s *Server) registerMonitors() {
	tags := []string{"monitors"}
	base := "/v1/projects/{project}/monitors"
	registerProjectList(s, "list-monitors", base, "List drift monitors", tags, store.KindMonitor, func(ctx context.Context, v *api.Monitor, o *store.Object) error {
		s.fillMonitor(ctx, v, o)
		return nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-monitor", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Create a drift monitor",
		Description: "Compares the current dataset with the baseline every interval (the first time right away); a move into drifting sends a signed webhook and starts a run of the retrain schedule's pipeline.",
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Body api.CreateMonitorRequest
	}) (*Body[api.Monitor], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		if err := s.requireProject(ctx, in.Project); err != nil {
			return nil, err
		}
		spec := in.Body.MonitorSpec
		if err := s.prepareMonitor(ctx, in.Project, &spec); err != nil {
			return nil, err
		}
		m := api.Monitor{Project: in.Project, Name: in.Body.Name, MonitorSpec: spec}
		k := store.MonitorKey(in.Project, m.Name)
		o := &store.Object{Key: k, Data: encode(m)}
		err := s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Create(ctx, o); err != nil {
				return err
			}
			return s.syncMonitor(ctx, tx, in.Project, m.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillMonitor(ctx, &m, o)
		return withETag(m, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-monitor", Method: http.MethodGet, Path: base + "/{name}", Tags: tags, Summary: "Get a drift monitor with its status",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Monitor], error) {
		k := store.MonitorKey(in.Project, in.Name)
		m, o, err := load[api.Monitor](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillMonitor(ctx, &m, o)
		return withETag(m, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-monitor", Method: http.MethodPut, Path: base + "/{name}", Tags: tags, Summary: "Update a drift monitor",
		Description: "Replaces the spec; the monitor evaluates again right away. A notification without secret stores none.",
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
		Body api.MonitorSpec
	}) (*Body[api.Monitor], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		spec := in.Body
		if err := s.prepareMonitor(ctx, in.Project, &spec); err != nil {
			return nil, err
		}
		m := api.Monitor{Project: in.Project, Name: in.Name, MonitorSpec: spec}
		k := store.MonitorKey(in.Project, in.Name)
		o := &store.Object{Key: k, Data: encode(m)}
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Update(ctx, o, gen); err != nil {
				return err
			}
			return s.syncMonitor(ctx, tx, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillMonitor(ctx, &m, o)
		return withETag(m, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-monitor", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a drift monitor and its evaluations", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.MonitorKey(in.Project, in.Name)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			// Queued evaluations and webhooks find the monitor gone and do nothing.
			if err := tx.Delete(ctx, store.MonitorStateKey(in.Project, in.Name), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return tx.DeleteChildren(ctx, store.KindMonitorEvaluation, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "evaluate-monitor", Method: http.MethodPost, Path: base + "/{name}/evaluate", Tags: tags,
		Summary:     "Evaluate a drift monitor now",
		Description: "Runs one evaluation synchronously and returns it; it alerts and triggers retraining like an interval evaluation.",
	}, func(ctx context.Context, in *NamePath) (*Body[api.MonitorEvaluation], error) {
		if s.engine == nil {
			return nil, huma.Error503ServiceUnavailable("this server has no evaluation engine")
		}
		k := store.MonitorKey(in.Project, in.Name)
		ev, err := s.engine.EvaluateMonitor(ctx, in.Project, in.Name)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Body[api.MonitorEvaluation]{Body: *ev}, nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "list-monitor-evaluations", Method: http.MethodGet, Path: base + "/{name}/evaluations", Tags: tags,
		Summary: "List a monitor's evaluations, newest first",
	}, func(ctx context.Context, in *struct {
		NamePath
		Paging
	}) (*ListBody[api.MonitorEvaluation], error) {
		if _, err := s.store.Get(ctx, store.MonitorKey(in.Project, in.Name)); err != nil {
			return nil, s.storeError(ctx, store.MonitorKey(in.Project, in.Name), err)
		}
		page, err := list(ctx, s.store, store.ListQuery{Kind: store.KindMonitorEvaluation, Project: in.Project, Parent: in.Name, Desc: true}, in.Paging,
			func(*api.MonitorEvaluation, *store.Object) error { return nil })
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		return &ListBody[api.MonitorEvaluation]{Body: *page}, nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-monitor-evaluation", Method: http.MethodGet, Path: base + "/{name}/evaluations/{id}", Tags: tags,
		Summary: "Get one evaluation with its per-feature verdicts",
	}, func(ctx context.Context, in *EvaluationPath) (*Body[api.MonitorEvaluation], error) {
		if _, err := s.store.Get(ctx, store.MonitorKey(in.Project, in.Name)); err != nil {
			return nil, s.storeError(ctx, store.MonitorKey(in.Project, in.Name), err)
		}
		k := store.MonitorEvaluationKey(in.Project, in.Name, in.ID)
		ev, _, err := load[api.MonitorEvaluation](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Body[api.MonitorEvaluation]{Body: ev}, nil
	})
}

func (s *Server) syncMonitor(ctx context.Context, tx store.Store, project, name string) error {
	if s.engine == nil {
		return nil
	}
	return s.engine.SyncMonitor(ctx, tx, project, name)
}
