package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

func (s *Server) registerTokens() {
	tags := []string{"tokens"}
	register(s, accessAdmin, huma.Operation{
		OperationID: "list-tokens", Method: http.MethodGet, Path: "/v1/tokens", Tags: tags,
		Summary: "List API tokens (never their secrets)",
	}, func(ctx context.Context, _ *struct{}) (*ListBody[api.Token], error) {
		tokens, err := s.store.ListTokens(ctx)
		if err != nil {
			return nil, s.storeError(ctx, store.Key{Kind: "token"}, err)
		}
		out := api.List[api.Token]{Items: make([]api.Token, 0, len(tokens))}
		for _, t := range tokens {
			out.Items = append(out.Items, tokenView(t))
		}
		return &ListBody[api.Token]{Body: out}, nil
	})

	register(s, accessAdmin, huma.Operation{
		OperationID: "create-token", Method: http.MethodPost, Path: "/v1/tokens", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Issue an API token", Description: "The secret is in this response only; the server keeps just its hash.",
	}, func(ctx context.Context, in *struct{ Body api.CreateTokenRequest }) (*struct{ Body api.Token }, error) {
		t, err := IssueToken(ctx, s.store, in.Body.Role, in.Body.Project, in.Body.Description)
		if err != nil {
			return nil, s.storeError(ctx, store.Key{Kind: "token"}, err)
		}
		return &struct{ Body api.Token }{Body: *t}, nil
	})

	register(s, accessAdmin, huma.Operation{
		OperationID: "delete-token", Method: http.MethodDelete, Path: "/v1/tokens/{id}", Tags: tags,
		Summary: "Revoke an API token", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*Empty, error) {
		if err := s.store.DeleteToken(ctx, in.ID); err != nil {
			return nil, s.storeError(ctx, store.Key{Kind: "token", Name: in.ID}, err)
		}
		return &Empty{}, nil
	})
}
