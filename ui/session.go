package ui

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// SessionCookie is the cookie a browser signs in with when the server
// requires tokens (`probity serve --token-file`): a person pastes a read
// token into the login form and the server sets it here, HttpOnly and
// SameSite=Strict (Secure over TLS), since a browser cannot send an
// Authorization header on its own. The server checks it like a bearer
// token, for the pages only; the API still wants the header.
const SessionCookie = "probity_session"

// CSRFField is the form field that carries a form's anti-forgery token.
const CSRFField = "csrf"

// CSRFToken returns the anti-forgery token the forms of a page must send
// back, or "" when r carries no session cookie (a bearer token or no token
// at all is not ambient authority a forged form could borrow). It is a
// digest of the session, so every replica derives the same one with no
// shared secret, and a page elsewhere, which cannot read the HttpOnly
// cookie, cannot compute it.
func CSRFToken(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	d := sha256.Sum256([]byte("probity csrf\x00" + c.Value))
	return hex.EncodeToString(d[:16])
}

// ValidCSRF reports whether a form posted on r carries the token its page
// was given; true when r carries no session cookie. Call it after
// r.ParseForm.
func ValidCSRF(r *http.Request) bool {
	want := CSRFToken(r)
	if want == "" {
		return true
	}
	got := strings.TrimSpace(r.PostForm.Get(CSRFField))
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginData is what the login page shows.
type loginData struct {
	Next   string
	Failed bool
	Login  bool
}

// login shows the form that signs a browser in with a read token; the
// server answers its post (it holds the tokens).
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u.render(w, r, "login", "Sign in", loginData{Next: SafeNext(q.Get("next")), Failed: q.Get("failed") != "", Login: u.o.Login})
}

// SafeNext returns next when it is a path on this site, else "/": a
// login must not send a person on to another site.
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}
