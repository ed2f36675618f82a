package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/rollout"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Reads complete stored objects the way the API's handlers do (see
// fillMonitor, fillDeployment and fillVersion in internal/server), so a page
// shows what GET /v1 would. Every page reads a bounded number of objects:
// lists are one page at a time, newest first where history grows.

func decodeObj[T any](o *store.Object) (T, error) {
	var v T
	if err := json.Unmarshal(o.Data, &v); err != nil {
		return v, fmt.Errorf("stored %s %q is corrupt: %w", o.Kind, o.Name, err)
	}
	return v, nil
}

func get[T any](ctx context.Context, st store.Store, k store.Key) (T, *store.Object, error) {
	o, err := st.Get(ctx, k)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	v, err := decodeObj[T](o)
	return v, o, err
}

// listPage reads one page of a kind and decodes it.
func listPage[T any](ctx context.Context, st store.Store, q store.ListQuery) ([]T, []*store.Object, string, error) {
	objs, next, err := st.List(ctx, q)
	if err != nil {
		return nil, nil, "", err
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		v, err := decodeObj[T](o)
		if err != nil {
			return nil, nil, "", err
		}
		out = append(out, v)
	}
	return out, objs, next, nil
}

func meta(o *store.Object) api.Meta {
	return api.Meta{Generation: o.Generation, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// completeMonitor adds the engine's state and drops the webhook secret, which
// no page shows.
func (h *handler) completeMonitor(ctx context.Context, m *api.Monitor, o *store.Object) error {
	m.Meta = meta(o)
	if m.Notification != nil {
		n := *m.Notification
		n.SecretSet, n.Secret = n.Secret != "", ""
		m.Notification = &n
	}
	m.Status = api.MonitorPending
	st, _, err := get[api.MonitorState](ctx, h.cfg.Store, store.MonitorStateKey(m.Project, m.Name))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Status != "" {
		m.Status = st.Status
	}
	m.LastEvaluatedAt, m.LastEvaluationID, m.LastError = st.LastEvaluatedAt, st.LastEvaluationID, st.LastError
	m.NextEvaluationAt, m.LastRetrainAt = st.NextEvaluationAt, st.LastRetrainAt
	return nil
}

// completeDeployment adds the gateway URL and the controller's status, and
// returns the rollout's events, oldest first.
func (h *handler) completeDeployment(ctx context.Context, d *api.Deployment, o *store.Object) ([]rollout.Event, error) {
	d.Meta = meta(o)
	d.URL = h.cfg.ExternalURL() + "/v1/projects/" + d.Project + "/deployments/" + d.Name
	st, events, err := rollout.ReadStatus(ctx, h.cfg.Store, d.Project, d.Name)
	if err != nil {
		return nil, err
	}
	d.DeploymentStatus = st
	return events, nil
}

// aliases lists all of a model's aliases (a model has few).
func (h *handler) aliases(ctx context.Context, project, model string) ([]api.ModelAlias, error) {
	out, objs, _, err := listPage[api.ModelAlias](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindModelAlias, Project: project, Parent: model})
	for i := range out {
		out[i].Meta = meta(objs[i])
	}
	return out, err
}

// runOf reads a version's pipeline_run_id ("project/pipeline/id") as a run
// of the project, or ok=false.
func runOf(project, pipelineRunID string) (pipeline string, id int64, ok bool) {
	parts := strings.Split(pipelineRunID, "/")
	if len(parts) != 3 || parts[0] != project {
		return "", 0, false
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	return parts[1], id, err == nil && id > 0
}

func completeVersion(v *api.ModelVersion, o *store.Object, m *api.Model, aliases []api.ModelAlias) {
	v.Meta = meta(o)
	v.GateResults = api.EvaluateGates(m.Gates, v.Metrics)
	v.Aliases = nil
	for _, a := range aliases {
		if a.Version == v.Version {
			v.Aliases = append(v.Aliases, a.Alias)
		}
	}
}

// paging reads ?cursor= and ?limit= (def when absent, at most maxN).
type paging struct {
	cursor string
	limit  int
	def    int
}

func pageOf(r *http.Request, def, maxN int) paging {
	p := paging{cursor: r.URL.Query().Get("cursor"), limit: def, def: def}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		p.limit = min(n, maxN)
	}
	return p
}

// links returns the hrefs of the next page and, when not on the first, the first.
func (p paging) links(r *http.Request, next string) (nextHref, firstHref string) {
	q := url.Values{}
	if p.limit != p.def {
		q.Set("limit", strconv.Itoa(p.limit))
	}
	if p.cursor != "" {
		firstHref = r.URL.Path
		if len(q) > 0 {
			firstHref += "?" + q.Encode()
		}
	}
	if next != "" {
		q.Set("cursor", next)
		nextHref = r.URL.Path + "?" + q.Encode()
	}
	return nextHref, firstHref
}

// Links to pages, in one place.

func projectHref(p string) string { return Base + "/p/" + url.PathEscape(p) }
func kindHref(p, kind string) string {
	return projectHref(p) + "/" + kind
}
func pipelineHref(p, name string) string {
	return projectHref(p) + "/pipelines/" + url.PathEscape(name)
}
func runHref(p, pipeline string, id int64) string {
	return pipelineHref(p, pipeline) + "/runs/" + strconv.FormatInt(id, 10)
}
func modelHref(p, name string) string { return projectHref(p) + "/models/" + url.PathEscape(name) }
func versionHref(p, model string, v int64) string {
	return modelHref(p, model) + "/versions/" + strconv.FormatInt(v, 10)
}
func monitorHref(p, name string) string { return projectHref(p) + "/monitors/" + url.PathEscape(name) }
func deploymentHref(p, name string) string {
	return projectHref(p) + "/deployments/" + url.PathEscape(name)
}
