package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func datasetsPath(project string) string      { return projectPath(project) + "/datasets" }
func datasetPath(project, name string) string { return datasetsPath(project) + seg(name) }

// ListDatasets returns every dataset of a project, following all pages.
func (c *Client) ListDatasets(ctx context.Context, project string) ([]api.Dataset, error) {
	return listAll[api.Dataset](ctx, c, datasetsPath(project))
}

// GetDataset returns one dataset.
func (c *Client) GetDataset(ctx context.Context, project, name string) (*api.Dataset, error) {
	return do[api.Dataset](ctx, c, http.MethodGet, datasetPath(project, name), nil, nil, 0)
}

// GetDatasetProfile returns the column-by-column profile of a dataset's content.
func (c *Client) GetDatasetProfile(ctx context.Context, project, name string) (*api.DatasetProfile, error) {
	return do[api.DatasetProfile](ctx, c, http.MethodGet, datasetPath(project, name)+"/profile", nil, nil, 0)
}

// CreateDataset registers a dataset.
func (c *Client) CreateDataset(ctx context.Context, project string, r api.CreateDatasetRequest) (*api.Dataset, error) {
	return do[api.Dataset](ctx, c, http.MethodPost, datasetsPath(project), nil, r, 0)
}

// UpdateDataset replaces a dataset's spec; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdateDataset(ctx context.Context, project, name string, spec api.DatasetSpec, ifGeneration int64) (*api.Dataset, error) {
	return do[api.Dataset](ctx, c, http.MethodPut, datasetPath(project, name), nil, spec, ifGeneration)
}

// DeleteDataset deletes a dataset; ifGeneration 0 skips the If-Match check.
func (c *Client) DeleteDataset(ctx context.Context, project, name string, ifGeneration int64) error {
	return c.del(ctx, datasetPath(project, name), nil, ifGeneration)
}
