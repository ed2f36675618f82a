package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
)

func TestIfMatch(t *testing.T) {
	e := newEnv(t)
	base := "/v1/projects/default/models"
	r := want(t, e.admin("POST", base, map[string]any{"name": "m"}), http.StatusCreated)
	if r.header.Get("ETag") != `"1"` {
		t.Fatalf("ETag = %q", r.header.Get("ETag"))
	}
	want(t, e.admin("PUT", base+"/m", map[string]any{"description": "a"}, "If-Match", `"1"`), http.StatusOK)
	// The writer holding generation 1 is now stale.
	wantProblem(t, e.admin("PUT", base+"/m", map[string]any{"description": "b"}, "If-Match", `"1"`), http.StatusPreconditionFailed, "", "changed by someone else")
	wantProblem(t, e.admin("DELETE", base+"/m", nil, "If-Match", `"1"`), http.StatusPreconditionFailed, "", "read it again")
	wantProblem(t, e.admin("PUT", base+"/m", map[string]any{}, "If-Match", `garbage`), http.StatusBadRequest, "header.If-Match", "")
	var m api.Model
	want(t, e.admin("GET", base+"/m", nil), http.StatusOK).decode(t, &m)
	if m.Description != "a" || m.Generation != 2 {
		t.Fatalf("stale writes changed the model: %+v", m)
	}
	want(t, e.admin("DELETE", base+"/m", nil, "If-Match", `W/"2"`), http.StatusNoContent)
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	base := "/v1/projects/default/models/m/versions"
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "m"}), http.StatusCreated)
	body := map[string]any{"artifact_uri": "s3://a"}
	first := want(t, e.admin("POST", base, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	// A retry with the same key replays the first answer instead of registering version 2.
	again := want(t, e.admin("POST", base, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	if string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("ETag") != first.header.Get("ETag") {
		t.Fatalf("replay differs:\n%s\n%s", first.body, again.body)
	}
	var list api.List[api.ModelVersion]
	want(t, e.admin("GET", base, nil), http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d versions after a retried POST, want 1", len(list.Items))
	}
	// The same key for another request is refused rather than answered with the wrong object.
	wantProblem(t, e.admin("POST", base, map[string]any{"artifact_uri": "s3://b"}, "Idempotency-Key", "k-1"), http.StatusUnprocessableEntity, "", "different request")
	// Keys belong to a token: another caller's identical key is a new request.
	editor := e.ts.Token(t, api.RoleEditor, "")
	want(t, e.do("POST", base, editor, body, "Idempotency-Key", "k-1"), http.StatusCreated)
	// A refused request is replayed too (it would be refused again).
	wantProblem(t, e.admin("POST", base, map[string]any{}, "Idempotency-Key", "k-2"), http.StatusBadRequest, "", "artifact_uri")
	wantProblem(t, e.admin("POST", base, map[string]any{}, "Idempotency-Key", "k-2"), http.StatusBadRequest, "", "artifact_uri")

	// Concurrent retries of one key create one object, and all get its answer.
	var wg sync.WaitGroup
	answers := make(chan response, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers <- e.admin("POST", base, map[string]any{"artifact_uri": "s3://c"}, "Idempotency-Key", "k-3")
		}()
	}
	wg.Wait()
	close(answers)
	var firstBody string
	for a := range answers {
		if a.status != http.StatusCreated {
			t.Fatalf("concurrent retry got %d: %s", a.status, a.body)
		}
		if firstBody == "" {
			firstBody = string(a.body)
		} else if string(a.body) != firstBody {
			t.Fatalf("concurrent retries got different answers:\n%s\n%s", firstBody, a.body)
		}
	}
	want(t, e.admin("GET", base, nil), http.StatusOK).decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("%d versions, want 3 (one per distinct key and caller)", len(list.Items))
	}
}

// TestIdempotencyKeyClaimedByKilledServer: a key an older mlopsd claimed and
// never answered (it was killed mid-request, leaving status 0) neither
// blocks the retry with 409 nor fails it with 500: the retry runs, once.
func TestIdempotencyKeyClaimedByKilledServer(t *testing.T) {
	e := newEnv(t)
	base := "/v1/projects/default/models/m/versions"
	want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "m"}), http.StatusCreated)
	scope := server.HashToken("Bearer " + e.ts.AdminToken)
	if _, err := e.ts.Store.DB().Exec(rebind(e.ts.Store, `INSERT INTO idempotency (scope, key, request_hash, status, created_at) VALUES (?, ?, ?, 0, ?)`),
		scope, "orphan", "whatever the dead request hashed to", time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"artifact_uri": "s3://a"}
	first := want(t, e.admin("POST", base, body, "Idempotency-Key", "orphan"), http.StatusCreated)
	again := want(t, e.admin("POST", base, body, "Idempotency-Key", "orphan"), http.StatusCreated)
	if again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) {
		t.Fatalf("the retry was not a replay:\n%s\n%s", first.body, again.body)
	}
	var list api.List[api.ModelVersion]
	want(t, e.admin("GET", base, nil), http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Version != 1 {
		t.Fatalf("versions = %+v, want just version 1", list.Items)
	}
}

// rebind turns ? placeholders into PostgreSQL's $n when the store needs them.
func rebind(st *sqlstore.Store, q string) string {
	if st.Dialect() != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 7; i++ {
		want(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": fmt.Sprintf("m%d", i)}), http.StatusCreated)
	}
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		var page api.List[api.Model]
		want(t, e.admin("GET", "/v1/projects/default/models?page_size=3&page_token="+token, nil), http.StatusOK).decode(t, &page)
		for _, m := range page.Items {
			names = append(names, m.Name)
		}
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	if strings.Join(names, ",") != "m0,m1,m2,m3,m4,m5,m6" {
		t.Fatalf("paged names = %v", names)
	}
	wantProblem(t, e.admin("GET", "/v1/projects/default/models?page_token=zzz", nil), http.StatusBadRequest, "query.page_token", "")
	wantProblem(t, e.admin("GET", "/v1/projects/default/models?page_size=100000", nil), http.StatusBadRequest, "query.page_size", "")
}

func TestRequestLimitsAndBadInput(t *testing.T) {
	e := newEnv(t)
	big := `{"name":"m","description":"` + strings.Repeat("x", 2<<20) + `"}`
	want(t, e.admin("POST", "/v1/projects/default/models", big), http.StatusRequestEntityTooLarge)
	want(t, e.admin("POST", "/v1/projects/default/models", big, "Idempotency-Key", "big"), http.StatusRequestEntityTooLarge)
	want(t, e.admin("POST", "/v1/projects/default/models", `{"name":`), http.StatusBadRequest)
	want(t, e.admin("POST", "/v1/projects/default/models", `{"name":"m","colour":"blue"}`), http.StatusBadRequest)
	want(t, e.admin("POST", "/v1/projects/default/models", "{\"name\":\"m\xff\"}"), http.StatusBadRequest)
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	if r := e.admin("POST", "/v1/projects/default/models", deep); r.status < 400 || r.status >= 500 {
		t.Fatalf("deep JSON: %d", r.status)
	}
	labels := map[string]string{}
	for i := 0; i < 100; i++ {
		labels[fmt.Sprint("k", i)] = "v"
	}
	wantProblem(t, e.admin("POST", "/v1/projects/default/models", map[string]any{"name": "m", "labels": labels}), http.StatusBadRequest, "body.labels", "at most 64")
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	want(t, e.do("GET", "/healthz", "", nil), http.StatusOK)
	want(t, e.do("GET", "/readyz", "", nil), http.StatusOK)
	want(t, e.admin("GET", "/v1/projects", nil), http.StatusOK)
	r := want(t, e.do("GET", "/metrics", "", nil), http.StatusOK)
	if !strings.Contains(string(r.body), `mlopsd_http_requests_total{code="200",method="GET",route="/v1/projects"}`) {
		t.Fatalf("metrics lack the request counter:\n%.2000s", r.body)
	}
	want(t, e.do("GET", "/openapi.json", "", nil), http.StatusOK)
}

func TestReadyzWhenDatabaseIsGone(t *testing.T) {
	e := newEnv(t)
	_ = e.ts.Store.Close()
	r := e.do("GET", "/readyz", "", nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed database: %d", r.status)
	}
}
