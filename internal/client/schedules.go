package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func schedulesPath(project string) string      { return projectPath(project) + "/schedules" }
func schedulePath(project, name string) string { return schedulesPath(project) + seg(name) }

// ListSchedules returns every schedule of a project, following all pages.
func (c *Client) ListSchedules(ctx context.Context, project string) ([]api.Schedule, error) {
	return listAll[api.Schedule](ctx, c, schedulesPath(project))
}

// GetSchedule returns one schedule.
func (c *Client) GetSchedule(ctx context.Context, project, name string) (*api.Schedule, error) {
	return do[api.Schedule](ctx, c, http.MethodGet, schedulePath(project, name), nil, nil, 0)
}

// CreateSchedule creates a retraining schedule.
func (c *Client) CreateSchedule(ctx context.Context, project string, r api.CreateScheduleRequest) (*api.Schedule, error) {
	return do[api.Schedule](ctx, c, http.MethodPost, schedulesPath(project), nil, r, 0)
}

// UpdateSchedule replaces a schedule's spec; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateSchedule(ctx context.Context, project, name string, spec api.ScheduleSpec, ifGeneration int64) (*api.Schedule, error) {
	return do[api.Schedule](ctx, c, http.MethodPut, schedulePath(project, name), nil, spec, ifGeneration)
}

// DeleteSchedule deletes a schedule; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteSchedule(ctx context.Context, project, name string, ifGeneration int64) error {
	return c.del(ctx, schedulePath(project, name), nil, ifGeneration)
}
