// Package ui is Probity's web UI: server-rendered pages over a store.Store
// that show where a run went wrong, why, and what the error reached.
//
// Pages are html/template with one embedded stylesheet and no script, so
// they read without JavaScript and a strict Content-Security-Policy
// (default-src 'self', no inline script or style) holds on every response.
// Charts, the blast-radius graph included, are SVG drawn on the server.
// Nothing is fetched from elsewhere: every asset is embedded.
//
// Trace text is hostile input: html/template escapes it, bidirectional
// controls are shown as code points (see clean), long fields are cut, and
// long traces are shown in windows of steps. The one form (feedback)
// accepts only same-origin posts.
//
// `probity serve` mounts the Handler at "/" beside its API; `probity view`
// serves it read-only over a temporary store.
package ui

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configure the UI. Store is required.
type Options struct {
	Store store.Store
	// Monitors is where the monitors keep their series and alerts, and
	// MonitorConfig the monitors file they run; nil Monitors means the
	// monitors are off and the pages say so.
	Monitors      monitor.Store
	MonitorConfig *monitor.Config
	// Approvals is where guards that share this store keep the calls
	// they hold for a person (guard serve --db); nil says on the
	// approvals page that no guard shares it.
	Approvals guard.ApprovalStore
	// ApproverToken returns the guard's approver token, which approving
	// or denying on the page requires, as it does through the guard: an
	// agent that can reach the UI cannot approve its own calls. It is
	// read on every answer, so a token the guard makes after the server
	// started counts. nil, or an error, disables answering.
	ApproverToken func() (string, error)
	// ReadOnly hides the feedback form and refuses posts (probity view:
	// its store is thrown away on exit).
	ReadOnly bool
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StepWindow is how many steps one trace page shows (default 1000:
	// the page of a 5,000-step trace is then interactive in well under a
	// second; see BenchmarkBrowserTracePage).
	StepWindow int
	// Login says the server requires tokens, so the login page shows its
	// form (the server answers POST /login; see SessionCookie).
	Login bool
}

// UI serves the pages. It is an http.Handler.
type UI struct {
	o     Options
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	csrf  *http.CrossOriginProtection
}

// csp is the Content-Security-Policy of every response: only this origin,
// no inline script or style, no plugins, no framing, forms post here only.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New parses the templates and returns the UI.
func New(o Options) (*UI, error) {
	if o.Store == nil {
		return nil, errors.New("ui: Options.Store is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StepWindow <= 0 {
		o.StepWindow = 1000
	}
	u := &UI{o: o, log: o.Logger.With("component", "ui"), pages: map[string]*template.Template{}, csrf: http.NewCrossOriginProtection()}
	funcs := template.FuncMap{
		"clean":   clean,
		"cut":     func(n int, s string) string { return cut(s, n) },
		"line":    func(n int, s string) string { return oneLine(s, n) },
		"pct":     func(p float64) string { return fmt.Sprintf("%.1f%%", 100*p) },
		"time":    fmtTime,
		"sev":     severityOf,
		"verdict": verdictOf,
		"short":   shortID,
		"bytes":   bytesText,
		"add":     func(a, b int) int { return a + b },
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", n, err)
		}
		u.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	u.mux = http.NewServeMux()
	u.mux.HandleFunc("GET /{$}", u.overview)
	u.mux.HandleFunc("GET /traces", u.traces)
	u.mux.HandleFunc("GET /traces/{id}", u.trace)
	u.mux.HandleFunc("POST /traces/{id}/feedback", u.feedback)
	u.mux.HandleFunc("GET /compare", u.compare)
	u.mux.HandleFunc("GET /evals", u.evals)
	u.mux.HandleFunc("GET /evals/compare", u.evalCompare)
	u.mux.HandleFunc("GET /evals/{id}", u.evalRun)
	u.mux.HandleFunc("GET /monitors", u.monitors)
	u.mux.HandleFunc("GET /approvals", u.approvals)
	u.mux.HandleFunc("GET /login", u.login)
	u.mux.HandleFunc("POST /approvals/{id}", u.resolveApproval)
	assets, _ := fs.Sub(assetFS, "assets")
	static := http.StripPrefix("/assets/", http.FileServerFS(assets))
	u.mux.Handle("GET /assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		static.ServeHTTP(w, r)
	}))
	// Browsers ask for /favicon.ico whatever the page says; answering it
	// keeps a 404 out of every page's console.
	u.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/assets/icon.svg"
		static.ServeHTTP(w, r2)
	})
	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, probity.Errorf(probity.ENOTFOUND, "no page at %s", r.URL.Path))
	})
	return u, nil
}

// ServeHTTP serves the pages with the security headers every response
// carries, and refuses cross-origin posts.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	u.csrf.Handler(u.mux).ServeHTTP(w, r)
}

// page is what every template gets: the page's own data and the chrome.
type page struct {
	Title    string
	Nav      string
	ReadOnly bool
	// SignedIn shows the sign-out button; CSRF is its form's token.
	SignedIn bool
	CSRF     string
	Data     any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	t := u.pages[name]
	if t == nil {
		u.fail(w, r, fmt.Errorf("no template %s", name))
		return
	}
	var b strings.Builder
	csrf := CSRFToken(r)
	if err := t.Execute(&b, page{Title: title, Nav: name, ReadOnly: u.o.ReadOnly, SignedIn: csrf != "", CSRF: csrf, Data: data}); err != nil {
		u.fail(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, b.String())
}

// errForbidden refuses a request the UI will not serve as asked (a form
// without its anti-forgery token): 403, with the message shown.
type errForbidden string

func (e errForbidden) Error() string { return string(e) }

// fail shows an error page with the status its code maps to.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "internal error; the server log has the details"
	var fb errForbidden
	switch code := probity.ErrorCode(err); {
	case errors.As(err, &fb):
		status, msg = http.StatusForbidden, err.Error()
	case code == probity.ENOTFOUND:
		status, msg = http.StatusNotFound, err.Error()
	case code == probity.EINVALID:
		status, msg = http.StatusBadRequest, err.Error()
	case code == probity.ECONFLICT:
		status, msg = http.StatusConflict, err.Error()
	case code == codeForbidden:
		status, msg = http.StatusForbidden, err.Error()
	default:
		u.log.Error("page", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	t := u.pages["error"]
	if t == nil {
		fmt.Fprint(w, template.HTMLEscapeString(msg))
		return
	}
	t.Execute(w, page{Title: http.StatusText(status), ReadOnly: u.o.ReadOnly, Data: struct {
		Status  int
		Message string
	}{status, msg}})
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func shortID(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// severityView is a severity shown by icon and word, not colour alone.
type severityView struct{ Icon, Word, Class string }

func severityOf(s probity.Severity) severityView {
	switch s {
	case probity.SeverityHigh:
		return severityView{"▲", "high", "sev-high"}
	case probity.SeverityMedium:
		return severityView{"◆", "medium", "sev-medium"}
	case probity.SeverityLow:
		return severityView{"●", "low", "sev-low"}
	}
	return severityView{"○", s.String(), "sev-none"}
}

func verdictOf(v string) severityView {
	switch v {
	case string(probity.VerdictFail):
		return severityView{"✖", "fail", "sev-high"}
	case string(probity.VerdictSuspect):
		return severityView{"◆", "suspect", "sev-medium"}
	case string(probity.VerdictOK):
		return severityView{"✔", "ok", "sev-ok"}
	case store.VerdictError:
		return severityView{"!", "error", "sev-high"}
	}
	return severityView{"…", "pending", "sev-none"}
}
