package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func deploymentsPath(project string) string      { return projectPath(project) + "/deployments" }
func deploymentPath(project, name string) string { return deploymentsPath(project) + seg(name) }

// ListDeployments returns every deployment of a project, following all pages.
func (c *Client) ListDeployments(ctx context.Context, project string) ([]api.Deployment, error) {
	return listAll[api.Deployment](ctx, c, deploymentsPath(project))
}

// GetDeployment returns one deployment with its rollout status.
func (c *Client) GetDeployment(ctx context.Context, project, name string) (*api.Deployment, error) {
	return do[api.Deployment](ctx, c, http.MethodGet, deploymentPath(project, name), nil, nil, 0)
}

// CreateDeployment creates a deployment; its rollout proceeds on the server.
func (c *Client) CreateDeployment(ctx context.Context, project string, r api.CreateDeploymentRequest) (*api.Deployment, error) {
	return do[api.Deployment](ctx, c, http.MethodPost, deploymentsPath(project), nil, r, 0)
}

// UpdateDeployment replaces a deployment's spec; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateDeployment(ctx context.Context, project, name string, spec api.DeploymentSpec, ifGeneration int64) (*api.Deployment, error) {
	return do[api.Deployment](ctx, c, http.MethodPut, deploymentPath(project, name), nil, spec, ifGeneration)
}

// DeleteDeployment deletes a deployment; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteDeployment(ctx context.Context, project, name string, ifGeneration int64) error {
	return c.del(ctx, deploymentPath(project, name), nil, ifGeneration)
}
