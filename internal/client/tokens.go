package client

import (
	"context"
	"net/http"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const tokensPath = "/v1/tokens"

// ListTokens returns every token (never their secrets), following all pages.
func (c *Client) ListTokens(ctx context.Context) ([]api.Token, error) {
	return listAll[api.Token](ctx, c, tokensPath)
}

// CreateToken creates a token; the returned Secret is shown only this once.
func (c *Client) CreateToken(ctx context.Context, r api.CreateTokenRequest) (*api.Token, error) {
	return do[api.Token](ctx, c, http.MethodPost, tokensPath, nil, r, 0)
}

// DeleteToken revokes a token.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.del(ctx, tokensPath+seg(id), nil, 0)
}
