package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// issue returns a token with its id, which audit records name.
func issue(t *testing.T, e *env, role, project string) *api.Token {
	t.Helper()
	tok, err := server.IssueToken(context.Background(), e.ts.Store, role, project, "audit test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func auditOf(t *testing.T, r response) []api.AuditRecord {
	t.Helper()
	var page api.List[api.AuditRecord]
	want(t, r, http.StatusOK).decode(t, &page)
	return page.Items
}

// brief renders the fields a test pins, so a mismatch shows the whole list.
func brief(recs []api.AuditRecord) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %s %s/%s/%s %d->%d %d by %s(%s)\n", r.Action, r.Kind, r.Project, r.Parent, r.Name,
			r.GenerationBefore, r.GenerationAfter, r.Status, r.Actor.TokenID, r.Actor.Role)
	}
	return b.String()
}

func TestAuditRecordsChanges(t *testing.T) {
	e := newEnv(t)
	editor := issue(t, e, api.RoleEditor, "default")
	base := "/v1/projects/default/pipelines"
	spec := map[string]any{"steps": []any{step("fit")}}
	want(t, e.do("POST", base, editor.Secret, map[string]any{"name": "train", "steps": []any{step("fit")}}, "Idempotency-Key", "k1"), http.StatusCreated)
	// A replayed retry changes nothing and is not recorded again.
	want(t, e.do("POST", base, editor.Secret, map[string]any{"name": "train", "steps": []any{step("fit")}}, "Idempotency-Key", "k1"), http.StatusCreated)
	want(t, e.do("PUT", base+"/train", editor.Secret, spec, "If-Match", `"1"`), http.StatusOK)
	// Refused writes are not changes.
	want(t, e.do("PUT", base+"/train", editor.Secret, spec, "If-Match", `"1"`), http.StatusPreconditionFailed)
	want(t, e.do("DELETE", base+"/nope", editor.Secret, nil), http.StatusNotFound)
	// Without If-Match the generation before is read from the store.
	want(t, e.do("DELETE", base+"/train", editor.Secret, nil), http.StatusNoContent)

	recs := auditOf(t, e.admin("GET", "/v1/projects/default/audit?kind=pipeline", nil))
	got := brief(recs)
	wantRecs := fmt.Sprintf(`delete-pipeline pipeline default//train 2->0 204 by %[1]s(editor)
update-pipeline pipeline default//train 1->2 200 by %[1]s(editor)
create-pipeline pipeline default//train 0->1 201 by %[1]s(editor)
`, editor.ID)
	if got != wantRecs {
		t.Fatalf("audit records:\n%s\nwant:\n%s", got, wantRecs)
	}
	if recs[0].ID <= recs[1].ID || recs[1].ID <= recs[2].ID || recs[0].Time.IsZero() || recs[0].Actor.Project != "default" {
		t.Fatalf("not newest first, or incomplete: %+v", recs)
	}

	// Nested objects name their parent; numbered ones their number.
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "churn"}), http.StatusCreated)
	want(t, e.admin("POST", "/v1/projects/default/models/churn/versions", map[string]any{"artifact_uri": "s3://a"}), http.StatusCreated)
	want(t, e.admin("POST", "/v1/projects/default/models/churn/aliases", map[string]any{"alias": "prod", "version": 1}), http.StatusCreated)
	want(t, e.admin("PUT", "/v1/projects/default/models/churn/versions/1", map[string]any{"description": "first"}), http.StatusOK)
	got = brief(auditOf(t, e.admin("GET", "/v1/audit?project=default&page_size=3", nil)))
	if !strings.HasPrefix(got, "update-model-version model_version default/churn/1 1->2 200") ||
		!strings.Contains(got, "create-model-alias model_alias default/churn/prod 0->1 201") ||
		!strings.Contains(got, "create-model-version model_version default/churn/1 0->1 201") {
		t.Fatalf("nested records:\n%s", got)
	}

	// Filters and pages: one record per page, following next_page_token.
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var page api.List[api.AuditRecord]
		want(t, e.admin("GET", "/v1/audit?kind=pipeline&name=train&page_size=1&page_token="+token, nil), http.StatusOK).decode(t, &page)
		for _, r := range page.Items {
			names = append(names, r.Action)
		}
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	if strings.Join(names, ",") != "delete-pipeline,update-pipeline,create-pipeline" {
		t.Fatalf("paged filtered records: %v", names)
	}
	wantProblem(t, e.admin("GET", "/v1/audit?page_token=zzz", nil), http.StatusBadRequest, "query.page_token", "")
}

func TestAuditIsScopedToReadableProjects(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"a", "b", "c"} {
		want(t, e.admin("POST", "/v1/projects", map[string]any{"name": p}), http.StatusCreated)
		want(t, e.admin("POST", "/v1/projects/"+p+"/models", map[string]any{"name": "m-" + p}), http.StatusCreated)
	}
	viewer := e.ts.Token(t, api.RoleViewer, "a")
	for _, path := range []string{"/v1/projects/a/audit", "/v1/audit?project=a"} {
		recs := auditOf(t, e.do("GET", path, viewer, nil))
		if got := brief(recs); !strings.HasPrefix(got, "create-model model a//m-a 0->1 201") || !strings.Contains(got, "create-project project a//a 0->1 201") || len(recs) != 2 {
			t.Fatalf("%s as viewer of a:\n%s", path, got)
		}
	}
	wantProblem(t, e.do("GET", "/v1/projects/b/audit", viewer, nil), http.StatusForbidden, "", "may not read project b")
	wantProblem(t, e.do("GET", "/v1/audit?project=b", viewer, nil), http.StatusForbidden, "", "may not read project b")
	wantProblem(t, e.do("GET", "/v1/audit", viewer, nil), http.StatusBadRequest, "query.project", "")
	wantProblem(t, e.do("GET", "/v1/audit", e.ts.Token(t, api.RoleEditor, ""), nil), http.StatusBadRequest, "query.project", "admin")

	// An admin sees every project's records.
	got := brief(auditOf(t, e.admin("GET", "/v1/audit?kind=model", nil)))
	for _, p := range []string{"a", "b", "c"} {
		if !strings.Contains(got, "create-model model "+p+"//m-"+p) {
			t.Fatalf("admin list misses project %s:\n%s", p, got)
		}
	}

	// Records live outside their project: it can still be deleted once empty,
	// and its history stays readable.
	want(t, e.admin("DELETE", "/v1/projects/c/models/m-c", nil), http.StatusNoContent)
	want(t, e.admin("DELETE", "/v1/projects/c", nil), http.StatusNoContent)
	got = brief(auditOf(t, e.admin("GET", "/v1/audit?project=c", nil)))
	if !strings.HasPrefix(got, "delete-project project c//c 1->0 204") || strings.Count(got, "\n") != 4 {
		t.Fatalf("history of a deleted project:\n%s", got)
	}
}

func TestAuditHoldsNoSecrets(t *testing.T) {
	e := monitorEnv(t)
	var tok api.Token
	want(t, e.admin("POST", "/v1/tokens", map[string]any{"role": "viewer", "project": "default"}), http.StatusCreated).decode(t, &tok)
	const hookSecret = "whsec-do-not-log-7d1e"
	want(t, e.admin("POST", "/v1/projects/default/monitors", map[string]any{
		"name": "drift", "model": "churn", "baseline_dataset": "base", "current_dataset": "cur",
		"notification": map[string]any{"url": "https://hooks.example.com/x", "secret": hookSecret},
	}), http.StatusCreated)
	want(t, e.admin("PUT", "/v1/projects/default/monitors/drift", map[string]any{
		"model": "churn", "baseline_dataset": "base", "current_dataset": "cur",
		"notification": map[string]any{"url": "https://hooks.example.com/x", "secret": hookSecret + "-2"},
	}), http.StatusOK)
	want(t, e.admin("DELETE", "/v1/tokens/"+tok.ID, nil), http.StatusNoContent)

	all := want(t, e.admin("GET", "/v1/audit", nil), http.StatusOK)
	project := want(t, e.admin("GET", "/v1/projects/default/audit", nil), http.StatusOK)
	for _, body := range []string{string(all.body), string(project.body)} {
		for _, secret := range []string{tok.Secret, hookSecret, e.ts.AdminToken, "secret"} {
			if strings.Contains(body, secret) {
				t.Fatalf("audit records hold %q: %s", secret, body)
			}
		}
	}
	got := brief(auditOf(t, all))
	for _, line := range []string{
		"delete-token token //" + tok.ID + " 0->0 204",
		"update-monitor monitor default//drift 1->2 200",
		"create-monitor monitor default//drift 0->1 201",
		"create-token token //" + tok.ID + " 0->0 201",
	} {
		if !strings.Contains(got, line) {
			t.Fatalf("no %q in:\n%s", line, got)
		}
	}
}

func TestAuditRecordsActions(t *testing.T) {
	e := monitorEnv(t)
	want(t, e.admin("POST", "/v1/projects/default/monitors", map[string]any{
		"name": "drift", "model": "churn", "baseline_dataset": "base", "current_dataset": "cur",
	}), http.StatusCreated)
	want(t, e.admin("POST", "/v1/projects/default/monitors/drift/evaluate", nil), http.StatusOK)
	want(t, e.admin("POST", "/v1/projects/default/pipelines", map[string]any{
		"name": "train", "steps": []any{map[string]any{"name": "wait", "command": []string{"sleep", "30"}}},
	}), http.StatusCreated)
	var run api.PipelineRun
	want(t, e.admin("POST", "/v1/projects/default/pipelines/train/runs", map[string]any{}), http.StatusCreated).decode(t, &run)
	var cancelled api.PipelineRun
	want(t, e.admin("POST", fmt.Sprintf("/v1/projects/default/pipelines/train/runs/%d/cancel", run.ID), nil), http.StatusOK).decode(t, &cancelled)

	got := brief(auditOf(t, e.admin("GET", "/v1/projects/default/audit?page_size=4", nil)))
	lines := strings.Split(strings.TrimSpace(got), "\n")
	wantPrefixes := []string{
		fmt.Sprintf("cancel-run pipeline_run default/train/%d ", run.ID),
		fmt.Sprintf("create-run pipeline_run default/train/%d 0->%d 201", run.ID, run.Generation),
		"create-pipeline pipeline default//train 0->1 201",
		// Evaluating leaves the monitor at its generation.
		"evaluate-monitor monitor default//drift 1->1 200",
	}
	for i, p := range wantPrefixes {
		if i >= len(lines) || !strings.HasPrefix(lines[i], p) {
			t.Fatalf("record %d: want %q in:\n%s", i, p, got)
		}
	}
	if !strings.Contains(lines[0], fmt.Sprintf("->%d 200", cancelled.Generation)) {
		t.Fatalf("cancel record does not end at the run's generation %d: %s", cancelled.Generation, lines[0])
	}
}

// failingAudit is a store whose audit writes fail in the database itself:
// each goes with its first object twice, a duplicate key.
type failingAudit struct{ store.Store }

func (f failingAudit) CreateNumbered(ctx context.Context, scope string, objs ...*store.Object) (int64, error) {
	return f.Store.CreateNumbered(ctx, scope, append(objs, objs[0])...)
}

// TestChangeIsNotKeptWithoutItsAuditRecord: a change and its audit record
// commit together, so a record that cannot be written fails the request and
// leaves no change behind. With an Idempotency-Key no answer is recorded
// either: the retry runs. Without one (PUT, DELETE, a POST without a key)
// the object stays as it was.
func TestChangeIsNotKeptWithoutItsAuditRecord(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			admin, err := server.IssueToken(ctx, st, api.RoleAdmin, "", "test")
			if err != nil {
				t.Fatal(err)
			}
			serve := func(s store.Store, method, path, key, body string) *httptest.ResponseRecorder {
				srv, err := server.New(ctx, server.Config{Store: s, DataRoots: []string{t.TempDir()}})
				if err != nil {
					t.Fatal(err)
				}
				req := httptest.NewRequest(method, path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+admin.Secret)
				if key != "" {
					req.Header.Set("Idempotency-Key", key)
				}
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				return rec
			}
			const models = "/v1/projects/default/models"
			if rec := serve(failingAudit{st}, http.MethodPost, models, "create-m", `{"name":"m"}`); rec.Code < 500 {
				t.Fatalf("create whose audit record failed: %d %s, want a 5xx", rec.Code, rec.Body)
			}
			if _, err := st.Get(ctx, store.ModelKey("default", "m")); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the model was kept without its audit record: %v", err)
			}
			if rec := serve(st, http.MethodPost, models, "create-m", `{"name":"m"}`); rec.Code != http.StatusCreated || rec.Header().Get("Idempotent-Replayed") != "" {
				t.Fatalf("retry with the same key: %d %s, want 201 run afresh", rec.Code, rec.Body)
			}
			if rec := serve(st, http.MethodGet, "/v1/audit?kind=model", "", ""); !strings.Contains(rec.Body.String(), `"action":"create-model"`) {
				t.Fatalf("the retry's record is missing: %s", rec.Body)
			}

			// Without a key.
			m, err := st.Get(ctx, store.ModelKey("default", "m"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ method, path, body string }{
				{http.MethodPut, models + "/m", `{"description":"changed"}`},
				{http.MethodDelete, models + "/m", ""},
				{http.MethodPost, models, `{"name":"n"}`},
			} {
				if rec := serve(failingAudit{st}, c.method, c.path, "", c.body); rec.Code < 500 {
					t.Fatalf("%s %s whose audit record failed: %d %s, want a 5xx", c.method, c.path, rec.Code, rec.Body)
				}
				after, err := st.Get(ctx, store.ModelKey("default", "m"))
				if err != nil || after.Generation != m.Generation || string(after.Data) != string(m.Data) {
					t.Fatalf("%s %s changed the model without its audit record: %v", c.method, c.path, err)
				}
				if _, err := st.Get(ctx, store.ModelKey("default", "n")); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s %s: model n was kept without its audit record: %v", c.method, c.path, err)
				}
			}
			if rec := serve(st, http.MethodPut, models+"/m", "", `{"description":"changed"}`); rec.Code != http.StatusOK {
				t.Fatalf("update: %d %s", rec.Code, rec.Body)
			}
			if rec := serve(st, http.MethodGet, "/v1/audit?kind=model&name=m", "", ""); !strings.Contains(rec.Body.String(), `"action":"update-model"`) {
				t.Fatalf("the update's record is missing: %s", rec.Body)
			}
		})
	}
}
