package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func monitorsPath(project string) string      { return projectPath(project) + "/monitors" }
func monitorPath(project, name string) string { return monitorsPath(project) + seg(name) }
func monitorEvaluationsPath(project, name string) string {
	return monitorPath(project, name) + "/evaluations"
}

// ListMonitors returns every drift monitor of a project, following all pages.
func (c *Client) ListMonitors(ctx context.Context, project string) ([]api.Monitor, error) {
	return listAll[api.Monitor](ctx, c, monitorsPath(project))
}

// GetMonitor returns one monitor with its latest status. The notification
// secret is never returned; Notification.SecretSet says whether one is stored.
func (c *Client) GetMonitor(ctx context.Context, project, name string) (*api.Monitor, error) {
	return do[api.Monitor](ctx, c, http.MethodGet, monitorPath(project, name), nil, nil, 0)
}

// CreateMonitor creates a drift monitor; the server evaluates it right away.
func (c *Client) CreateMonitor(ctx context.Context, project string, r api.CreateMonitorRequest) (*api.Monitor, error) {
	return do[api.Monitor](ctx, c, http.MethodPost, monitorsPath(project), nil, r, 0)
}

// UpdateMonitor replaces a monitor's spec; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateMonitor(ctx context.Context, project, name string, spec api.MonitorSpec, ifGeneration int64) (*api.Monitor, error) {
	return do[api.Monitor](ctx, c, http.MethodPut, monitorPath(project, name), nil, spec, ifGeneration)
}

// DeleteMonitor deletes a monitor; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteMonitor(ctx context.Context, project, name string, ifGeneration int64) error {
	return c.del(ctx, monitorPath(project, name), nil, ifGeneration)
}

// EvaluateMonitor runs one evaluation now and returns it when it is done.
func (c *Client) EvaluateMonitor(ctx context.Context, project, name string) (*api.MonitorEvaluation, error) {
	return do[api.MonitorEvaluation](ctx, c, http.MethodPost, monitorPath(project, name)+"/evaluate", nil, nil, 0)
}

// ListMonitorEvaluations returns every evaluation of a monitor, newest first.
func (c *Client) ListMonitorEvaluations(ctx context.Context, project, name string) ([]api.MonitorEvaluation, error) {
	return listAll[api.MonitorEvaluation](ctx, c, monitorEvaluationsPath(project, name))
}

// GetMonitorEvaluation returns one evaluation with its per-feature verdicts.
func (c *Client) GetMonitorEvaluation(ctx context.Context, project, name string, id int64) (*api.MonitorEvaluation, error) {
	return do[api.MonitorEvaluation](ctx, c, http.MethodGet, monitorEvaluationsPath(project, name)+segInt(id), nil, nil, 0)
}
