package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

const testToken = "tok-s3cr3t-9f8e7d6c"

// newTestClient serves h and returns a client with fast retries.
func newTestClient(t *testing.T, h http.HandlerFunc, opts ...func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{Endpoint: srv.URL, Token: testToken, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p api.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func TestErrorSentinels(t *testing.T) {
	all := []error{ErrNotFound, ErrConflict, ErrPreconditionFailed, ErrUnauthorized, ErrForbidden, ErrValidation, ErrRateLimited}
	cases := []struct {
		status int
		want   error // nil: matches no sentinel
	}{
		{400, ErrValidation},
		{401, ErrUnauthorized},
		{403, ErrForbidden},
		{404, ErrNotFound},
		{409, ErrConflict},
		{412, ErrPreconditionFailed},
		{413, nil},
		{422, ErrValidation},
		{429, ErrRateLimited},
		{503, nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				writeProblem(w, api.Problem{Status: tc.status, Title: http.StatusText(tc.status), Detail: "because"})
			}, func(cfg *Config) { cfg.RetryMax = -1 })
			_, err := c.GetProject(context.Background(), "p")
			var apiErr *Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("want *Error, got %T: %v", err, err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Method != "GET" || apiErr.Path != "/v1/projects/p" {
				t.Errorf("got %+v", apiErr)
			}
			for _, s := range all {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(%v) = %v", s, got)
				}
			}
			// Callers wrap errors; matching must survive that.
			if tc.want != nil && !errors.Is(fmt.Errorf("reading: %w", err), tc.want) {
				t.Error("sentinel lost through wrapping")
			}
		})
	}
}

func TestProblemDecodingAndField(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.Problem{
			Status: 400, Title: "Bad Request", Detail: "the pipeline spec is invalid",
			Errors: []api.ProblemError{
				{Message: `unknown step "trian"`, Location: "body.steps[1].depends_on"},
				{Message: "is required", Location: "body.steps[2].command"},
			},
		})
	})
	_, err := c.CreatePipeline(context.Background(), "p", api.CreatePipelineRequest{Name: "x"})
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *Error, got %v", err)
	}
	if got := apiErr.Field(); got != "steps[1].depends_on" {
		t.Errorf("Field() = %q", got)
	}
	if len(apiErr.Problem.Errors) != 2 || apiErr.Problem.Detail != "the pipeline spec is invalid" {
		t.Errorf("problem not decoded: %+v", apiErr.Problem)
	}
	want := `POST /v1/projects/p/pipelines: 400 Bad Request: the pipeline spec is invalid; body.steps[1].depends_on: unknown step "trian"; body.steps[2].command: is required`
	if err.Error() != want {
		t.Errorf("Error() =\n %s\nwant\n %s", err, want)
	}
	if !errors.Is(err, ErrValidation) {
		t.Error("400 should match ErrValidation")
	}
}

func TestNonJSONErrorBodyAfterRetriesRunOut(t *testing.T) {
	body := "<html>" + strings.Repeat("gateway timeout ", 100) + "</html>"
	var hits atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, body)
	}, func(cfg *Config) { cfg.RetryMax = 2 })
	_, err := c.ListProjects(context.Background())
	if hits.Load() != 3 {
		t.Errorf("attempts = %d, want 3 (1 + RetryMax)", hits.Load())
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("exhausted retries should still give *Error, got %T: %v", err, err)
	}
	d := apiErr.Problem.Detail
	if apiErr.StatusCode != 502 || apiErr.Problem.Title != "Bad Gateway" || !strings.HasPrefix(d, "<html>gateway timeout") || len(d) > 512+len("...") {
		t.Errorf("got status %d title %q detail (%d bytes) %q", apiErr.StatusCode, apiErr.Problem.Title, len(d), d)
	}
	if !strings.Contains(err.Error(), "502 Bad Gateway: <html>gateway") {
		t.Errorf("Error() = %s", err)
	}
}

func TestRetry503KeepsIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]int{} // key -> attempts seen
	var order []string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		var p api.Project
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.Name != "demo" {
			t.Errorf("body not replayed on retry: %v %+v", err, p)
		}
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		keys[key]++
		n := keys[key]
		order = append(order, key)
		mu.Unlock()
		if n < 3 {
			writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable"})
			return
		}
		writeJSON(w, http.StatusCreated, api.Project{Name: p.Name, Meta: api.Meta{Generation: 1}})
	})
	ctx := context.Background()
	got, err := c.CreateProject(ctx, api.Project{Name: "demo"})
	if err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	if got.Name != "demo" || got.Generation != 1 {
		t.Errorf("got %+v", got)
	}
	if len(order) != 3 || order[0] != order[1] || order[1] != order[2] {
		t.Fatalf("want 3 attempts with one key, got %q", order)
	}
	if u, err := uuid.Parse(order[0]); err != nil || u.Version() != 4 {
		t.Errorf("Idempotency-Key %q is not a UUIDv4", order[0])
	}
	if _, err := c.CreateProject(ctx, api.Project{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || order[3] == order[0] {
		t.Errorf("a second call must use a new key; keys %q", order)
	}
}

func TestWithIdempotencyKey(t *testing.T) {
	var got string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Idempotency-Key")
		writeJSON(w, http.StatusCreated, api.Token{ID: "t1", Secret: "shown-once"})
	})
	tok, err := c.CreateToken(WithIdempotencyKey(context.Background(), "my-key-1"), api.CreateTokenRequest{Role: api.RoleViewer})
	if err != nil || tok.Secret != "shown-once" {
		t.Fatalf("CreateToken: %v %+v", err, tok)
	}
	if got != "my-key-1" {
		t.Errorf("Idempotency-Key = %q, want the caller's", got)
	}
}

func TestRetryAfterHonouredOn429(t *testing.T) {
	var hits atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, api.Problem{Status: 429, Title: "Too Many Requests"})
			return
		}
		writeJSON(w, 200, api.Project{Name: "p"})
	}) // RetryWaitMax is 5ms: the server's 1s must win
	start := time.Now()
	if _, err := c.GetProject(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 950*time.Millisecond {
		t.Errorf("retried after %s, want >= 1s as Retry-After asked", el)
	}
	if hits.Load() != 2 {
		t.Errorf("attempts = %d, want 2", hits.Load())
	}
}

func TestBackoff(t *testing.T) {
	withRA := func(status int, ra string) *http.Response {
		h := http.Header{}
		if ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	lo, hi := 10*time.Millisecond, 100*time.Millisecond
	cases := []struct {
		name string
		resp *http.Response
		n    int
		want time.Duration
	}{
		{"429 seconds above max", withRA(429, "3"), 0, 3 * time.Second},
		{"503 seconds", withRA(503, "2"), 0, 2 * time.Second},
		{"capped at 60s", withRA(429, "3600"), 0, time.Minute},
		{"zero waits at least min", withRA(429, "0"), 0, lo},
		{"http date", withRA(503, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat)), 0, 30 * time.Second},
		{"500 ignores Retry-After", withRA(500, "30"), 1, 20 * time.Millisecond},
		{"exponential capped by max", withRA(502, ""), 10, hi},
		{"connection error", nil, 2, 40 * time.Millisecond},
	}
	for _, tc := range cases {
		got := backoff(lo, hi, tc.n, tc.resp)
		// The HTTP-date has 1s resolution.
		if got > tc.want || got < tc.want-time.Second || (tc.want < time.Second && got != tc.want) {
			t.Errorf("%s: backoff = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 412, 422} {
		var hits atomic.Int32
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			writeProblem(w, api.Problem{Status: status, Title: http.StatusText(status)})
		})
		_, err := c.CreateModel(context.Background(), "p", api.CreateModelRequest{Name: "m"})
		if err == nil || hits.Load() != 1 {
			t.Errorf("%d: attempts = %d (want 1), err = %v", status, hits.Load(), err)
		}
	}
}

func TestIfMatch(t *testing.T) {
	var got []string
	var had []bool
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		v, ok := r.Header["If-Match"]
		got, had = append(got, strings.Join(v, ",")), append(had, ok)
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, 200, api.Project{Name: "p"})
	})
	ctx := context.Background()
	if _, err := c.UpdateProject(ctx, "p", api.ProjectUpdate{Description: "d"}, 7); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteProject(ctx, "p", 12); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateProject(ctx, "p", api.ProjectUpdate{}, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteProject(ctx, "p", 0); err != nil {
		t.Fatal(err)
	}
	if got[0] != `"7"` || got[1] != `"12"` {
		t.Errorf("If-Match = %q, want quoted generations", got[:2])
	}
	if had[2] || had[3] {
		t.Errorf("ifGeneration 0 must send no If-Match, got %q", got[2:])
	}
}

func TestStaleIfMatchIsPreconditionFailed(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.Problem{Status: 412, Title: "Precondition Failed", Detail: "generation is 8, not 7"})
	})
	_, err := c.UpdateSchedule(context.Background(), "p", "nightly", api.ScheduleSpec{Pipeline: "train"}, 7)
	if !errors.Is(err, ErrPreconditionFailed) || !strings.Contains(err.Error(), "generation is 8, not 7") {
		t.Errorf("err = %v", err)
	}
}

func TestRequestHeaders(t *testing.T) {
	var h http.Header
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		h = r.Header.Clone()
		writeJSON(w, 200, api.Dataset{Name: "d"})
	}, func(cfg *Config) { cfg.UserAgent = "terraform-provider-mlops/1.2.3"; cfg.Token = testToken + "\n" })
	if _, err := c.UpdateDataset(context.Background(), "p", "d", api.DatasetSpec{URI: "file:///x.csv", Format: "csv"}, 0); err != nil {
		t.Fatal(err)
	}
	if got := h.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q (a trailing newline from a token file must be trimmed)", got)
	}
	if h.Get("User-Agent") != "terraform-provider-mlops/1.2.3" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
	if h.Get("Idempotency-Key") != "" {
		t.Error("only POST carries an Idempotency-Key")
	}
}

func TestNoTokenNoAuthorization(t *testing.T) {
	var had bool
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, had = r.Header["Authorization"]
		writeJSON(w, 200, api.List[api.Token]{})
	}, func(cfg *Config) { cfg.Token = "" })
	if _, err := c.ListTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	if had {
		t.Error("an empty token must not send Authorization")
	}
}

func TestListProjectsPagination(t *testing.T) {
	pages := map[string]api.List[api.Project]{
		"":   {Items: []api.Project{{Name: "a"}, {Name: "b"}}, NextPageToken: "t2"},
		"t2": {Items: []api.Project{{Name: "c"}}, NextPageToken: "t3"},
		"t3": {Items: []api.Project{{Name: "d"}}},
	}
	var tokens []string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("page_token")
		tokens = append(tokens, tok)
		page, ok := pages[tok]
		if !ok || r.URL.Path != "/v1/projects" {
			writeProblem(w, api.Problem{Status: 400, Title: "bad page token"})
			return
		}
		writeJSON(w, 200, page)
	})
	got, err := c.ListProjects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "a,b,c,d" || strings.Join(tokens, ",") != ",t2,t3" {
		t.Errorf("names %q, page tokens requested %q", names, tokens)
	}
}

func TestListStopsOnRepeatedPageToken(t *testing.T) {
	var hits atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, 200, api.List[api.Model]{Items: []api.Model{{Name: "m"}}, NextPageToken: "same"})
	})
	if _, err := c.ListModels(context.Background(), "p"); err == nil || hits.Load() != 2 {
		t.Errorf("want an error after 2 pages, got %v after %d", err, hits.Load())
	}
}

func TestPathEscaping(t *testing.T) {
	var got string
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		writeJSON(w, 200, api.ModelAlias{Alias: "x"})
	})
	if _, err := c.GetModelAlias(context.Background(), "my proj", "a/b", "prod?#%"); err != nil {
		t.Fatal(err)
	}
	if want := "/v1/projects/my%20proj/models/a%2Fb/aliases/prod%3F%23%25"; got != want {
		t.Errorf("path = %s, want %s", got, want)
	}
}

func TestEmptyNameIsRefusedLocally(t *testing.T) {
	var hits atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1) // GET /v1/projects/ could otherwise answer with the list
		writeJSON(w, 200, api.List[api.Project]{})
	})
	for _, name := range []string{"", ".", ".."} {
		if _, err := c.GetProject(context.Background(), name); err == nil {
			t.Errorf("GetProject(%q) succeeded", name)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the server", hits.Load())
	}
}

func TestEndpointWithPathPrefix(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		writeJSON(w, 200, api.Project{Name: "p"})
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL + "/mlops/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProject(context.Background(), "p"); err != nil || got != "/mlops/v1/projects/p" {
		t.Errorf("path = %q, err = %v", got, err)
	}
}

func TestNewRejectsBadEndpoint(t *testing.T) {
	cases := map[string]string{
		"":                        "endpoint is required",
		"   ":                     "endpoint is required",
		"mlops.example.com:8080":  "http:// or https://",
		"ftp://mlops.example.com": "http:// or https://",
		"/v1":                     "http:// or https://",
		"https://":                "no host",
		"https://h/?x=1":          "query or fragment",
		"https://h/#frag":         "query or fragment",
		"https://admin:hunter2@h": "credentials",
		"http://h\x7f":            "not a valid URL",
		"https://[::1":            "not a valid URL",
	}
	for endpoint, want := range cases {
		_, err := New(Config{Endpoint: endpoint})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q) = %v, want error containing %q", endpoint, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error echoes a password: %v", err)
		}
	}
	if _, err := New(Config{Endpoint: "https://h", Token: "a b"}); err == nil || strings.Contains(err.Error(), "a b") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := New(Config{Endpoint: "https://h", RetryWaitMin: time.Second, RetryWaitMax: time.Millisecond}); err == nil {
		t.Error("RetryWaitMin > RetryWaitMax accepted")
	}
	if _, err := New(Config{Endpoint: "http://localhost:8080/"}); err != nil {
		t.Errorf("valid endpoint refused: %v", err)
	}
}

func TestConnectionErrorNamesEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close() // nothing listens any more
	c, err := New(Config{Endpoint: endpoint, Token: testToken, RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListProjects(context.Background())
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	for _, want := range []string{endpoint, "3 attempt(s)", "reachable", "GET /v1/projects"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		t.Error("a connection failure is not an *Error")
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetModel(ctx, "p", "m")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %s", err, time.Since(start))
	}
}

func TestReady(t *testing.T) {
	ready := atomic.Bool{}
	c, srv := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if !ready.Load() {
			writeProblem(w, api.Problem{Status: 503, Title: "Service Unavailable", Detail: "database migrating"})
			return
		}
		w.WriteHeader(200)
	}, func(cfg *Config) { cfg.RetryMax = -1 })
	err := c.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "database migrating") {
		t.Errorf("not ready: err = %v", err)
	}
	ready.Store(true)
	if err := c.Ready(context.Background()); err != nil {
		t.Errorf("ready: %v", err)
	}
}

func TestSuccessWithNonJSONBody(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>login</html>") // e.g. an SSO proxy answering 200
	})
	_, err := c.GetPipeline(context.Background(), "p", "train")
	if err == nil || !strings.Contains(err.Error(), "text/html") {
		t.Errorf("err = %v", err)
	}
}

// Terraform runs 10 operations at once: the client must keep that many
// connections open between them instead of dialling anew.
func TestConcurrentRequestsReuseConnections(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // let the round's requests overlap
		writeJSON(w, http.StatusOK, api.Model{Project: "p", Name: "m"})
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(Config{Endpoint: srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	const parallelism, rounds = 10, 5
	for range rounds {
		var wg sync.WaitGroup
		for range parallelism {
			wg.Go(func() {
				if _, err := c.GetModel(context.Background(), "p", "m"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := dials.Load(); n > parallelism {
		t.Errorf("%d rounds of %d concurrent requests opened %d connections, want at most %d", rounds, parallelism, n, parallelism)
	}
}
