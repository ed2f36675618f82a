package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Engine starts and cancels runs and keeps schedules firing; the training
// package implements it.
type Engine interface {
	CreateRun(ctx context.Context, project, pipeline string, params map[string]string, trigger string) (*api.PipelineRun, error)
	CancelRun(ctx context.Context, project, pipeline string, id int64) (*api.PipelineRun, error)
	// SyncSchedule queues a schedule's next firing inside the transaction that changed it.
	SyncSchedule(ctx context.Context, tx store.Store, project, name string) error
	// SyncMonitor queues a monitor's next evaluation inside the transaction that changed it.
	SyncMonitor(ctx context.Context, tx store.Store, project, name string) error
	// EvaluateMonitor runs one evaluation of a monitor now.
	EvaluateMonitor(ctx context.Context, project, name string) (*api.MonitorEvaluation, error)
	// SyncDeployment makes the rollout controller look at a deployment again.
	SyncDeployment(ctx context.Context, tx store.Store, project, name string) error
	// SyncAliasFollowers resyncs the deployments that follow an alias.
	SyncAliasFollowers(ctx context.Context, tx store.Store, project, model, alias string) error
}

// RunPath addresses one run.
type RunPath struct {
	NamePath
	ID int64 `path:"id" minimum:"1" doc:"Run number."`
}

func (s *Server) loadRun(ctx context.Context, project, pipeline string, id int64) (*api.PipelineRun, error) {
	k := store.PipelineRunKey(project, pipeline, id)
	r, o, err := load[api.PipelineRun](ctx, s.store, k)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, perr := s.store.Get(ctx, store.PipelineKey(project, pipeline)); perr != nil {
				return nil, s.storeError(ctx, store.PipelineKey(project, pipeline), perr)
			}
			return nil, huma.Error404NotFound(fmt.Sprintf("run %d of pipeline %q in project %q not found", id, pipeline, project))
		}
		return nil, s.storeError(ctx, k, err)
	}
	r.Meta = meta(o)
	return &r, nil
}

// RunLogs is the body of GET .../runs/{id}/logs.
type RunLogs struct {
	Body struct {
		Run   int64        `json:"run"`
		State string       `json:"state"`
		Logs  []api.RunLog `json:"logs"`
	}
}

func (s *Server) registerRuns() {
	tags := []string{"runs"}
	base := "/v1/projects/{project}/pipelines/{name}/runs"
	register(s, accessWrite, huma.Operation{
		OperationID: "create-run", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Start a run of a pipeline's current revision", Description: "Parameters override the pipeline's defaults.",
	}, func(ctx context.Context, in *struct {
		NamePath
		Body api.CreateRunRequest
	}) (*Body[api.PipelineRun], error) {
		if s.engine == nil {
			return nil, huma.Error503ServiceUnavailable("this server has no run engine")
		}
		r, err := s.engine.CreateRun(ctx, in.Project, in.Name, in.Body.Parameters, "manual")
		if err != nil {
			if errors.Is(err, api.ErrUnknownParameter) {
				return nil, fieldError("parameters", "%s", strings.TrimPrefix(err.Error(), api.ErrUnknownParameter.Error()+" "))
			}
			return nil, s.storeError(ctx, store.PipelineKey(in.Project, in.Name), err)
		}
		return withETag(*r, r.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "list-runs", Method: http.MethodGet, Path: base, Tags: tags, Summary: "List a pipeline's runs, newest first",
	}, func(ctx context.Context, in *struct {
		NamePath
		Paging
	}) (*ListBody[api.PipelineRun], error) {
		if _, err := s.store.Get(ctx, store.PipelineKey(in.Project, in.Name)); err != nil {
			return nil, s.storeError(ctx, store.PipelineKey(in.Project, in.Name), err)
		}
		page, err := list(ctx, s.store, store.ListQuery{Kind: store.KindPipelineRun, Project: in.Project, Parent: in.Name, Desc: true}, in.Paging,
			func(v *api.PipelineRun, o *store.Object) error {
				v.Meta = meta(o)
				return nil
			})
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		return &ListBody[api.PipelineRun]{Body: *page}, nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-run", Method: http.MethodGet, Path: base + "/{id}", Tags: tags, Summary: "Get a run with its steps",
	}, func(ctx context.Context, in *RunPath) (*Body[api.PipelineRun], error) {
		r, err := s.loadRun(ctx, in.Project, in.Name, in.ID)
		if err != nil {
			return nil, err
		}
		return withETag(*r, r.Generation), nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "cancel-run", Method: http.MethodPost, Path: base + "/{id}/cancel", Tags: tags,
		Summary: "Cancel a run", Description: "A queued run is cancelled at once; running steps are stopped (their process groups killed) within seconds.",
	}, func(ctx context.Context, in *RunPath) (*Body[api.PipelineRun], error) {
		if s.engine == nil {
			return nil, huma.Error503ServiceUnavailable("this server has no run engine")
		}
		if _, err := s.loadRun(ctx, in.Project, in.Name, in.ID); err != nil {
			return nil, err
		}
		r, err := s.engine.CancelRun(ctx, in.Project, in.Name, in.ID)
		if err != nil {
			return nil, s.storeError(ctx, store.PipelineRunKey(in.Project, in.Name, in.ID), err)
		}
		return withETag(*r, r.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-run-logs", Method: http.MethodGet, Path: base + "/{id}/logs", Tags: tags,
		Summary:     "Get the kept output of a run's steps",
		Description: "Each step keeps the last 256 KiB of its output. With follow=true the response streams as text/plain until the run ends.",
	}, func(ctx context.Context, in *struct {
		RunPath
		Step   string `query:"step" doc:"Only this step's output."`
		Follow bool   `query:"follow" doc:"Stream new output as text until the run ends."`
	}) (*huma.StreamResponse, error) {
		r, err := s.loadRun(ctx, in.Project, in.Name, in.ID)
		if err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			if !in.Follow {
				var out RunLogs
				out.Body.Run, out.Body.State = r.ID, r.State
				out.Body.Logs, _ = s.runLogs(hctx.Context(), r, in.Step)
				hctx.SetHeader("Content-Type", "application/json")
				_ = json.NewEncoder(hctx.BodyWriter()).Encode(out.Body)
				return
			}
			s.followLogs(hctx, r, in.Step)
		}}, nil
	})
}

func (s *Server) runLogs(ctx context.Context, r *api.PipelineRun, step string) ([]api.RunLog, error) {
	logs := []api.RunLog{}
	for _, st := range r.Steps {
		if step != "" && st.Name != step {
			continue
		}
		l, _, err := load[api.RunLog](ctx, s.store, store.RunLogKey(r.Project, r.Pipeline, r.ID, st.Name))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		logs = append(logs, l)
	}
	return logs, nil
}

// followLogs streams new output of the run's steps as text, each line
// prefixed with its step, until the run ends, the client goes away or the
// server shuts down (then it says so, and the client may follow again).
func (s *Server) followLogs(hctx huma.Context, r *api.PipelineRun, step string) {
	hctx.SetHeader("Content-Type", "text/plain; charset=utf-8")
	ctx := hctx.Context()
	w := hctx.BodyWriter()
	flusher, _ := w.(http.Flusher)
	sent := map[string]int{}
	for {
		run, err := s.loadRun(ctx, r.Project, r.Pipeline, r.ID)
		if err != nil {
			return
		}
		logs, err := s.runLogs(ctx, run, step)
		if err != nil {
			return
		}
		for _, l := range logs {
			if len(l.Text) < sent[l.Step] {
				sent[l.Step] = 0 // the kept tail moved past what was sent
			}
			for _, line := range strings.SplitAfter(l.Text[sent[l.Step]:], "\n") {
				if line != "" {
					_, _ = fmt.Fprintf(w, "[%s] %s", l.Step, line)
				}
			}
			sent[l.Step] = len(l.Text)
		}
		if flusher != nil {
			flusher.Flush()
		}
		if api.RunFinished(run.State) {
			_, _ = fmt.Fprintf(w, "run %d %s\n", run.ID, run.State)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			_, _ = fmt.Fprintf(w, "server shutting down; follow again to continue\n")
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// lastRunState completes a schedule with what its engine recorded.
func (s *Server) scheduleStatus(ctx context.Context, sc *api.Schedule) {
	o, err := s.store.Get(ctx, store.ScheduleStateKey(sc.Project, sc.Name))
	if err != nil {
		return
	}
	var st api.ScheduleState
	if json.Unmarshal(o.Data, &st) != nil {
		return
	}
	sc.LastFiredAt, sc.LastSkip, sc.LastRunID = st.LastFiredAt, st.LastSkip, st.LastRunID
	if st.LastRunID > 0 {
		if st.LastRunPipeline != "" && st.LastRunPipeline != sc.Pipeline {
			// The schedule now runs another pipeline; its last run is not one of that pipeline's.
			sc.LastRunID = 0
			return
		}
		if r, _, err := load[api.PipelineRun](ctx, s.store, store.PipelineRunKey(sc.Project, sc.Pipeline, st.LastRunID)); err == nil {
			sc.LastRunState = r.State
		}
	}
}
