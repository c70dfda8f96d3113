package ui_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestPages serves every page over the examples through the whole server
// and checks status, security headers and what each page must say.
func TestPages(t *testing.T) {
	ctx := context.Background()
	s := startSite(t, func(ctx context.Context, st store.Store) {
		storeFiles(ctx, t, st, 0, "../examples/refund-cascade.json", "../examples/refund-ok.json")
	})
	cascade := traceByName(ctx, t, s.st, "refund-cascade")
	cases := []struct {
		path   string
		status int
		want   string
	}{
		{"/", 200, "Failure rate"},
		{"/traces", 200, cascade},
		{"/traces?verdict=fail", 200, cascade},
		{"/traces?verdict=ok", 200, "✔</span> ok"},
		{"/traces?q=refund_order", 200, cascade},
		{"/traces?q=" + cascade, 200, "Blast radius"}, // an id goes straight to its trace
		{"/traces?verdict=bogus", 400, "verdict &#34;bogus&#34;"},
		{"/traces?since=yesterday", 400, "want an RFC 3339 time"},
		{"/traces/" + cascade, 200, "reached side-effecting action refund_order"},
		{"/traces/00000000000000000000000000000000", 404, "not found"},
		{"/compare?a=" + cascade + "&b=" + cascade, 200, "same thing at every step"},
		{"/evals", 200, "No eval runs"},
		{"/evals/nope", 404, ""},
		{"/monitors", 200, "No alerts"},
		{"/approvals", 200, "No call is waiting"},
		{"/assets/style.css", 200, "--high"},
		{"/favicon.ico", 200, "<svg"},
		{"/nowhere", 404, "no page at /nowhere"},
		{"/api/v1/nowhere", 404, "no such endpoint"},
	}
	for _, c := range cases {
		resp, body := get(t, s.base+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("GET %s = %d, want %d", c.path, resp.StatusCode, c.status)
		}
		if !strings.Contains(body, c.want) {
			t.Errorf("GET %s: body lacks %q", c.path, c.want)
		}
		if strings.HasPrefix(c.path, "/api/") {
			continue
		}
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") || strings.Contains(got, "unsafe") {
			t.Errorf("GET %s: CSP %q, want default-src 'self' and nothing unsafe", c.path, got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", c.path, got)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
			t.Errorf("GET %s: page has a script or an inline style, which the CSP forbids", c.path)
		}
	}
}

// TestFeedbackSameOrigin: the feedback form is accepted from the page's own
// origin and refused from any other, as is the API's feedback endpoint.
func TestFeedbackSameOrigin(t *testing.T) {
	ctx := context.Background()
	s := startSite(t, func(ctx context.Context, st store.Store) {
		storeFiles(ctx, t, st, 0, "../examples/refund-cascade.json")
	})
	id := traceByName(ctx, t, s.st, "refund-cascade")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path, ctype, body string, h map[string]string) int {
		req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	form := url.Values{"label": {"incorrect"}, "step": {"8"}, "note": {"wrong"}}.Encode()
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	if got := post("/traces/"+id+"/feedback", "application/x-www-form-urlencoded", form, evil); got != http.StatusForbidden {
		t.Errorf("cross-site form post = %d, want 403", got)
	}
	if got := post("/api/v1/traces/"+id+"/feedback", "text/plain", `{"label":"incorrect"}`, evil); got != http.StatusForbidden {
		t.Errorf("cross-site post to the API = %d, want 403", got)
	}
	same := map[string]string{"Origin": s.base, "Sec-Fetch-Site": "same-origin"}
	if got := post("/traces/"+id+"/feedback", "application/x-www-form-urlencoded", form, same); got != http.StatusSeeOther {
		t.Errorf("same-origin form post = %d, want 303", got)
	}
	if got := post("/traces/"+id+"/feedback", "application/x-www-form-urlencoded", "label=maybe", same); got != http.StatusBadRequest {
		t.Errorf("form post with a bad label = %d, want 400", got)
	}
	fbs, err := s.st.Feedback(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(fbs) != 1 || fbs[0].Label != "incorrect" || fbs[0].Step == nil || *fbs[0].Step != 8 {
		t.Errorf("stored feedback = %+v, want the one same-origin post", fbs)
	}
}

// TestReadOnly: probity view's pages hide the form and refuse posts.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storeFiles(ctx, t, st, 0, "../examples/refund-ok.json")
	p, err := st.ListTraces(ctx, store.Filter{})
	if err != nil || len(p.Traces) != 1 {
		t.Fatalf("list: %+v %v", p, err)
	}
	id := p.Traces[0].TraceID
	u, err := ui.New(ui.Options{Store: st, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: u}
	ln := listen(t)
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	_, body := get(t, base+"/traces/"+id)
	if strings.Contains(body, `<form method="post"`) || !strings.Contains(body, "read-only") {
		t.Errorf("read-only trace page shows the feedback form or does not say it is read-only")
	}
	resp, err := http.PostForm(base+"/traces/"+id+"/feedback", url.Values{"label": {"correct"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("read-only feedback post = %d, want 400", resp.StatusCode)
	}
	if fbs, _ := st.Feedback(ctx, id); len(fbs) != 0 {
		t.Errorf("read-only UI stored feedback: %+v", fbs)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
