package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func modelAliasesPath(project, model string) string { return modelPath(project, model) + "/aliases" }
func modelAliasPath(project, model, alias string) string {
	return modelAliasesPath(project, model) + seg(alias)
}

// ListModelAliases returns every alias of a model, following all pages.
func (c *Client) ListModelAliases(ctx context.Context, project, model string) ([]api.ModelAlias, error) {
	return listAll[api.ModelAlias](ctx, c, modelAliasesPath(project, model))
}

// GetModelAlias returns one alias.
func (c *Client) GetModelAlias(ctx context.Context, project, model, alias string) (*api.ModelAlias, error) {
	return do[api.ModelAlias](ctx, c, http.MethodGet, modelAliasPath(project, model, alias), nil, nil, 0)
}

// CreateModelAlias points a new alias at a version; a failing gate gives 422 (ErrValidation).
func (c *Client) CreateModelAlias(ctx context.Context, project, model string, a api.ModelAlias) (*api.ModelAlias, error) {
	return do[api.ModelAlias](ctx, c, http.MethodPost, modelAliasesPath(project, model), nil, a, 0)
}

// UpdateModelAlias moves an alias to another version; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateModelAlias(ctx context.Context, project, model, alias string, u api.ModelAliasUpdate, ifGeneration int64) (*api.ModelAlias, error) {
	return do[api.ModelAlias](ctx, c, http.MethodPut, modelAliasPath(project, model, alias), nil, u, ifGeneration)
}

// DeleteModelAlias deletes an alias; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteModelAlias(ctx context.Context, project, model, alias string, ifGeneration int64) error {
	return c.del(ctx, modelAliasPath(project, model, alias), nil, ifGeneration)
}
