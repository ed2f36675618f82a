package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func modelVersionsPath(project, model string) string { return modelPath(project, model) + "/versions" }
func modelVersionPath(project, model string, version int64) string {
	return modelVersionsPath(project, model) + segInt(version)
}

// ListModelVersions returns every version of a model, following all pages.
func (c *Client) ListModelVersions(ctx context.Context, project, model string) ([]api.ModelVersion, error) {
	return listAll[api.ModelVersion](ctx, c, modelVersionsPath(project, model))
}

// GetModelVersion returns one version of a model.
func (c *Client) GetModelVersion(ctx context.Context, project, model string, version int64) (*api.ModelVersion, error) {
	return do[api.ModelVersion](ctx, c, http.MethodGet, modelVersionPath(project, model, version), nil, nil, 0)
}

// CreateModelVersion registers a new version; the server assigns its number.
func (c *Client) CreateModelVersion(ctx context.Context, project, model string, spec api.ModelVersionSpec) (*api.ModelVersion, error) {
	return do[api.ModelVersion](ctx, c, http.MethodPost, modelVersionsPath(project, model), nil, spec, 0)
}

// UpdateModelVersion changes a version's description and labels; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateModelVersion(ctx context.Context, project, model string, version int64, u api.ModelVersionUpdate, ifGeneration int64) (*api.ModelVersion, error) {
	return do[api.ModelVersion](ctx, c, http.MethodPut, modelVersionPath(project, model, version), nil, u, ifGeneration)
}

// DeleteModelVersion deletes a version; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteModelVersion(ctx context.Context, project, model string, version int64, ifGeneration int64) error {
	return c.del(ctx, modelVersionPath(project, model, version), nil, ifGeneration)
}
