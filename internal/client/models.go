package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func modelsPath(project string) string      { return projectPath(project) + "/models" }
func modelPath(project, name string) string { return modelsPath(project) + seg(name) }

// ListModels returns every model of a project, following all pages.
func (c *Client) ListModels(ctx context.Context, project string) ([]api.Model, error) {
	return listAll[api.Model](ctx, c, modelsPath(project))
}

// GetModel returns one model.
func (c *Client) GetModel(ctx context.Context, project, name string) (*api.Model, error) {
	return do[api.Model](ctx, c, http.MethodGet, modelPath(project, name), nil, nil, 0)
}

// CreateModel registers a model.
func (c *Client) CreateModel(ctx context.Context, project string, r api.CreateModelRequest) (*api.Model, error) {
	return do[api.Model](ctx, c, http.MethodPost, modelsPath(project), nil, r, 0)
}

// UpdateModel replaces a model's spec; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateModel(ctx context.Context, project, name string, spec api.ModelSpec, ifGeneration int64) (*api.Model, error) {
	return do[api.Model](ctx, c, http.MethodPut, modelPath(project, name), nil, spec, ifGeneration)
}

// DeleteModel deletes a model. Without force the server refuses (409) a model
// that has versions; with force it deletes its versions and aliases too.
func (c *Client) DeleteModel(ctx context.Context, project, name string, force bool, ifGeneration int64) error {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.del(ctx, modelPath(project, name), q, ifGeneration)
}
