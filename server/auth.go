package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/ui"
)

// Scopes a token may carry.
const (
	// ScopeIngest lets a client send spans (OTLP) and push files.
	ScopeIngest = "ingest"
	// ScopeRead lets a client read traces, analyses, monitors, alerts and
	// metrics, and give feedback.
	ScopeRead = "read"
)

// Tokens are the bearer tokens the server accepts, each with its scopes.
// Only their SHA-256 digests are kept.
type Tokens struct {
	byDigest map[[32]byte]map[string]bool
}

// ParseTokens reads a token file: one token per line, then its scopes
// separated by commas ("s3cret ingest,read"); blank lines and lines
// starting with # are ignored. EINVALID names the file and line.
func ParseTokens(path string, data []byte) (*Tokens, error) {
	t := &Tokens{byDigest: map[[32]byte]map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		bad := func(msg string) error {
			return &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line), Message: msg}
		}
		if len(fields) != 2 {
			return nil, bad(`want "TOKEN SCOPES", e.g. "s3cret ingest,read"`)
		}
		if len(fields[0]) < 16 {
			return nil, bad("token shorter than 16 characters")
		}
		scopes := map[string]bool{}
		for _, s := range strings.Split(fields[1], ",") {
			if s != ScopeIngest && s != ScopeRead {
				return nil, bad(fmt.Sprintf("unknown scope %q (want %s or %s)", s, ScopeIngest, ScopeRead))
			}
			scopes[s] = true
		}
		t.byDigest[sha256.Sum256([]byte(fields[0]))] = scopes
	}
	if err := sc.Err(); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read token file", Err: err}
	}
	if len(t.byDigest) == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "no token in the file"}
	}
	return t, nil
}

// LoadTokens reads a token file (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read token file", Err: err}
	}
	return ParseTokens(path, b)
}

// allows reports whether token carries scope. Digests are compared in
// constant time, so timing does not reveal how much of a token matched.
func (t *Tokens) allows(token, scope string) bool {
	if t == nil {
		return true
	}
	d := sha256.Sum256([]byte(token))
	ok := false
	for k, scopes := range t.byDigest {
		if subtle.ConstantTimeCompare(k[:], d[:]) == 1 && scopes[scope] {
			ok = true
		}
	}
	return ok
}

// bearer returns the token of an "Authorization: Bearer X" value.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireScope wraps h so it answers 401 without a token carrying scope.
func (s *Server) requireScope(scope string, h http.Handler) http.Handler {
	if s.o.Tokens == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.o.Tokens.allows(bearer(r.Header.Get("Authorization")), scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="probity"`)
			writeError(w, &probity.Error{Code: codeUnauthorized, Message: fmt.Sprintf("a bearer token with the %s scope is required", scope)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

const codeUnauthorized = "unauthorized"

// codeForbidden is a request whose credentials are fine but whose form
// lacks its anti-forgery token.
const codeForbidden = "forbidden"

// isLoopback reports whether addr (host:port) binds only loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pageAuth guards the web pages: a bearer token with the read scope, as
// the API takes, or the session cookie a browser got from the login form
// (ui.SessionCookie). The cookie is accepted here only, never by the API,
// so a forged cross-site request cannot spend it there; the pages' own
// forms carry an anti-forgery token (ui.CSRFToken) besides SameSite=Strict
// and the cross-origin check. A browser without either is sent to the
// login page; other clients get 401.
func (s *Server) pageAuth(h http.Handler) http.Handler {
	if s.o.Tokens == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.Tokens.allows(bearer(r.Header.Get("Authorization")), ScopeRead) {
			h.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(ui.SessionCookie); err == nil && s.o.Tokens.allows(c.Value, ScopeRead) {
			h.ServeHTTP(w, r)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="probity"`)
		writeError(w, &probity.Error{Code: codeUnauthorized, Message: "a bearer token with the read scope, or a signed-in browser, is required"})
	})
}

// maxLoginBody bounds the login form.
const maxLoginBody = 4 << 10

// login answers the login form: a token with the read scope becomes the
// session cookie, HttpOnly (no script reads it), SameSite=Strict (no
// other site's request carries it) and Secure when the page came over
// TLS; anything else goes back to the form. The cookie holds the token
// itself, so every replica accepts it and revoking the token (removing
// its line and restarting) ends the session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, probity.Errorf(probity.EINVALID, "login form: %v", err))
		return
	}
	next := ui.SafeNext(r.PostForm.Get("next"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if !s.o.Tokens.allows(token, ScopeRead) {
		s.log.Warn("login refused", "remote", r.RemoteAddr)
		http.Redirect(w, r, "/login?failed=1&next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ui.SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout clears the session cookie. Besides the cross-origin check in
// front of it, the form must carry the session's anti-forgery token, as
// every form that acts on a session does, so no other page can sign a
// person out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, probity.Errorf(probity.EINVALID, "sign-out form: %v", err))
		return
	}
	if !ui.ValidCSRF(r) {
		writeError(w, &probity.Error{Code: codeForbidden, Message: "sign-out form without its anti-forgery token; sign out from a page of this server"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ui.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// secure reports whether the browser reached the server over TLS: here,
// or through a proxy that terminates it for the ExternalURL.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.o.ExternalURL, "https://")
}
