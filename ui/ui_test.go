package ui_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/monitor"
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

// plantChange runs the default monitors over a day of checkout traffic
// whose failure rate rises from 5% to 25% half-way, on the store's own
// monitor state, so the monitors page has a real history and a real
// alert to draw. It returns the alert.
func plantChange(ctx context.Context, t *testing.T, st store.Store) monitor.Alert {
	t.Helper()
	ms := st.(*sqlite.DB).MonitorState()
	e, err := monitor.New(monitor.Options{Store: ms, BucketWidth: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 1))
	start := time.Now().UTC().Add(-36 * time.Hour).Truncate(time.Hour)
	fired := -1
	for i := 0; i < 4000 && (fired < 0 || i < fired+400); i++ {
		rate := 0.05
		if i >= 2000 {
			rate = 0.25
		}
		v := probity.VerdictOK
		if rng.Float64() < rate {
			v = probity.VerdictFail
		}
		o := monitor.Observation{TraceID: fmt.Sprintf("%032x", i), Time: start.Add(time.Duration(i) * 20 * time.Second), Verdict: v,
			Attrs: map[string]string{monitor.AttrService: "checkout", monitor.AttrAgent: "planner"}}
		if err := e.Observe(ctx, o); err != nil {
			t.Fatal(err)
		}
		if fired < 0 && i%50 == 0 {
			if as, _ := ms.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring}); len(as) > 0 {
				fired = i
			}
		}
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	as, err := ms.Alerts(ctx, monitor.AlertQuery{})
	if err != nil || len(as) != 1 {
		t.Fatalf("planted change raised %d alerts (%v), want 1", len(as), err)
	}
	return as[0]
}

// TestMonitorsPage draws each series' rate over time, with its interval
// band, baseline and the alert's changepoint linked to the alert and its
// example traces.
func TestMonitorsPage(t *testing.T) {
	var a monitor.Alert
	s := startSite(t, func(ctx context.Context, st store.Store) { a = plantChange(ctx, t, st) })
	resp, body := get(t, s.base+"/monitors")
	if resp.StatusCode != 200 {
		t.Fatalf("/monitors: %s", resp.Status)
	}
	series := body[strings.Index(body, `id="r-h"`):strings.Index(body, `id="a-h"`)]
	for _, want := range []string{
		`<article class="series" id="series-0"`, "failure-rate", "gen_ai.agent.name=planner", "service.name=checkout",
		`<polygon class="band" points="`, `<polyline class="line" points="`, `<path class="ref baseline" d="M`,
		`<a href="#alert-` + a.ID + `"><rect class="cpband"`, `<line class="change"`, `href="/traces/` + a.Examples[0] + `"`,
	} {
		if !strings.Contains(series, want) {
			t.Errorf("monitors page's rates over time lack %q", want)
		}
	}
	first := func(page string) string {
		c := page[strings.Index(page, `id="series-0"`):]
		return c[:strings.Index(c, "</article>")]
	}
	if c := first(series); !strings.Contains(c, "failure-rate") {
		t.Errorf("the first chart is not the failure rate's:\n%s", c)
	} else if n := strings.Count(c, `<circle class="pt"`); n < 20 || n > 150 {
		t.Errorf("the chart draws %d points, want the buckets merged to at most 150", n)
	}
	if !strings.Contains(body, `<article id="alert-`+a.ID+`" class="alert">`) {
		t.Errorf("the changepoint links to #alert-%s, which the page does not have", a.ID)
	}
	if resp, body := get(t, s.base+"/monitors?since=forever"); resp.StatusCode != 400 || !strings.Contains(body, "want 24h, 7d, 30d or all") {
		t.Errorf("/monitors?since=forever: %s, want 400 naming the choices", resp.Status)
	}
	// The last day holds only part of the history.
	_, day := get(t, s.base+"/monitors?since=24h")
	if n, all := strings.Count(first(day), `<circle class="pt"`), strings.Count(first(series), `<circle class="pt"`); n == 0 || n >= all {
		t.Errorf("the last 24 hours draw %d points of %d; want fewer, not none", n, all)
	}
}

// TestStepWindows: a trace longer than the window opens at the window
// with its root cause, and every link to a step (root cause, findings,
// blast radius) leads to the window that shows it.
func TestStepWindows(t *testing.T) {
	ctx := context.Background()
	s := startSiteWith(t, func(o *ui.Options) { o.StepWindow = 4 }, func(ctx context.Context, st store.Store) {
		storeFiles(ctx, t, st, 0, "../examples/refund-cascade.json")
	})
	id := traceByName(ctx, t, s.st, "refund-cascade")
	_, body := get(t, s.base+"/traces/"+id)
	for _, want := range []string{`id="step-8"`, "Steps 9–12 of", `href="/traces/` + id + `?from=4">← earlier steps`, `href="#step-8">step 8</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("trace page without a window asked for lacks %q: it should open at the root cause's window", want)
		}
	}
	_, body = get(t, s.base+"/traces/"+id+"?from=0")
	if strings.Contains(body, `id="step-8"`) {
		t.Errorf("the first window shows step 8")
	}
	for _, want := range []string{`href="/traces/` + id + `?from=8#step-8">step 8</a>`, `href="/traces/` + id + `?from=12#step-12"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the first window's links lack %q, a link to the window with the step", want)
		}
	}
}
