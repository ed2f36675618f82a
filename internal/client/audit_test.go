package client

import (
	"context"
	"net/http"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func TestListAudit(t *testing.T) {
	var path, query string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		path, query = r.URL.EscapedPath(), r.URL.RawQuery
		writeJSON(w, http.StatusOK, map[string]any{
			"items": []map[string]any{{
				"id": 7, "action": "update-pipeline", "kind": "pipeline", "project": "p", "name": "train",
				"generation_before": 1, "generation_after": 2, "status": 200,
				"actor": map[string]any{"token_id": "tok_1", "role": "editor", "project": "p"},
			}},
			"next_page_token": "next",
		})
	})
	ctx := context.Background()
	page, err := c.ListAudit(ctx, "p", AuditQuery{Kind: "pipeline", Name: "train", PageSize: 1, PageToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if path != "/v1/projects/p/audit" || query != "kind=pipeline&name=train&page_size=1&page_token=t" {
		t.Fatalf("server saw %s?%s", path, query)
	}
	want := api.AuditRecord{ID: 7, Action: "update-pipeline", Kind: "pipeline", Project: "p", Name: "train",
		GenerationBefore: 1, GenerationAfter: 2, Status: 200, Actor: api.AuditActor{TokenID: "tok_1", Role: "editor", Project: "p"}}
	if len(page.Items) != 1 || page.Items[0] != want || page.NextPageToken != "next" {
		t.Fatalf("page = %+v", page)
	}

	if _, err := c.ListAudit(ctx, "", AuditQuery{}); err != nil {
		t.Fatal(err)
	}
	if path != "/v1/audit" || query != "" {
		t.Fatalf("every project: server saw %s?%s", path, query)
	}
}
