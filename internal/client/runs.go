package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func runsPath(project, pipeline string) string { return pipelinePath(project, pipeline) + "/runs" }
func runPath(project, pipeline string, id int64) string {
	return runsPath(project, pipeline) + segInt(id)
}

// RunLogs is the kept output of a run's steps.
type RunLogs struct {
	Run   int64        `json:"run"`
	State string       `json:"state"`
	Logs  []api.RunLog `json:"logs"`
}

// CreateRun starts a run of a pipeline's current revision; params override its defaults.
func (c *Client) CreateRun(ctx context.Context, project, pipeline string, params map[string]string) (*api.PipelineRun, error) {
	return do[api.PipelineRun](ctx, c, http.MethodPost, runsPath(project, pipeline), nil, api.CreateRunRequest{Parameters: params}, 0)
}

// ListRuns returns every run of a pipeline, newest first.
func (c *Client) ListRuns(ctx context.Context, project, pipeline string) ([]api.PipelineRun, error) {
	return listAll[api.PipelineRun](ctx, c, runsPath(project, pipeline))
}

// LatestRun returns a pipeline's newest run, or ErrNotFound when it has none.
func (c *Client) LatestRun(ctx context.Context, project, pipeline string) (*api.PipelineRun, error) {
	page, err := do[api.List[api.PipelineRun]](ctx, c, http.MethodGet, runsPath(project, pipeline), url.Values{"page_size": {"1"}}, nil, 0)
	if err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, &Error{StatusCode: http.StatusNotFound, Method: http.MethodGet, Path: runsPath(project, pipeline),
			Problem: api.Problem{Status: http.StatusNotFound, Title: "Not Found", Detail: "pipeline " + pipeline + " has no runs yet"}}
	}
	return &page.Items[0], nil
}

// GetRun returns one run with its steps.
func (c *Client) GetRun(ctx context.Context, project, pipeline string, id int64) (*api.PipelineRun, error) {
	return do[api.PipelineRun](ctx, c, http.MethodGet, runPath(project, pipeline, id), nil, nil, 0)
}

// CancelRun asks a run to stop.
func (c *Client) CancelRun(ctx context.Context, project, pipeline string, id int64) (*api.PipelineRun, error) {
	return do[api.PipelineRun](ctx, c, http.MethodPost, runPath(project, pipeline, id)+"/cancel", nil, nil, 0)
}

// GetRunLogs returns the kept output of a run's steps (one step when step is set).
func (c *Client) GetRunLogs(ctx context.Context, project, pipeline string, id int64, step string) (*RunLogs, error) {
	q := url.Values{}
	if step != "" {
		q.Set("step", step)
	}
	return do[RunLogs](ctx, c, http.MethodGet, runPath(project, pipeline, id)+"/logs", q, nil, 0)
}
