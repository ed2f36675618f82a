package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// AuditQuery selects a page of audit records.
type AuditQuery struct {
	// Kind and Name keep only records about such objects (kind as in
	// api.AuditRecord, such as "pipeline" or "model_version").
	Kind, Name string
	// PageSize is the most records per page (0: the server's default of 100).
	PageSize int
	// PageToken is the NextPageToken of the previous page.
	PageToken string
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	for key, val := range map[string]string{"kind": q.Kind, "name": q.Name, "page_token": q.PageToken} {
		if val != "" {
			v.Set(key, val)
		}
	}
	if q.PageSize > 0 {
		v.Set("page_size", strconv.Itoa(q.PageSize))
	}
	return v
}

// ListAudit returns one page of the audit records of changes, newest first:
// a project's (which needs a token that may read it), or with project ""
// every project's and the tokens' (which needs an admin token). Audit logs
// grow without end, so it returns a page rather than following them all.
func (c *Client) ListAudit(ctx context.Context, project string, q AuditQuery) (*api.List[api.AuditRecord], error) {
	path := "/v1/audit"
	if project != "" {
		path = projectPath(project) + "/audit"
	}
	return do[api.List[api.AuditRecord]](ctx, c, http.MethodGet, path, q.values(), nil, 0)
}
