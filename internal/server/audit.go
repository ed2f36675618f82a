package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// The audit log records every successful change made through the API.
//
// The Huma middleware audit wraps every POST, PUT and DELETE: it notes the
// object's generation before the handler runs, holds the handler's response
// back, and when the status is 2xx writes the record and only then sends the
// response. So a client that saw a change succeed can read its record.
//
// The record is written in the request's transaction, with the change: the
// idempotency middleware runs every request that may change something under
// store.Idempotent (a POST with an Idempotency-Key) or store.Atomic, whose
// transaction every store call made with the request's context joins, the
// handler's and the run engine's (create-run, cancel-run, evaluate-monitor)
// alike. So one middleware covers every operation, including ones added
// later, without touching any handler. The record's write is essential
// (store.Essential): if it fails, the request answers 5xx and nothing of the
// change is kept; the failure is logged at ERROR and counted in
// mlopsd_audit_write_failures_total.
//
// Records never hold request or response bodies: only the object's address
// (taken from the path, or for a create the name field of the response),
// generations, status and the caller's token id and role. Secrets cannot reach them.

// kindToken is the kind audit records give API tokens (they are not store objects).
const kindToken store.Kind = "token"

// auditCollections maps a path's collection segment to the kind of its objects.
var auditCollections = map[string]store.Kind{
	"projects":    store.KindProject,
	"datasets":    store.KindDataset,
	"pipelines":   store.KindPipeline,
	"revisions":   store.KindPipelineRevision,
	"runs":        store.KindPipelineRun,
	"models":      store.KindModel,
	"versions":    store.KindModelVersion,
	"aliases":     store.KindModelAlias,
	"schedules":   store.KindSchedule,
	"monitors":    store.KindMonitor,
	"evaluations": store.KindMonitorEvaluation,
	"deployments": store.KindDeployment,
	"tokens":      kindToken,
}

// maxAuditScan bounds the records one filtered list request reads; a page
// may come back short (even empty) with a next_page_token to go on from.
const maxAuditScan = 5000

func newAuditFailures(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mlopsd_audit_write_failures_total",
		Help: "Changes refused because their audit record could not be written (nothing of them was kept).",
	})
	reg.MustRegister(c)
	return c
}

// auditTarget is the object an operation changes, read from its path.
type auditTarget struct {
	kind                  store.Kind
	project, parent, name string
	// created: the request makes the object, so its name is in the response.
	created bool
}

// auditTargetOf reads the object from an operation's path template and the
// request's path parameters: the last collection names the kind, its
// parameter the object, the collection before it the parent. A literal after
// a named object (…/runs/{id}/cancel) is a verb acting on that object.
func auditTargetOf(path string, param func(string) string) auditTarget {
	type level struct{ coll, name string }
	var levels []level
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/v1/"), "/") {
		if strings.HasPrefix(seg, "{") {
			if len(levels) > 0 {
				levels[len(levels)-1].name = param(strings.Trim(seg, "{}"))
			}
			continue
		}
		levels = append(levels, level{coll: seg})
	}
	if n := len(levels); n >= 2 && levels[n-1].name == "" && levels[n-2].name != "" {
		if _, isCollection := auditCollections[levels[n-1].coll]; !isCollection {
			levels = levels[:n-1]
		}
	}
	if len(levels) == 0 {
		return auditTarget{}
	}
	last := levels[len(levels)-1]
	t := auditTarget{kind: auditCollections[last.coll], name: last.name, created: last.name == ""}
	if t.kind == "" {
		t.kind = store.Kind(strings.TrimSuffix(last.coll, "s"))
	}
	if levels[0].coll == "projects" {
		t.project = levels[0].name
	}
	if len(levels) >= 3 {
		t.parent = levels[len(levels)-2].name
	}
	return t
}

// key is where the target is stored, for reading its generation.
func (t auditTarget) key() store.Key {
	if t.kind == store.KindProject {
		return store.ProjectKey(t.name)
	}
	return store.Key{Kind: t.kind, Project: t.project, Parent: t.parent, Name: t.name}
}

// humaContext lets heldResponse embed a huma.Context, whose field name would
// clash with its Context method.
type humaContext = huma.Context

// heldResponse is a huma.Context whose status and body are held back until
// release; headers go through at once (they are sent with the status).
type heldResponse struct {
	humaContext
	status int
	header http.Header
	body   bytes.Buffer
}

func (c *heldResponse) SetStatus(code int)    { c.status = code }
func (c *heldResponse) Status() int           { return c.status }
func (c *heldResponse) BodyWriter() io.Writer { return &c.body }
func (c *heldResponse) Unwrap() huma.Context  { return c.humaContext }
func (c *heldResponse) SetHeader(name, v string) {
	c.header.Set(name, v)
	c.humaContext.SetHeader(name, v)
}
func (c *heldResponse) AppendHeader(name, v string) {
	c.header.Add(name, v)
	c.humaContext.AppendHeader(name, v)
}

func (c *heldResponse) release() {
	if c.status != 0 {
		c.humaContext.SetStatus(c.status)
	}
	if c.body.Len() > 0 {
		_, _ = c.humaContext.BodyWriter().Write(c.body.Bytes())
	}
}

// audit is the Huma middleware that records successful changes (see above).
func (s *Server) audit(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	p := principalFrom(ctx.Context())
	if p == nil || (op.Method != http.MethodPost && op.Method != http.MethodPut && op.Method != http.MethodDelete && op.Method != http.MethodPatch) {
		next(ctx)
		return
	}
	t := auditTargetOf(op.Path, ctx.Param)
	before := s.generationBefore(ctx, t)
	held := &heldResponse{humaContext: ctx, header: http.Header{}}
	next(held)
	// Not deferred: after a panic the recoverer answers, and nothing held is sent.
	s.record(ctx, p, t, before, held)
	held.release()
}

// record writes the audit record of a change whose response is held, if it succeeded.
func (s *Server) record(ctx huma.Context, p *principal, t auditTarget, before int64, held *heldResponse) {
	op := ctx.Operation()
	status := held.status
	if status == 0 {
		status = http.StatusOK // net/http's answer when a handler sets none
	}
	if status < 200 || status > 299 {
		return
	}
	if t.created {
		t.name = createdName(s.api, t.kind, held.header.Get("Content-Type"), held.body.Bytes())
		if t.kind == store.KindProject {
			t.project = t.name
		}
	}
	after := before // an action (evaluate-monitor) may leave the object as it was
	if g, err := parseIfMatch(held.header.Get("ETag")); err == nil && g > 0 {
		after = g
	} else if op.Method == http.MethodDelete {
		after = 0
	}
	rec := &api.AuditRecord{
		Time:   s.now().UTC(),
		Actor:  api.AuditActor{TokenID: p.tokenID, Role: p.role, Project: p.project},
		Action: op.OperationID, Kind: string(t.kind), Project: t.project, Parent: t.parent, Name: t.name,
		GenerationBefore: before, GenerationAfter: after, Status: status,
	}
	// Not cut short by the caller going away: the request's commit decides.
	if err := s.writeAudit(context.WithoutCancel(ctx.Context()), rec); err != nil {
		s.auditFailures.Inc()
		s.log.ErrorContext(ctx.Context(), "could not write the audit record of a change", "err", err,
			"action", rec.Action, "kind", rec.Kind, "project", rec.Project, "name", rec.Name, "token", rec.Actor.TokenID)
	}
}

// generationBefore is the target's generation before the change: If-Match
// when the request carries one (the handler refuses any other), else what
// the store holds now; 0 for creates and objects without generations.
func (s *Server) generationBefore(ctx huma.Context, t auditTarget) int64 {
	if t.created || t.name == "" || t.kind == kindToken {
		return 0
	}
	if g, err := parseIfMatch(ctx.Header("If-Match")); err == nil && g > 0 {
		return g
	}
	o, err := s.store.Get(ctx.Context(), t.key())
	if err != nil {
		return 0 // not found: the handler answers 404 and nothing is recorded
	}
	return o.Generation
}

// createdName reads the new object's name from a create's response: the
// field that names objects of the kind, and nothing else of the body.
func createdName(a huma.API, kind store.Kind, contentType string, body []byte) string {
	field := "name"
	switch kind {
	case store.KindModelVersion:
		field = "version"
	case store.KindModelAlias:
		field = "alias"
	case store.KindPipelineRun, kindToken:
		field = "id"
	}
	var v map[string]any
	if err := a.Unmarshal(contentType, body, &v); err != nil {
		return ""
	}
	switch n := v[field].(type) {
	case nil:
		return ""
	case string:
		return n
	case float64:
		return fmt.Sprintf("%.0f", n)
	default:
		return fmt.Sprint(n)
	}
}

// writeAudit stores a record in the stream of every record and, for objects
// in a project, in that project's stream.
func (s *Server) writeAudit(ctx context.Context, rec *api.AuditRecord) error {
	// The record commits with the change or the request fails: a change is
	// not kept without its record.
	ctx = store.Essential(ctx)
	rec.ID = 0 // the store numbers the record; readers take the id from the ordinal
	data := encode(rec)
	objs := []*store.Object{{Key: store.AuditKey("", 0), Data: data}}
	if rec.Project != "" {
		objs = append(objs, &store.Object{Key: store.AuditKey(rec.Project, 0), Data: data})
	}
	id, err := s.store.CreateNumbered(ctx, store.AuditScope, objs...)
	rec.ID = id
	return err
}

// AuditFilter narrows an audit listing.
type AuditFilter struct {
	Kind string `query:"kind" doc:"Only records about this kind of object, such as pipeline or model_version."`
	Name string `query:"name" doc:"Only records about objects of this name."`
}

func (f AuditFilter) match(r *api.AuditRecord) bool {
	return (f.Kind == "" || r.Kind == f.Kind) && (f.Name == "" || r.Name == f.Name)
}

func (s *Server) registerAudit() {
	tags := []string{"audit"}
	const how = " Newest first. Records outlive the objects (and projects) they describe. A filtered page may hold fewer items than page_size, even none, and still have a next_page_token."
	register(s, accessAuthenticated, huma.Operation{
		OperationID: "list-audit", Method: http.MethodGet, Path: "/v1/audit", Tags: tags,
		Summary:     "List audit records of changes",
		Description: "Every successful create, update, delete and action (a run started or cancelled, a monitor evaluated, a token issued): who, what, and the object's generation before and after. Admin tokens may list every record; other tokens must name a project they may read." + how,
	}, func(ctx context.Context, in *struct {
		Project string `query:"project" doc:"Only records about objects in this project; required unless the token is an admin's."`
		AuditFilter
		Paging
	}) (*ListBody[api.AuditRecord], error) {
		p := principalFrom(ctx)
		switch {
		case in.Project == "" && p.role != api.RoleAdmin:
			return nil, &huma.ErrorModel{Status: http.StatusBadRequest, Title: "Bad Request",
				Detail: "only an admin token may list the audit records of every project; name one with ?project=<name>",
				Errors: []*huma.ErrorDetail{{Location: "query.project", Message: "required for " + p.role + " tokens"}}}
		case in.Project != "" && !p.canRead(in.Project):
			return nil, huma.Error403Forbidden(forbiddenMessage(p, accessRead, in.Project))
		}
		return s.auditPage(ctx, in.Project, in.AuditFilter, in.Paging)
	})

	register(s, accessRead, huma.Operation{
		OperationID: "list-project-audit", Method: http.MethodGet, Path: "/v1/projects/{project}/audit", Tags: tags,
		Summary:     "List the audit records of a project's changes",
		Description: "Changes to the project and every object in it." + how,
	}, func(ctx context.Context, in *struct {
		ProjectPath
		AuditFilter
		Paging
	}) (*ListBody[api.AuditRecord], error) {
		return s.auditPage(ctx, in.Project, in.AuditFilter, in.Paging)
	})
}

// auditPage reads one page of a stream ("" for every record), newest first.
// It asks the store for no more records than the page still needs, so the
// store's page token always continues right after the last record read.
func (s *Server) auditPage(ctx context.Context, stream string, f AuditFilter, p Paging) (*ListBody[api.AuditRecord], error) {
	limit := p.limit()
	out := api.List[api.AuditRecord]{Items: []api.AuditRecord{}}
	token := p.PageToken
	for scanned := 0; ; {
		objs, next, err := s.store.List(ctx, store.ListQuery{
			Kind: store.KindAudit, Parent: stream, Desc: true, PageToken: token, Limit: limit - len(out.Items),
		})
		if err != nil {
			return nil, s.listError(ctx, err)
		}
		for _, o := range objs {
			rec, err := decode[api.AuditRecord](o)
			if err != nil {
				return nil, s.storeError(ctx, o.Key, err)
			}
			rec.ID = o.Ordinal // see writeAudit
			if f.match(&rec) {
				out.Items = append(out.Items, rec)
			}
		}
		scanned += len(objs)
		token = next
		if next == "" || len(out.Items) == limit || scanned >= maxAuditScan {
			break
		}
	}
	out.NextPageToken = token
	return &ListBody[api.AuditRecord]{Body: out}, nil
}
