package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func pipelinesPath(project string) string      { return projectPath(project) + "/pipelines" }
func pipelinePath(project, name string) string { return pipelinesPath(project) + seg(name) }

// ListPipelines returns every pipeline of a project, following all pages.
func (c *Client) ListPipelines(ctx context.Context, project string) ([]api.Pipeline, error) {
	return listAll[api.Pipeline](ctx, c, pipelinesPath(project))
}

// GetPipeline returns one pipeline.
func (c *Client) GetPipeline(ctx context.Context, project, name string) (*api.Pipeline, error) {
	return do[api.Pipeline](ctx, c, http.MethodGet, pipelinePath(project, name), nil, nil, 0)
}

// CreatePipeline creates a pipeline and its first revision.
func (c *Client) CreatePipeline(ctx context.Context, project string, r api.CreatePipelineRequest) (*api.Pipeline, error) {
	return do[api.Pipeline](ctx, c, http.MethodPost, pipelinesPath(project), nil, r, 0)
}

// UpdatePipeline replaces a pipeline's spec; ifGeneration 0 skips the If-Match check.
func (c *Client) UpdatePipeline(ctx context.Context, project, name string, spec api.PipelineSpec, ifGeneration int64) (*api.Pipeline, error) {
	return do[api.Pipeline](ctx, c, http.MethodPut, pipelinePath(project, name), nil, spec, ifGeneration)
}

// DeletePipeline deletes a pipeline; ifGeneration 0 skips the If-Match check.
func (c *Client) DeletePipeline(ctx context.Context, project, name string, ifGeneration int64) error {
	return c.del(ctx, pipelinePath(project, name), nil, ifGeneration)
}

// ListPipelineRevisions returns every revision of a pipeline, following all pages.
func (c *Client) ListPipelineRevisions(ctx context.Context, project, name string) ([]api.PipelineRevision, error) {
	return listAll[api.PipelineRevision](ctx, c, pipelinePath(project, name)+"/revisions")
}

// GetPipelineRevision returns one immutable revision of a pipeline.
func (c *Client) GetPipelineRevision(ctx context.Context, project, name string, revision int64) (*api.PipelineRevision, error) {
	return do[api.PipelineRevision](ctx, c, http.MethodGet, pipelinePath(project, name)+"/revisions"+segInt(revision), nil, nil, 0)
}
