package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// Paths anyone may call when a token is set: probes and Prometheus, which
// are scraped without credentials on a private port. /readyz then hides why
// it is not ready from callers without the token.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

const (
	// sessionCookie carries the dashboard's sign-in: a MAC of the token,
	// not the token, so the cookie is worthless once the token changes.
	sessionCookie = "bounced_session"
	loginPath     = "/dashboard/login"
	// loginCSP lets the sign-in page be plain HTML with a form to itself.
	loginCSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

// access decides who may call what. The zero value lets everyone in.
type access struct {
	token   []byte // empty: no authentication
	session string // hex MAC of the token: the cookie's value
}

func newAccess(token string) access {
	if token == "" {
		return access{}
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("bounced dashboard session v1"))
	return access{token: []byte(token), session: hex.EncodeToString(m.Sum(nil))}
}

// allows reports whether r carries the token (Authorization: Bearer) or the
// dashboard's session cookie; always true without a token. Both compare in
// constant time; hashing first keeps the token's length out of the timing.
func (a access) allows(r *http.Request) bool {
	if len(a.token) == 0 {
		return true
	}
	if scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && a.matches(strings.TrimSpace(cred)) {
		return true
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.session)) == 1
	}
	return false
}

// matches compares tok with the token in constant time.
func (a access) matches(tok string) bool {
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256(a.token)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// guard requires the token on every path but openPaths and the sign-in
// form. A browser asking for the dashboard page without it gets the form;
// everything else gets 401 with WWW-Authenticate: Bearer.
func (a access) guard(next http.Handler) http.Handler {
	if len(a.token) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == loginPath && r.Method == http.MethodPost:
			a.login(w, r)
		case openPaths[r.URL.Path] || a.allows(r):
			next.ServeHTTP(w, r)
		case (r.URL.Path == "/dashboard" || r.URL.Path == "/dashboard/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			loginForm(w, http.StatusUnauthorized, r.URL.RawQuery, "")
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="bounced"`)
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized: send Authorization: Bearer <http.token>"})
		}
	})
}

// maxLoginBytes bounds the sign-in form's body.
const maxLoginBytes = 4 << 10

// login checks the form's token and, when right, sets the session cookie
// (HttpOnly, SameSite=Strict; Secure over TLS) and sends the browser back
// to the dashboard with the query it first asked for.
func (a access) login(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site sign-in refused"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sign-in: want a form with the token, at most 4 KiB"})
		return
	}
	query := r.PostForm.Get("query")
	if !a.matches(r.PostForm.Get("token")) {
		loginForm(w, http.StatusUnauthorized, query, "That is not the token (http.token).")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.session, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
	next := "/dashboard"
	if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
		next += "?" + q.Encode() // re-encoded: the path stays ours
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>bounced dashboard: sign in</title></head>
<body>
<h1>bounced</h1>
<form method="post" action="/dashboard/login">
{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
<p><label>Token (http.token) <input type="password" name="token" autocomplete="current-password" required autofocus></label></p>
<input type="hidden" name="query" value="{{.Query}}">
<p><button type="submit">Sign in</button></p>
</form>
</body>
</html>
`))

func loginForm(w http.ResponseWriter, code int, query, message string) {
	h := w.Header()
	h.Set("Content-Security-Policy", loginCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("WWW-Authenticate", `Bearer realm="bounced"`)
	w.WriteHeader(code)
	_ = loginPage.Execute(w, struct{ Query, Message string }{query, message})
}

type requestIDKey struct{}

// requestID is the id withRequestID gave r; empty outside it.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives every request a random id, in its context and in the
// X-Request-Id response header, so an error a client reports can be found
// in the log. It also sets the headers every response carries.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		id := hex.EncodeToString(b[:])
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}
