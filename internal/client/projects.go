package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const projectsPath = "/v1/projects"

func projectPath(name string) string { return projectsPath + seg(name) }

// ListProjects returns every project, following all pages.
func (c *Client) ListProjects(ctx context.Context) ([]api.Project, error) {
	return listAll[api.Project](ctx, c, projectsPath)
}

// GetProject returns one project.
func (c *Client) GetProject(ctx context.Context, name string) (*api.Project, error) {
	return do[api.Project](ctx, c, http.MethodGet, projectPath(name), nil, nil, 0)
}

// CreateProject creates a project from its name and description.
func (c *Client) CreateProject(ctx context.Context, p api.Project) (*api.Project, error) {
	return do[api.Project](ctx, c, http.MethodPost, projectsPath, nil, p, 0)
}

// UpdateProject replaces a project's mutable fields; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateProject(ctx context.Context, name string, u api.ProjectUpdate, ifGeneration int64) (*api.Project, error) {
	return do[api.Project](ctx, c, http.MethodPut, projectPath(name), nil, u, ifGeneration)
}

// DeleteProject deletes a project; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteProject(ctx context.Context, name string, ifGeneration int64) error {
	return c.del(ctx, projectPath(name), nil, ifGeneration)
}
