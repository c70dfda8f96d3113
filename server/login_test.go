package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

// browserish is an HTTP client that keeps cookies and does not follow
// redirects, so each step of a sign-in can be checked.
func browserish(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// TestBrowserLogin signs a browser in on a server that requires tokens,
// over real HTTP: the login form turns a read token into an HttpOnly,
// SameSite=Strict cookie; the cookie opens the pages but not the API;
// the feedback form needs its anti-forgery token and a same-origin post;
// signing out closes the pages again.
func TestBrowserLogin(t *testing.T) {
	ctx := context.Background()
	tokens, err := server.ParseTokens("tokens.txt", []byte(ingestToken+" ingest\n"+readToken+" read\n"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var trs []*probity.Trace
	if err := ingest.Each(ctx, []string{"../examples/refund-cascade.json"}, ingest.Options{}, func(tr *probity.Trace) error {
		trs = append(trs, tr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.StoreTraces(ctx, db, trs...); err != nil {
		t.Fatal(err)
	}
	p, err := db.ListTraces(ctx, store.Filter{})
	if err != nil || len(p.Traces) != 1 {
		t.Fatalf("stored traces: %v %v", p.Traces, err)
	}
	id := p.Traces[0].TraceID
	pages, err := ui.New(ui.Options{Store: db, Login: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, db, func(o *server.Options) { o.Tokens, o.UI = tokens, pages })
	base := ts.api("")
	html := map[string]string{"Accept": "text/html,application/xhtml+xml"}
	c := browserish(t)

	// Not signed in: a browser is sent to the login page, with the way
	// back; other clients get 401. The login page and its stylesheet are
	// open.
	resp, _ := do(t, c, "GET", base+"/traces?verdict=fail", nil, html)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Ftraces%3Fverdict%3Dfail" {
		t.Errorf("GET /traces signed out: %s to %q, want 303 to the login page", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := do(t, c, "GET", base+"/traces", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /traces from a client that is no browser: %s, want 401", resp.Status)
	}
	resp, body := do(t, c, "GET", base+"/login?next=/traces", nil, html)
	if resp.StatusCode != 200 || !strings.Contains(body, `<form method="post" action="/login"`) || !strings.Contains(body, `name="next" value="/traces"`) {
		t.Errorf("GET /login: %s, want the form:\n%s", resp.Status, body)
	}
	if resp, _ := do(t, c, "GET", base+"/assets/style.css", nil, nil); resp.StatusCode != 200 {
		t.Errorf("GET /assets/style.css signed out: %s, want 200", resp.Status)
	}

	// Tokens that do not open the pages are refused, and no cookie is set.
	for _, bad := range []string{"nope-0123456789abcdef", ingestToken, ""} {
		resp, _ := do(t, c, "POST", base+"/login", url.Values{"token": {bad}, "next": {"/traces"}}, nil)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?failed=1") || len(resp.Cookies()) != 0 {
			t.Errorf("login with %q: %s to %q, cookies %v; want back to the form, no cookie", bad, resp.Status, resp.Header.Get("Location"), resp.Cookies())
		}
	}
	if _, body := do(t, c, "GET", base+"/login?failed=1", nil, html); !strings.Contains(body, "was not accepted") {
		t.Errorf("the login page after a refusal does not say so")
	}
	// A login does not send anyone on to another site.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		resp, _ := do(t, browserish(t), "POST", base+"/login", url.Values{"token": {readToken}, "next": {next}}, nil)
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("login with next=%q goes to %q, want /", next, loc)
		}
	}
	// Another site cannot post the login form (login CSRF).
	if resp, _ := do(t, browserish(t), "POST", base+"/login", url.Values{"token": {readToken}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login post: %s, want 403", resp.Status)
	}

	resp, _ = do(t, c, "POST", base+"/login", url.Values{"token": {"  " + readToken + "\n"}, "next": {"/traces/" + id}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/traces/"+id {
		t.Fatalf("login with the read token: %s to %q, want 303 to the trace", resp.Status, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == ui.SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/" {
		t.Fatalf("session cookie %+v; want HttpOnly, SameSite=Strict, path /, not Secure over plain HTTP", session)
	}

	// Signed in: the pages open, with a sign-out button.
	resp, body = do(t, c, "GET", base+"/traces/"+id, nil, html)
	if resp.StatusCode != 200 || !strings.Contains(body, "Sign out") {
		t.Fatalf("GET the trace signed in: %s", resp.Status)
	}
	m := csrfInput.FindStringSubmatch(body[strings.Index(body, `class="fbform"`):])
	if m == nil {
		t.Fatalf("the feedback form carries no anti-forgery token")
	}
	csrf := m[1]
	// The cookie is for the pages: the API still wants the header.
	if resp, _ := do(t, c, "GET", base+"/api/v1/traces", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API with the session cookie only: %s, want 401", resp.Status)
	}
	if resp, _ := do(t, c, "POST", base+"/api/v1/traces/"+id+"/feedback", nil, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API feedback with the session cookie only: %s, want 401", resp.Status)
	}

	// Feedback: refused without the token, with a wrong one, and from
	// another site even with it; kept with it.
	fb := func(extra url.Values, header map[string]string) int {
		form := url.Values{"label": {"incorrect"}, "step": {"8"}, "note": {"wrong refund"}}
		for k, v := range extra {
			form[k] = v
		}
		resp, _ := do(t, c, "POST", base+"/traces/"+id+"/feedback", form, header)
		return resp.StatusCode
	}
	if st := fb(nil, nil); st != http.StatusForbidden {
		t.Errorf("feedback without the anti-forgery token: %d, want 403", st)
	}
	if st := fb(url.Values{"csrf": {strings.Repeat("0", len(csrf))}}, nil); st != http.StatusForbidden {
		t.Errorf("feedback with a wrong anti-forgery token: %d, want 403", st)
	}
	if st := fb(url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); st != http.StatusForbidden {
		t.Errorf("cross-site feedback with the token: %d, want 403", st)
	}
	fbs, _ := db.Feedback(ctx, id)
	if len(fbs) != 0 {
		t.Fatalf("refused posts stored feedback: %+v", fbs)
	}
	if st := fb(url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-origin"}); st != http.StatusSeeOther {
		t.Errorf("feedback with its token: %d, want 303 back to the trace", st)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/traces/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if !strings.Contains(string(b), `"label":"incorrect"`) || !strings.Contains(string(b), `"wrong refund"`) {
		t.Errorf("API after the form: %s; want the feedback", b)
	}

	// Signing out needs a same-origin post with the form's token, clears
	// the cookie, and the pages close again.
	if resp, _ := do(t, c, "POST", base+"/logout", url.Values{"csrf": {"forged"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout with a wrong token: %s, want 403", resp.Status)
	}
	if resp, _ := do(t, c, "GET", base+"/traces", nil, html); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /traces after a refused sign-out: %s, want 200 (still signed in)", resp.Status)
	}
	resp, _ = do(t, c, "POST", base+"/logout", url.Values{"csrf": {csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %s, want 303", resp.Status)
	}
	if resp, _ := do(t, c, "GET", base+"/traces", nil, html); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /traces after signing out: %s, want 303 to the login page", resp.Status)
	}
	// Behind a proxy that terminates TLS, the cookie is Secure.
	ts2 := start(t, db, func(o *server.Options) { o.Tokens, o.UI, o.ExternalURL = tokens, pages, "https://probity.example.com" })
	resp, _ = do(t, browserish(t), "POST", ts2.api("/login"), url.Values{"token": {readToken}}, nil)
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("cookie behind TLS: %+v, want Secure", cs)
	}
}
