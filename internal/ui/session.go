package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Sessions keep nothing on the server. The cookie holds the token's id, an
// expiry and an HMAC over both and the token's stored hash, signed with the
// session key: never the token. Every request looks the token up again, so a
// revoked token ends its sessions at once, and a changed role or scope
// applies at once; binding the hash in means a leaked session key alone
// cannot mint sessions (token ids are not secret, their hashes are).
const (
	sessionCookie = "mlops_ui_session"
	// csrfCookie carries the login form's anti-forgery value (double submit).
	csrfCookie   = "mlops_ui_csrf"
	maxLoginBody = 8 << 10
)

var errNoSession = errors.New("no valid session")

func (h *handler) mac(id string, exp int64, hash string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("mlops-ui-session\x00" + id + "\x00" + strconv.FormatInt(exp, 10) + "\x00" + hash))
	return m.Sum(nil)
}

func (h *handler) sessionValue(t *store.Token, exp time.Time) string {
	e := exp.Unix()
	enc := base64.RawURLEncoding
	return "v1." + enc.EncodeToString([]byte(t.ID)) + "." + strconv.FormatInt(e, 10) + "." + enc.EncodeToString(h.mac(t.ID, e, t.Hash))
}

// session returns the signed-in token, errNoSession when the cookie is
// missing, malformed, expired, forged or its token was revoked, or a store error.
func (h *handler) session(r *http.Request) (*Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 512 {
		return nil, errNoSession
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return nil, errNoSession
	}
	id, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || len(id) == 0 || h.now().Unix() >= exp {
		return nil, errNoSession
	}
	t, err := h.cfg.Store.TokenByID(r.Context(), string(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(sig, h.mac(t.ID, exp, t.Hash)) {
		return nil, errNoSession
	}
	return &Principal{TokenID: t.ID, Role: t.Role, Project: t.Project}, nil
}

func (h *handler) secure(r *http.Request) bool { return r.TLS != nil || h.cfg.SecureCookies }

func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: int(ttl.Seconds()), Expires: h.now().Add(ttl),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure(r),
	})
}

func (h *handler) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	path := Base
	if name == csrfCookie {
		path = Base + "/login"
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure(r)})
}

type loginData struct {
	pageBase
	Next, CSRF, Error, Notice string
}

func (h *handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := h.session(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d := &loginData{Next: next}
	if r.URL.Query().Has("signed_out") {
		d.Notice = "You are signed out."
	}
	h.renderLogin(w, r, http.StatusOK, d)
}

// renderLogin shows the form with a fresh anti-forgery value, in a cookie
// and in the form: a page on another site can neither read the one nor set
// the other, and SameSite=Strict keeps the cookie off its cross-site posts.
func (h *handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d *loginData) {
	var b [18]byte
	_, _ = rand.Read(b[:])
	d.CSRF = base64.RawURLEncoding.EncodeToString(b[:])
	d.Title = "Sign in"
	h.setCookie(w, r, csrfCookie, d.CSRF, Base+"/login", time.Hour)
	h.render(w, r, status, "login", d)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.errorPage(w, r, http.StatusForbidden, "Sign-in forms are accepted from this dashboard only.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	d := &loginData{Next: safeNext(r.PostForm.Get("next"))}
	c, err := r.Cookie(csrfCookie)
	form := r.PostForm.Get("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		d.Error = "The sign-in form expired; sign in again."
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	if h.cfg.AllowLogin != nil {
		if ok, wait := h.cfg.AllowLogin(r); !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			d.Error = "Too many sign-in attempts from your address; wait " + strconv.Itoa(secs) + " s and try again."
			h.renderLogin(w, r, http.StatusTooManyRequests, d)
			return
		}
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	if secret == "" {
		d.Error = "Paste an API token (from mlopsd token create) to sign in."
		h.renderLogin(w, r, http.StatusBadRequest, d)
		return
	}
	p, err := h.cfg.Authenticate(r.Context(), secret)
	if errors.Is(err, ErrInvalidToken) {
		// The attempt is logged by address only: never the token.
		h.log.WarnContext(r.Context(), "ui: sign-in refused", "remote", remoteHost(r))
		d.Error = "That is not a valid token. Tokens look like mlops_…; an admin can issue one with mlopsd token create."
		h.renderLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	var t *store.Token
	if err == nil {
		t, err = h.cfg.Store.TokenByID(r.Context(), p.TokenID)
	}
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	h.setCookie(w, r, sessionCookie, h.sessionValue(t, h.now().Add(h.ttl)), Base, h.ttl)
	h.clearCookie(w, r, csrfCookie)
	h.log.InfoContext(r.Context(), "ui: signed in", "token_id", t.ID, "role", t.Role, "project", t.Project)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.errorPage(w, r, http.StatusForbidden, "Sign-out is accepted from this dashboard only.")
		return
	}
	h.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, Base+"/login?signed_out=1", http.StatusSeeOther)
}

// sameOrigin refuses form posts a browser says came from another site.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// safeNext keeps the post-login redirect on the dashboard.
func safeNext(next string) string {
	ok := strings.HasPrefix(next, Base+"/") && !strings.HasPrefix(next, Base+"/login") &&
		!strings.ContainsAny(next, "\\\r\n") && !strings.Contains(next, "//") && !strings.Contains(next, "/..")
	if next == Base || ok {
		return next
	}
	return Base + "/"
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
