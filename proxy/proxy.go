package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/proxy/cassette"
)

// RunHeader is the request header that names the run an exchange belongs
// to. The proxy strips it before forwarding.
const RunHeader = "X-Probity-Run"

// RunPathPrefix starts a request path that names its run, for agents that
// cannot set headers: a base URL of http://127.0.0.1:8080/_probity/run/r7/v1
// puts every call of that agent into run "r7". The prefix is stripped before
// forwarding.
const RunPathPrefix = "/_probity/run/"

// GuardFunc decides whether the agent may see a tool call the model asked
// for. It is called once per tool call in a model response, before the
// response reaches the agent. When it returns allow=false the call is
// replaced by a refusal the model can read: message is shown in its place
// (see Options.Guard).
type GuardFunc func(ctx context.Context, run string, call probity.ToolCall) (allow bool, message string)

// AutoUpstream as Options.Upstream sends Anthropic Messages requests
// (those with an Anthropic-Version header, or to /v1/messages) to
// AnthropicUpstream and everything else to OpenAIUpstream, so one proxy
// serves an agent that uses both.
const AutoUpstream = "auto"

// The upstreams AutoUpstream chooses between.
const (
	OpenAIUpstream    = "https://api.openai.com"
	AnthropicUpstream = "https://api.anthropic.com"
)

// Options configures a Proxy. Only Upstream is required.
type Options struct {
	// Upstream is the base URL requests are forwarded to, such as
	// https://api.openai.com. A path in it is joined in front of the
	// request path unless the request path already starts with it.
	Upstream string
	// RecordDir, when set, is where cassettes (RecordDir/cassettes/<run>.json)
	// and rebuilt traces (RecordDir/traces/<run>.json) are written.
	RecordDir string
	// Logger receives one line per exchange; it never sees headers, query
	// strings or bodies. Nil discards.
	Logger *slog.Logger
	// RedactHeaders are header names redacted in addition to the built-in
	// list (Authorization, X-Api-Key, Api-Key, Cookie, ...).
	RedactHeaders []string
	// RedactFields are JSON object keys whose values are redacted wherever
	// they appear in recorded request and response bodies.
	RedactFields []string
	// Redactor, when set, is used instead of one built from RedactHeaders
	// and RedactFields: give the guard's audit log the same one, so a key
	// the proxy saw in a request is scrubbed from the audit log too.
	Redactor *redact.Redactor
	// Guard, when set, is called on each tool call in a model response
	// (OpenAI Chat Completions and Responses, Anthropic Messages;
	// streaming or not) before the agent sees it. A denied call is removed
	// and the refusal message is put in its place as assistant text, so
	// the agent's model reads why. For streams, the deltas of a choice's
	// tool calls are held until the call is complete, then released
	// unchanged or replaced by the refusal; text deltas flow as before.
	//
	// The guard fails closed: a success response it cannot fully read and
	// check (an encoding it cannot decode, a body or event that is not the
	// API's shape, a stream that ends inside a tool call) is not passed
	// on. The agent gets an error (RefusedCode) naming the reason, a
	// stream ends with an error event, and Refused is told.
	Guard GuardFunc
	// Refused, when set, is told of every response the guard refused
	// because it could not check it, with the reason: the audit log's
	// hook.
	Refused func(ctx context.Context, run, reason string)
	// Transport performs upstream requests; nil uses a tuned
	// http.Transport that passes compressed bodies through untouched.
	Transport http.RoundTripper
	// ResponseTimeout bounds the wait for the upstream's response headers
	// (default 10 minutes, as model calls can be slow); StreamIdleTimeout
	// bounds the silence between two reads of a response body (default 5
	// minutes). Either expiring answers 504 or ends the stream.
	ResponseTimeout   time.Duration
	StreamIdleTimeout time.Duration
	// MaxRecordBody caps the bytes of one body kept for the recording
	// (default 64 MiB); longer bodies are still proxied in full and the
	// cassette marks them truncated.
	MaxRecordBody int64
	// FS writes recording files; nil writes to the operating system's
	// file system. Tests inject failures through it.
	FS FS
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// OnTrace, when set, is told each time a run's rebuilt trace has been
	// written to RecordDir (path is TracePath(RecordDir, run)): the hook of
	// proxy --report-to. It is called from the recorder's writer, off the
	// request path, and must return quickly.
	OnTrace func(run, path string)
}

// Stats counts what a Proxy did, for logs and tests.
type Stats struct {
	Requests       int64 // requests received
	UpstreamErrors int64 // requests answered 502/504 because the upstream failed
	Recorded       int64 // exchanges written to a cassette
	WriteErrors    int64 // failed cassette or trace writes
}

// Proxy is a recording reverse proxy for model APIs. It is an
// http.Handler; serve it with Serve or any http.Server.
type Proxy struct {
	opts      Options
	upstream  *url.URL
	auto      bool
	transport http.RoundTripper
	log       *slog.Logger
	rec       *recorder
	redact    *redact.Redactor

	requests, upstreamErrors atomic.Int64
	// active counts requests being served: their exchanges reach the
	// recorder only when they end, so Flush waits for them first.
	active atomic.Int64
}

// New returns a Proxy for opts. Close it to flush the recording.
func New(opts Options) (*Proxy, error) {
	up := opts.Upstream
	if up == AutoUpstream {
		up = OpenAIUpstream
	}
	u, err := url.Parse(up)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, probity.Errorf(probity.EINVALID, "upstream %q is not an http(s) URL", opts.Upstream)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ResponseTimeout <= 0 {
		opts.ResponseTimeout = 10 * time.Minute
	}
	if opts.StreamIdleTimeout <= 0 {
		opts.StreamIdleTimeout = 5 * time.Minute
	}
	if opts.MaxRecordBody <= 0 {
		opts.MaxRecordBody = 64 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	p := &Proxy{opts: opts, upstream: u, auto: opts.Upstream == AutoUpstream, log: opts.Logger.With("component", "proxy"),
		redact: newRedactor(opts)}
	// A password or key in the upstream URL is a credential like any
	// other: learned, so it is scrubbed wherever it would be written.
	safeUpstream := p.redact.URL(u.String())
	p.transport = opts.Transport
	if p.transport == nil {
		p.transport = NewTransport(opts.ResponseTimeout)
	}
	if opts.RecordDir != "" {
		p.rec, err = newRecorder(opts.RecordDir, opts.FS, p.redact, safeUpstream, opts.Now, p.log)
		if err != nil {
			return nil, err
		}
		p.rec.onTrace = opts.OnTrace
	}
	return p, nil
}

// NewTransport returns the transport the proxy uses by default: no
// transparent decompression (bodies pass through as the upstream sent
// them), bounded dial and header waits, and enough idle connections for a
// busy agent fleet.
func NewTransport(responseTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: responseTimeout,
	}
}

// Redactor returns the redactor of everything the proxy writes, with the
// credential values it has learned so far.
func (p *Proxy) Redactor() *redact.Redactor { return p.redact }

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() Stats {
	s := Stats{Requests: p.requests.Load(), UpstreamErrors: p.upstreamErrors.Load()}
	if p.rec != nil {
		s.Recorded, s.WriteErrors = p.rec.recorded.Load(), p.rec.writeErrors.Load()
	}
	return s
}

// Flush waits until every exchange received so far is written (or its
// write failed), or ctx ends.
func (p *Proxy) Flush(ctx context.Context) error {
	if p.rec == nil {
		return nil
	}
	for p.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush recording: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return p.rec.flush(ctx)
}

// Close flushes the recording and stops the background writer.
func (p *Proxy) Close(ctx context.Context) error {
	if p.rec == nil {
		return nil
	}
	return p.rec.close(ctx)
}

// Runs returns the ids of the runs recorded so far, in order of first
// request.
func (p *Proxy) Runs() []string {
	if p.rec == nil {
		return nil
	}
	return p.rec.runIDs()
}

// hopHeaders are connection-level headers a proxy must not forward.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, f := range src["Connection"] {
		for _, k := range strings.Split(f, ",") {
			dst.Del(strings.TrimSpace(k))
		}
	}
	for _, k := range hopHeaders {
		dst.Del(k)
	}
}

// splitRun removes the run prefix from path and returns the run it names.
func splitRun(path string) (run, rest string) {
	if !strings.HasPrefix(path, RunPathPrefix) {
		return "", path
	}
	s := path[len(RunPathPrefix):]
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, "/"
	}
	return s[:i], s[i:]
}

// exchange is one finished request/response on its way to the recorder.
type exchange struct {
	run         string // from header or path; "" means group by conversation
	start       time.Time
	dur, ttfb   time.Duration
	method      string
	path, query string
	reqHeader   http.Header
	reqBody     []byte
	status      int // 0 when no response was received
	respHeader  http.Header
	respBody    []byte
	respSize    int64
	truncated   bool
	stream      bool
	err         string
	guard       []cassette.GuardDecision
	ready       bool // set by the recorder's complete, under its lock
}

const maxRequestBody = 64 << 20

// ServeHTTP forwards one request to the upstream and streams the answer
// back.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.active.Add(1)
	defer p.active.Add(-1)
	start := p.opts.Now()
	run, path := splitRun(r.URL.Path)
	if h := r.Header.Get(RunHeader); h != "" && run == "" {
		run = h
	}
	ex := &exchange{run: sanitizeRun(run), start: start, method: r.Method, path: path, query: r.URL.RawQuery,
		reqHeader: r.Header.Clone()}
	// Learn the request's credentials now, not when it is recorded: the
	// guard audits the response's tool calls before that, and a model may
	// put the key into a call's arguments.
	p.redact.LearnHeader(r.Header)
	p.redact.Query(r.URL.RawQuery)
	if p.rec != nil {
		p.rec.reserve(ex)
	}
	defer func() {
		ex.dur = p.opts.Now().Sub(start)
		p.log.Info("exchange", "method", ex.method, "path", ex.path, "run", ex.run, "status", ex.status,
			"ms", float64(ex.dur.Microseconds())/1000, "error", ex.err)
		if p.rec != nil {
			p.rec.complete(ex)
		}
	}()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		ex.err = "reading request body: " + err.Error()
		writeError(w, http.StatusBadRequest, "probity_bad_request", ex.err)
		ex.status = http.StatusBadRequest
		return
	}
	ex.reqBody = body
	p.forward(w, r, ex, path)
}

// forward sends ex's request upstream and copies the response to w. It is
// shared with the replay server's fork mode.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, ex *exchange, path string) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	base := p.upstream
	if p.auto && (r.Header.Get("Anthropic-Version") != "" || path == "/v1/messages" || path == "/v1/messages/count_tokens") {
		base, _ = url.Parse(AnthropicUpstream)
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, upstreamURL(base, path, r.URL.RawQuery), bytes.NewReader(ex.reqBody))
	if err != nil {
		ex.err = err.Error()
		ex.status = http.StatusBadRequest
		writeError(w, http.StatusBadRequest, "probity_bad_request", err.Error())
		return
	}
	copyHeader(out.Header, r.Header)
	out.Header.Del(RunHeader)
	out.ContentLength = int64(len(ex.reqBody))
	out.Host = base.Host
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // do not add Go's
	}
	guardAPI := wire.APIUnknown
	if p.opts.Guard != nil {
		guardAPI = wire.APIOf(path)
	}
	if guardAPI != wire.APIUnknown {
		// The guard reads every response it passes on: ask only for
		// encodings it decodes (the agent gets the body decoded).
		out.Header.Set("Accept-Encoding", guardedEncodings)
	}

	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.upstreamErrors.Add(1)
		status, code := http.StatusBadGateway, "probity_upstream_unreachable"
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			status, code = http.StatusGatewayTimeout, "probity_upstream_timeout"
		}
		if r.Context().Err() != nil {
			ex.err = clientGone + " before the upstream answered"
			ex.status = 499
			return
		}
		msg := p.redact.String(redactURLError(err))
		ex.err = fmt.Sprintf("upstream %s: %v", code, msg)
		ex.status = status
		writeError(w, status, code, "probity proxy: the upstream did not answer: "+msg)
		return
	}
	defer resp.Body.Close()
	ex.ttfb = p.opts.Now().Sub(ex.start)
	ex.status = resp.StatusCode
	ex.respHeader = resp.Header.Clone()
	ex.stream = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")

	// The idle timer cancels the upstream request when the body stalls,
	// so a hung upstream never hangs the agent.
	idle := time.AfterFunc(p.opts.StreamIdleTimeout, func() {
		cancel(fmt.Errorf("upstream sent nothing for %s", p.opts.StreamIdleTimeout))
	})
	defer idle.Stop()
	body := &idleReader{r: resp.Body, timer: idle, d: p.opts.StreamIdleTimeout}

	var rec *capBuffer
	if p.rec != nil {
		rec = &capBuffer{max: p.opts.MaxRecordBody}
	}
	if guardAPI != wire.APIUnknown && resp.StatusCode/100 == 2 {
		// Every success status: a tool call in a 201 is a tool call.
		p.guarded(ctx, w, resp, body, ex, guardAPI, rec)
		finishBody(ex, rec, ctx)
		return
	}
	h := w.Header()
	copyHeader(h, resp.Header)
	w.WriteHeader(resp.StatusCode)
	n, err := pump(w, body, rec)
	ex.respSize = n
	if err != nil {
		ex.err = describeCopyError(err, ctx, n)
	}
	finishBody(ex, rec, ctx)
}

// clientGone is the start of the error recorded when the agent hung up
// before the response ended: the upstream was fine, so it must not read
// as an upstream cut.
const clientGone = "client went away"

func finishBody(ex *exchange, rec *capBuffer, ctx context.Context) {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && ex.err == "" {
		ex.err = cause.Error()
	}
	if errors.Is(context.Cause(ctx), context.Canceled) && !strings.HasPrefix(ex.err, clientGone) {
		// The request context ends with Canceled only when the client
		// went away (our own timeouts cancel with a cause of their own);
		// reading the upstream then fails too, which is not its fault.
		ex.err = fmt.Sprintf("%s after %d bytes of the response", clientGone, max(ex.respSize, sizeOf(rec)))
	}
	if rec != nil {
		ex.respBody = rec.buf.Bytes()
		ex.truncated = rec.truncated
		if ex.respSize == 0 {
			ex.respSize = rec.size
		}
	}
}

func describeCopyError(err error, ctx context.Context, n int64) string {
	var we *writeErr
	if errors.As(err, &we) {
		return fmt.Sprintf("%s after %d bytes: %v", clientGone, n, we.err)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Sprintf("upstream body cut after %d bytes: %v", n, cause)
	}
	return fmt.Sprintf("upstream body cut after %d bytes: %v", n, err)
}

// writeErr marks an error writing to the client, as opposed to reading
// from the upstream.
type writeErr struct{ err error }

func (e *writeErr) Error() string { return e.err.Error() }

// pump copies src to w, flushing after every write so server-sent events
// reach the agent as soon as the upstream sends them, and tees into rec.
func pump(w http.ResponseWriter, src io.Reader, rec *capBuffer) (int64, error) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if rec != nil {
				rec.Write(buf[:k])
			}
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, &writeErr{werr}
			}
			n += int64(k)
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return n, &writeErr{ferr}
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// idleReader resets the idle timer on every successful read.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.d)
	}
	return n, err
}

func sizeOf(c *capBuffer) int64 {
	if c == nil {
		return 0
	}
	return c.size
}

// capBuffer keeps up to max bytes and counts the rest.
type capBuffer struct {
	buf       bytes.Buffer
	max       int64
	size      int64
	truncated bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.size += int64(len(p))
	if room := c.max - int64(c.buf.Len()); room > 0 {
		if int64(len(p)) > room {
			c.buf.Write(p[:room])
			c.truncated = true
		} else {
			c.buf.Write(p)
		}
	} else if len(p) > 0 {
		c.truncated = true
	}
	return len(p), nil
}

func upstreamURL(base *url.URL, path, rawQuery string) string {
	u := *base
	prefix := strings.TrimSuffix(u.Path, "/")
	if prefix != "" && !strings.HasPrefix(path, prefix+"/") && path != prefix {
		path = prefix + path
	}
	u.Path, u.RawPath = path, ""
	u.RawQuery = rawQuery
	return u.String()
}

// redactURLError drops the query string from URL errors: it may carry a key.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery, u.User = "", nil
			return fmt.Sprintf("%s %q: %v", ue.Op, u.String(), ue.Err)
		}
		return ue.Err.Error()
	}
	return err.Error()
}

// writeError answers with a JSON error both the OpenAI and the Anthropic
// SDKs parse: OpenAI reads error.message, Anthropic type + error.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Probity-Error", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":  "error",
		"error": map[string]any{"type": code, "code": code, "message": msg},
	})
}

// Serve serves h on ln until ctx ends, then shuts down gracefully (waiting
// up to 5 seconds for in-flight exchanges).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}

// CheckListen refuses a non-loopback listen address unless allowRemote: a
// proxy holding API keys must not be opened to the network by accident.
func CheckListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return probity.Errorf(probity.EINVALID, "listen address %q: %v", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return probity.Errorf(probity.EINVALID, "listen address %q is not loopback; pass --allow-remote to expose the proxy to the network", addr)
	}
	return nil
}
