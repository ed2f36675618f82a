package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/schedule"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Schedule defaults, filled by the server so that what is stored is explicit.
const (
	defaultTimezone          = "UTC"
	defaultConcurrencyPolicy = "forbid"
)

// prepareSchedule validates a spec, applies defaults and checks the pipeline exists.
func (s *Server) prepareSchedule(ctx context.Context, project string, spec *api.ScheduleSpec) error {
	if spec.Timezone == "" {
		spec.Timezone = defaultTimezone
	}
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = defaultConcurrencyPolicy
	}
	if fe := spec.Validate(); fe != nil {
		return badRequest(fe)
	}
	if _, err := s.store.Get(ctx, store.PipelineKey(project, spec.Pipeline)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fieldError("pipeline", "pipeline %q is not in project %q; create it first", spec.Pipeline, project)
		}
		return s.storeError(ctx, store.PipelineKey(project, spec.Pipeline), err)
	}
	return nil
}

// fillSchedule completes a stored schedule with its next firing.
func (s *Server) fillSchedule(ctx context.Context, sc *api.Schedule, o *store.Object) {
	sc.Meta = meta(o)
	s.scheduleStatus(ctx, sc)
	sc.NextRunAt = nil
	timing, err := schedule.Parse(sc.ScheduleSpec)
	if err != nil {
		return
	}
	if next, ok := timing.Next(s.now(), o.CreatedAt); ok {
		sc.NextRunAt = &next
	}
}

func (s *Server) registerSchedules() {
	tags := []string{"schedules"}
	base := "/v1/projects/{project}/schedules"
	registerProjectList(s, "list-schedules", base, "List retraining schedules", tags, store.KindSchedule, func(ctx context.Context, v *api.Schedule, o *store.Object) error {
		s.fillSchedule(ctx, v, o)
		return nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-schedule", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Create a retraining schedule", Description: "Fires the pipeline on a five-field cron in a time zone, or every interval.",
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Body api.CreateScheduleRequest
	}) (*Body[api.Schedule], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		if err := s.requireProject(ctx, in.Project); err != nil {
			return nil, err
		}
		spec := in.Body.ScheduleSpec
		if err := s.prepareSchedule(ctx, in.Project, &spec); err != nil {
			return nil, err
		}
		sc := api.Schedule{Project: in.Project, Name: in.Body.Name, ScheduleSpec: spec}
		k := store.ScheduleKey(in.Project, sc.Name)
		o := &store.Object{Key: k, Data: encode(sc)}
		err := s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Create(ctx, o); err != nil {
				return err
			}
			return s.syncSchedule(ctx, tx, in.Project, sc.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillSchedule(ctx, &sc, o)
		return withETag(sc, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-schedule", Method: http.MethodGet, Path: base + "/{name}", Tags: tags, Summary: "Get a retraining schedule",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Schedule], error) {
		k := store.ScheduleKey(in.Project, in.Name)
		sc, o, err := load[api.Schedule](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillSchedule(ctx, &sc, o)
		return withETag(sc, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "update-schedule", Method: http.MethodPut, Path: base + "/{name}", Tags: tags, Summary: "Update a retraining schedule",
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
		Body api.ScheduleSpec
	}) (*Body[api.Schedule], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		spec := in.Body
		if err := s.prepareSchedule(ctx, in.Project, &spec); err != nil {
			return nil, err
		}
		sc := api.Schedule{Project: in.Project, Name: in.Name, ScheduleSpec: spec}
		k := store.ScheduleKey(in.Project, in.Name)
		o := &store.Object{Key: k, Data: encode(sc)}
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Update(ctx, o, gen); err != nil {
				return err
			}
			return s.syncSchedule(ctx, tx, in.Project, in.Name)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		s.fillSchedule(ctx, &sc, o)
		return withETag(sc, o.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-schedule", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a retraining schedule", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.ScheduleKey(in.Project, in.Name)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			// Its queued firing finds the schedule gone and does nothing.
			if err := tx.Delete(ctx, store.ScheduleStateKey(in.Project, in.Name), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})
}

func (s *Server) syncSchedule(ctx context.Context, tx store.Store, project, name string) error {
	if s.engine == nil {
		return nil
	}
	return s.engine.SyncSchedule(ctx, tx, project, name)
}
