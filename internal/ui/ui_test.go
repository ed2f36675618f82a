package ui_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
)

func TestSignInAndOut(t *testing.T) {
	s := newSite(t)
	b := s.browser()

	// Anyone not signed in is sent to the form, and back afterwards.
	res := b.get("/ui/p/default/models/churn")
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/p/default/models/churn") {
		t.Fatalf("not signed in: %d %v", res.status, res.header)
	}
	form := b.get(res.header.Get("Location")).want(t, http.StatusOK, "Sign in to mlopsd", `name="token"`, `type="password"`)
	csrf := csrfRE.FindStringSubmatch(form.body)[1]
	next := "/ui/p/default/models/churn"

	// A wrong token is refused, saying what a token looks like; no session is made.
	b.post("/ui/login", url.Values{"csrf": {csrf}, "token": {"mlops_not-a-real-token"}, "next": {next}}).
		want(t, http.StatusUnauthorized, "not a valid token", "mlopsd token create").
		wantNot(t, "mlops_not-a-real-token")
	if b.cookies["mlops_ui_session"] != nil {
		t.Fatal("a refused sign-in set a session cookie")
	}

	csrf = csrfRE.FindStringSubmatch(b.get("/ui/login").body)[1]
	res = b.post("/ui/login", url.Values{"csrf": {csrf}, "token": {s.viewer}, "next": {next}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != next {
		t.Fatalf("sign-in: %d %v %s", res.status, res.header, res.body)
	}
	c := b.cookies["mlops_ui_session"]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui" || c.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui, not Secure over plain HTTP", c)
	}
	secret := strings.TrimPrefix(s.viewer, server.TokenPrefix)
	if strings.Contains(c.Value, secret) || strings.Contains(c.Value, server.HashToken(s.viewer)) {
		t.Fatalf("the cookie carries the token or its hash: %s", c.Value)
	}
	b.get(next).want(t, http.StatusOK, "Model churn", "Signed in: viewer, project default", "Sign out")

	// Signing out drops the cookie; the pages ask for a sign-in again.
	res = b.post("/ui/logout", nil)
	if res.status != http.StatusSeeOther || b.cookies["mlops_ui_session"] != nil {
		t.Fatalf("sign-out: %d, cookies %v", res.status, b.cookies)
	}
	b.get(res.header.Get("Location")).want(t, http.StatusOK, "You are signed out.")
	if res := b.get("/ui/"); res.status != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", res.status)
	}
}

func TestSignInIsProtected(t *testing.T) {
	s := newSite(t, func(c *server.Config) { c.RateLimit = server.RateLimit{PerSecond: 0.01, Burst: 3} })
	b := s.browser()
	csrf := csrfRE.FindStringSubmatch(b.get("/ui/login").body)[1]
	good := url.Values{"csrf": {csrf}, "token": {s.viewer}}

	// A form posted from another site is refused, whatever it carries.
	b.post("/ui/login", good, "Origin", "https://evil.example").want(t, http.StatusForbidden)
	b.post("/ui/login", good, "Sec-Fetch-Site", "cross-site").want(t, http.StatusForbidden)
	// Without the form's anti-forgery value (a forged form cannot read it) too.
	b.post("/ui/login", url.Values{"token": {s.viewer}}).want(t, http.StatusForbidden, "expired")
	b.post("/ui/login", url.Values{"csrf": {"guess"}, "token": {s.viewer}}).want(t, http.StatusForbidden)
	if b.cookies["mlops_ui_session"] != nil {
		t.Fatal("a forged sign-in set a session cookie")
	}

	// Guessing tokens through the form meets the API's per-address rate limit.
	var last page
	for range 4 {
		csrf = csrfRE.FindStringSubmatch(b.get("/ui/login").body)[1]
		last = b.post("/ui/login", url.Values{"csrf": {csrf}, "token": {"mlops_guess"}})
	}
	last.want(t, http.StatusTooManyRequests, "Too many sign-in attempts")
	if last.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	// The redirect after sign-in stays on the dashboard.
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/ui/../v1/tokens", "/v1/tokens", "/ui/login"} {
		b := newSite(t).browser()
		csrf := csrfRE.FindStringSubmatch(b.get("/ui/login").body)[1]
		res := b.post("/ui/login", url.Values{"csrf": {csrf}, "token": {b.s.viewer}, "next": {next}})
		if loc := res.header.Get("Location"); loc != "/ui/" {
			t.Errorf("next %q: redirected to %q", next, loc)
		}
	}
}

// Cookies are Secure over TLS, and behind a TLS proxy (an https external URL).
func TestCookiesAreSecureOverHTTPS(t *testing.T) {
	signIn := func(s *site, tlsConn bool) *http.Cookie {
		b := s.browser()
		csrf := csrfRE.FindStringSubmatch(b.get("/ui/login").body)[1]
		req := httptest.NewRequest(http.MethodPost, "/ui/login", strings.NewReader(url.Values{"csrf": {csrf}, "token": {s.viewer}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tlsConn {
			req.TLS = &tls.ConnectionState{}
		}
		b.do(req)
		return b.cookies["mlops_ui_session"]
	}
	if c := signIn(newSite(t), true); c == nil || !c.Secure {
		t.Errorf("over TLS: %+v", c)
	}
	proxied := newSite(t, func(c *server.Config) { c.ExternalURL = "https://mlops.example.com" })
	if c := signIn(proxied, false); c == nil || !c.Secure {
		t.Errorf("behind an https proxy: %+v", c)
	}
}

// A cookie that was altered, signed with another key, has expired or whose
// token was revoked sends the browser back to the form.
func TestBadSessionsGoBackToSignIn(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.admin)
	b.get("/ui/").want(t, http.StatusOK)
	good := *b.cookies["mlops_ui_session"]

	tamper := func(change func(parts []string)) *http.Cookie {
		c := good
		parts := strings.Split(c.Value, ".")
		change(parts)
		c.Value = strings.Join(parts, ".")
		return &c
	}
	// The admin's id in a viewer's cookie: the signature no longer matches.
	viewerID := tokenID(t, s, s.viewer)
	cases := map[string]*http.Cookie{
		"garbage":       {Name: "mlops_ui_session", Value: "nonsense"},
		"other token":   tamper(func(p []string) { p[1] = b64(viewerID) }),
		"later expiry":  tamper(func(p []string) { p[2] = "99999999999" }),
		"bad signature": tamper(func(p []string) { p[3] = p[3][:len(p[3])-2] + "AA" }),
	}
	// A cookie signed by another server (its own random key) for the same token.
	other := newSiteOn(t, s)
	ob := other.browser()
	ob.login(s.admin)
	cases["another key"] = ob.cookies["mlops_ui_session"]

	for name, c := range cases {
		b := s.browser()
		b.cookies["mlops_ui_session"] = c
		res := b.get("/ui/p/default")
		if res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/ui/login?next=") {
			t.Errorf("%s: %d %v", name, res.status, res.header.Get("Location"))
		}
		if b.cookies["mlops_ui_session"] != nil {
			t.Errorf("%s: the bad cookie was not cleared", name)
		}
	}

	// Revoking the token ends its sessions at once.
	if err := s.st.DeleteToken(context.Background(), tokenID(t, s, s.admin)); err != nil {
		t.Fatal(err)
	}
	if res := b.get("/ui/"); res.status != http.StatusSeeOther {
		t.Fatalf("revoked token: %d", res.status)
	}
}

func TestScopedTokenSeesItsProjectOnly(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	b.get("/ui/").want(t, http.StatusOK, `href="/ui/p/default"`).wantNot(t, "other")
	for _, path := range []string{"/ui/p/other", "/ui/p/other/pipelines/secret-pipeline", "/ui/p/other/pipelines", "/ui/p/nope/models/x"} {
		res := b.get(path).want(t, http.StatusForbidden, "may not read project")
		res.wantNot(t, "secret-pipeline", "Someone else")
	}
	// An admin sees every project.
	a := s.browser()
	a.login(s.admin)
	a.get("/ui/").want(t, http.StatusOK, `href="/ui/p/default"`, `href="/ui/p/other"`, "Someone else&#39;s")
	a.get("/ui/p/other/pipelines/secret-pipeline").want(t, http.StatusOK, "secret-pipeline")
	a.get("/ui/p/nope").want(t, http.StatusNotFound, `Project &#34;nope&#34; does not exist.`)
}

func TestProjectPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	res := b.get("/ui/p/default").want(t, http.StatusOK, "Project default",
		`href="/ui/p/default/pipelines/train"`, "Trains the churn model", `href="/ui/p/default/pipelines/train/runs/3"`,
		`href="/ui/p/default/models/churn"`, "champion → v1", `href="/ui/p/default/models/churn/versions/2"`,
		`href="/ui/p/default/monitors/churn-drift"`, `<span class="badge s-drifting">drifting</span>`,
		`href="/ui/p/default/deployments/churn-api"`, "v2 at 10%")
	res.order(t, "Pipelines", "Models", "Monitors", "Deployments")
	b.get("/ui/p/default/models").want(t, http.StatusOK, "Models of default", `href="/ui/p/default/models/churn"`).
		wantNot(t, "No models")
}

func TestPipelinePage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	res := b.get("/ui/p/default/pipelines/train").want(t, http.StatusOK,
		"Pipeline train", "revision 1", "Trains the churn model", "customers", "alias champion", "epochs",
		// The DAG: every step, and an arrow into each dependant.
		`<svg class="graph" id="dag"`, ">load</text>", ">features</text>", ">fit</text>", ">evaluate</text>", ">report</text>",
		"python fit.py", `marker-end="url(#dag-arrow)"`,
		// Runs, newest first, with their states and what they registered.
		`<span class="badge s-running">running</span>`, `<span class="badge s-failed">failed</span>`,
		`href="/ui/p/default/models/churn/versions/1">churn v1</a>`, `title="fit: failed"`)
	res.order(t, `runs/3">#3`, `runs/2">#2`, `runs/1">#1`)
	if n := strings.Count(res.body, `marker-end=`); n != 4 {
		t.Errorf("%d arrows, want 4 (features, fit, evaluate, report each have one dependency)", n)
	}
	b.get("/ui/p/default/pipelines/nope").want(t, http.StatusNotFound, `Pipeline &#34;nope&#34; is not in project &#34;default&#34;.`)
}

func TestRunPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	b.get("/ui/p/default/pipelines/train/runs/1").want(t, http.StatusOK,
		"Run 1 of", `<span class="badge s-failed">failed</span>`, `step &#34;fit&#34; failed: exit status 1`,
		// Each step drawn in its state, linking to its log.
		`<g class="node state-failed"><a href="#step-fit">`, `<g class="node state-skipped"><a href="#step-evaluate">`,
		`<g class="node state-succeeded"><a href="#step-load">`,
		"ValueError: column age has NaN", "customers", "version 3")
	res := b.get("/ui/p/default/pipelines/train/runs/2").want(t, http.StatusOK,
		"epoch 2 loss=0.41", `href="/ui/p/default/models/churn/versions/1">churn version 1`, "moved alias champion to this version",
		// Log text is shown as text, never as markup.
		"&lt;script&gt;alert(1)&lt;/script&gt;")
	res.wantNot(t, "<script>")
	b.get("/ui/p/default/pipelines/train/runs/3").want(t, http.StatusOK, `<g class="node state-running">`, `<g class="node state-pending">`)
	b.get("/ui/p/default/pipelines/train/runs/99").want(t, http.StatusNotFound, "has no run 99")
	b.get("/ui/p/default/pipelines/train/runs/x").want(t, http.StatusNotFound)
}

func TestModelPages(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	res := b.get("/ui/p/default/models/churn").want(t, http.StatusOK,
		"Model churn", "Predicts churn", "auc", "&gt;= 0.8", // the gate
		`<span class="alias">champion</span> → <a href="/ui/p/default/models/churn/versions/1">version 1</a>`,
		"0.8312", "0.7634", "passes 1/1", "fails auc &gt;= 0.8")
	res.order(t, `versions/2">v2`, `versions/1">v1`)

	b.get("/ui/p/default/models/churn/versions/1").want(t, http.StatusOK,
		"churn version 1", "file:///models/churn-1.json", `<span class="badge s-passed">passed</span>`,
		// The lineage: dataset → run → version → deployment → monitor.
		`<svg class="graph" id="lineage"`, ">customers</text>", "dataset · version 3",
		`<a href="/ui/p/default/pipelines/train/runs/2">`, ">train #2</text>", "run · succeeded",
		">churn v1</text>", "model version · champion",
		`<a href="/ui/p/default/deployments/churn-api">`, "deployment · stable 90%",
		`<a href="/ui/p/default/monitors/churn-drift">`, "monitor · drifting")
	b.get("/ui/p/default/models/churn/versions/2").want(t, http.StatusOK,
		`<span class="badge s-failed">failed</span>`, "deployment · canary 10%").wantNot(t, ">train #2</text>")
	b.get("/ui/p/default/models/churn/versions/7").want(t, http.StatusNotFound, "has no version 7")
}

func TestMonitorPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	res := b.get("/ui/p/default/monitors/churn-drift").want(t, http.StatusOK,
		"Monitor churn-drift", `<span class="badge s-drifting">drifting</span>`,
		`href="/ui/p/default/deployments/churn-api">churn-api`, "https://hooks.example.com/x (signed)",
		// One chart per feature with its threshold line drawn.
		`<figure class="chart" id="chart-0">`, "<strong>age</strong>", "<strong>plan</strong>",
		`class="threshold"`, `stroke="`+"#e8590c"+`"`, "threshold 0.1", `class="pt-drifting"`,
		"latest 0.27", "evaluation 6, 2025-03-14 15:00:01: psi = 0.27 (drifting, threshold 0.1)",
		// The latest evaluation per feature, and every evaluation.
		"Latest evaluation", "1 of 2 judged features drifted", `href="/ui/p/default/pipelines/train/runs/3">train #3`)
	res.wantNot(t, "hook-secret-value")
	if n := strings.Count(res.body, "<circle "); n != 12 {
		t.Errorf("%d points, want 6 evaluations × 2 features", n)
	}
}

func TestDeploymentPage(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	b.login(s.viewer)
	res := b.get("/ui/p/default/deployments/churn-api").want(t, http.StatusOK,
		"Deployment churn-api", `<span class="badge s-progressing">progressing</span>`, "canary at 10%: 12 requests, 0% errors",
		"following alias", "http://mlops.example.com/v1/projects/default/deployments/churn-api",
		"canary through 10%, 50%, 1m per step",
		// Traffic weights as a bar with its legend.
		`aria-label="Traffic: stable 90%, canary 10%"`, "stable v1: 90%", "canary v2: 10%",
		// The rollout timeline, newest first.
		"starting version 1", "environment API_KEY")
	res.order(t, "2025-03-14 12:00:00Z", "2025-03-14 10:01:00Z", "2025-03-14 10:00:00Z")
	res.wantNot(t, "hunter2-deploy-secret")
}

func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	for _, path := range []string{"/ui/login", "/ui/"} {
		h := b.get(path).header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	b.login(s.viewer)
	res := b.get("/ui/p/default")
	if res.header.Get("Cache-Control") != "no-store" || res.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", res.header)
	}
	css := b.get("/ui/static/style.css").want(t, http.StatusOK, "svg.drift")
	if ct := css.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("stylesheet served as %q", ct)
	}
	b.get("/ui/no/such/page").want(t, http.StatusNotFound, "There is no page at /ui/no/such/page")
}

func tokenID(t *testing.T, s *site, secret string) string {
	t.Helper()
	tok, err := s.st.TokenByHash(context.Background(), server.HashToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID
}

// newSiteOn is a second server (its own session key) over the same store.
func newSiteOn(t *testing.T, s *site) *site {
	t.Helper()
	srv, err := server.New(context.Background(), server.Config{Store: s.st})
	if err != nil {
		t.Fatal(err)
	}
	return &site{t: t, st: s.st, handler: srv.Handler(), admin: s.admin, viewer: s.viewer}
}
