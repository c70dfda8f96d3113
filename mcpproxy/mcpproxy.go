// Package mcpproxy puts a policy between an MCP host (an IDE, a desktop
// assistant, an agent) and an MCP server, using the official MCP Go SDK on
// both sides. Every tools/call is checked by a guard.Guard before it reaches
// the server: a denied call gets a tool error carrying the rule's message and
// the server never sees it. Every call and its result are recorded as a
// trace (OpenAI chat messages, one per line, which `probity analyze` reads),
// and at tools/list the tools' descriptions are checked for instruction-like
// text (tool poisoning).
//
// Resources and prompts are passed through unchanged. The host side may be
// stdio or Streamable HTTP, and so may the server side.
package mcpproxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
)

// Options configures a Proxy. Guard is required.
type Options struct {
	// Guard decides every tools/call.
	Guard *guard.Guard
	// Logger receives operational logs and tool-poisoning warnings.
	Logger *slog.Logger
	// Trace is where calls are recorded: a file (all runs appended to it)
	// or an existing directory (one <run>.jsonl per run). Empty records
	// nothing.
	Trace string
	// Run names the run of a stdio host (one host, one run); the default is
	// "mcp-" and the start time. Streamable HTTP hosts get one run per MCP
	// session.
	Run string
	// DropPoisoned hides tools whose descriptions look poisoned instead of
	// only flagging them.
	DropPoisoned bool
	// Name is the proxy's implementation name shown to hosts (default:
	// the server's own name).
	Name string
}

// Proxy is a running MCP proxy connected to one server.
type Proxy struct {
	opts    Options
	g       *guard.Guard
	log     *slog.Logger
	backend *mcp.ClientSession
	server  *mcp.Server
	trace   *traceWriter

	done chan struct{} // closed when the server's session ends

	mu       sync.Mutex
	poisoned map[string]string // tool -> quote, as last listed
	listed   map[string]bool   // runs whose tool list was recorded
}

// Connect starts the proxy: it connects to the MCP server over backend (an
// mcp.CommandTransport for a stdio server, an mcp.StreamableClientTransport
// for a URL) and prepares the host-facing server.
func Connect(ctx context.Context, backend mcp.Transport, opts Options) (*Proxy, error) {
	if opts.Guard == nil {
		return nil, errors.New("mcpproxy: no guard")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Run == "" {
		opts.Run = "mcp-" + time.Now().UTC().Format("20060102T150405Z")
	}
	p := &Proxy{opts: opts, g: opts.Guard, log: opts.Logger.With("component", "mcp-proxy"),
		poisoned: map[string]string{}, listed: map[string]bool{}}
	if opts.Trace != "" {
		tw, err := newTraceWriter(opts.Trace)
		if err != nil {
			return nil, err
		}
		p.trace = tw
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "probity-mcp-proxy", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { p.toolsChanged() },
	})
	cs, err := client.Connect(ctx, backend, nil)
	if err != nil {
		p.trace.close()
		return nil, fmt.Errorf("mcp-proxy: connect to server: %w", err)
	}
	p.backend = cs
	p.done = make(chan struct{})
	go func() {
		_ = cs.Wait()
		close(p.done)
	}()
	init := cs.InitializeResult()
	name, instructions := "probity-mcp-proxy", ""
	caps := &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}}
	if init != nil && init.Capabilities != nil && init.Capabilities.Tools != nil {
		caps.Tools.ListChanged = init.Capabilities.Tools.ListChanged
	}
	if init != nil {
		if init.ServerInfo != nil && init.ServerInfo.Name != "" {
			name = init.ServerInfo.Name
		}
		instructions = init.Instructions
		if c := init.Capabilities; c != nil {
			if c.Resources != nil {
				caps.Resources = &mcp.ResourceCapabilities{ListChanged: c.Resources.ListChanged}
			}
			if c.Prompts != nil {
				caps.Prompts = &mcp.PromptCapabilities{ListChanged: c.Prompts.ListChanged}
			}
			if c.Completions != nil {
				caps.Completions = &mcp.CompletionCapabilities{}
			}
		}
	}
	if opts.Name != "" {
		name = opts.Name
	}
	p.server = mcp.NewServer(&mcp.Implementation{Name: name, Version: "probity"}, &mcp.ServerOptions{
		Instructions: instructions,
		Capabilities: caps,
	})
	p.server.AddReceivingMiddleware(p.middleware)
	return p, nil
}

// listChangedProbe is a tool the host never sees (tools/list and
// tools/call are answered by the middleware); adding and removing it is how
// the SDK's server is made to tell hosts that the tool list changed.
const listChangedProbe = "probity_tools_changed"

// toolsChanged passes the server's tools/list_changed on to the hosts.
func (p *Proxy) toolsChanged() {
	if p.server == nil {
		return
	}
	p.server.AddTool(&mcp.Tool{Name: listChangedProbe, InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return toolError("unavailable"), nil
		})
	p.server.RemoveTools(listChangedProbe)
}

// Done is closed when the connection to the MCP server ends (the server
// exited or hung up), after which every call fails.
func (p *Proxy) Done() <-chan struct{} { return p.done }

// Server returns the host-facing MCP server.
func (p *Proxy) Server() *mcp.Server { return p.server }

// ServeStdio serves one host over t (mcp.StdioTransport for the process's
// own stdin and stdout) until the host disconnects or ctx is done.
func (p *Proxy) ServeStdio(ctx context.Context, t mcp.Transport) error {
	return p.server.Run(ctx, t)
}

// Handler serves hosts over Streamable HTTP; each MCP session is a run.
// It refuses cross-origin browser requests, and, on loopback, requests
// naming another host (the SDK's DNS rebinding protection). With a client
// token (a server listening beyond loopback) every request must carry it
// as a bearer token.
//
// The guard's own API (decisions, approvals) is never served here: a host
// that could reach it on its MCP connection could approve its own calls.
func (p *Proxy) Handler(clientToken string) http.Handler {
	h := http.NewCrossOriginProtection().Handler(
		mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return p.server }, nil))
	if clientToken == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(bearer), []byte(clientToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="probity mcp-proxy"`)
			http.Error(w, "this MCP proxy needs a client token: send Authorization: Bearer $"+guard.TokenEnv, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Close disconnects from the server and closes the trace.
func (p *Proxy) Close() error {
	err := p.backend.Close()
	p.trace.close()
	return err
}

// run names the run of a host session.
func (p *Proxy) run(ss *mcp.ServerSession) string {
	if ss != nil {
		if id := ss.ID(); id != "" {
			return "mcp-" + id
		}
	}
	return p.opts.Run
}

// middleware answers tools/list and tools/call itself and forwards the
// other methods the server supports.
func (p *Proxy) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch r := req.(type) {
		case *mcp.ListToolsRequest:
			return p.listTools(ctx, r)
		case *mcp.CallToolRequest:
			return p.callTool(ctx, r)
		case *mcp.ListResourcesRequest:
			return p.backend.ListResources(ctx, r.Params)
		case *mcp.ListResourceTemplatesRequest:
			return p.backend.ListResourceTemplates(ctx, r.Params)
		case *mcp.ReadResourceRequest:
			return p.backend.ReadResource(ctx, r.Params)
		case *mcp.ListPromptsRequest:
			return p.backend.ListPrompts(ctx, r.Params)
		case *mcp.GetPromptRequest:
			return p.backend.GetPrompt(ctx, r.Params)
		case *mcp.CompleteRequest:
			return p.backend.Complete(ctx, r.Params)
		}
		return next(ctx, method, req)
	}
}

// listTools forwards tools/list and checks every description (and every
// parameter description) for instruction-like text.
func (p *Proxy) listTools(ctx context.Context, r *mcp.ListToolsRequest) (mcp.Result, error) {
	res, err := p.backend.ListTools(ctx, r.Params)
	if err != nil {
		return nil, err
	}
	run := p.run(r.Session)
	kept := res.Tools[:0:0]
	var lines []string
	for _, t := range res.Tools {
		quote, bad := poisoned(t)
		p.mu.Lock()
		if bad {
			p.poisoned[t.Name] = quote
		} else {
			delete(p.poisoned, t.Name)
		}
		p.mu.Unlock()
		if bad {
			p.log.Warn("tool poisoning: instruction-like text in a tool description", "tool", t.Name, "text", quote, "dropped", p.opts.DropPoisoned)
			if err := p.g.AuditEvent(&guard.AuditRecord{Event: "tool-poisoning", Run: run, Tool: t.Name,
				Reason: "instruction-like text in the tool's description: " + quote, Decision: map[bool]string{true: "deny", false: "allow"}[p.opts.DropPoisoned]}); err != nil {
				p.log.Error("audit log failed", "err", err)
			}
			if p.opts.DropPoisoned {
				continue
			}
		}
		kept = append(kept, t)
		lines = append(lines, "- "+t.Name+": "+t.Description)
	}
	p.mu.Lock()
	first := !p.listed[run]
	p.listed[run] = true
	p.mu.Unlock()
	if first {
		// The descriptions are input the model reads: recording them lets
		// offline detectors see poisoning too.
		p.trace.message(run, map[string]any{"role": "system",
			"content": "Tools offered by MCP server " + p.serverName() + ":\n" + strings.Join(lines, "\n")})
	}
	out := *res
	out.Tools = kept
	return &out, nil
}

func (p *Proxy) serverName() string {
	if init := p.backend.InitializeResult(); init != nil && init.ServerInfo != nil {
		return init.ServerInfo.Name
	}
	return "?"
}

// poisoned checks a tool's description and its parameters' descriptions.
func poisoned(t *mcp.Tool) (string, bool) {
	if q, ok := policy.InstructionLike(t.Description); ok {
		return q, true
	}
	if t.InputSchema != nil {
		b, _ := json.Marshal(t.InputSchema)
		for _, m := range descRE.FindAllSubmatch(b, -1) {
			var d string
			if json.Unmarshal(m[1], &d) == nil {
				if q, ok := policy.InstructionLike(d); ok {
					return q, true
				}
			}
		}
	}
	return "", false
}

var descRE = regexp.MustCompile(`"description":("(?:[^"\\]|\\.)*")`)

// callTool checks the call with the guard and forwards it only if allowed.
func (p *Proxy) callTool(ctx context.Context, r *mcp.CallToolRequest) (mcp.Result, error) {
	run := p.run(r.Session)
	name := r.Params.Name
	args := r.Params.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage(`{}`)
	}
	p.mu.Lock()
	quote, bad := p.poisoned[name]
	p.mu.Unlock()
	if bad && p.opts.DropPoisoned {
		return toolError(fmt.Sprintf("Tool %s is disabled by the proxy: its description contains instruction-like text (%s).", name, quote)), nil
	}
	v, err := p.g.Check(ctx, guard.Call{Run: run, Tool: name, Args: args})
	if err != nil {
		return nil, fmt.Errorf("policy guard: %w", err)
	}
	p.trace.call(run, v.CallID, name, args)
	if !v.Allowed() {
		msg := v.Message
		if msg == "" {
			msg = v.Reason
		}
		text := fmt.Sprintf("Denied by policy rule %s: %s", v.Rule, msg)
		p.trace.result(run, v.CallID, name, "Error: "+text)
		p.log.Info("denied", "run", run, "tool", name, "rule", v.Rule)
		return toolError(text), nil
	}
	res, err := p.backend.CallTool(ctx, &mcp.CallToolParams{Meta: r.Params.Meta, Name: name, Arguments: args})
	if err != nil {
		p.g.Result(run, v.CallID, name, err.Error(), true)
		p.trace.result(run, v.CallID, name, "Error: "+err.Error())
		return nil, err
	}
	text := resultText(res)
	p.g.Result(run, v.CallID, name, text, res.IsError)
	if res.IsError && !strings.HasPrefix(text, "Error") {
		text = "Error: " + text
	}
	p.trace.result(run, v.CallID, name, text)
	return res, nil
}

func toolError(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// resultText is the text of a result: its text blocks, else its structured
// content as JSON.
func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch x := c.(type) {
		case *mcp.TextContent:
			parts = append(parts, x.Text)
		case *mcp.ImageContent:
			parts = append(parts, "[image "+x.MIMEType+"]")
		case *mcp.AudioContent:
			parts = append(parts, "[audio "+x.MIMEType+"]")
		case *mcp.EmbeddedResource:
			if x.Resource != nil {
				parts = append(parts, x.Resource.Text)
			}
		case *mcp.ResourceLink:
			parts = append(parts, "[resource "+x.URI+"]")
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n")
}

// traceWriter records calls as OpenAI chat messages, one per line: the
// chatlog importer reads such a file as one conversation.
type traceWriter struct {
	mu    sync.Mutex
	dir   string   // one file per run
	file  *os.File // all runs in one file
	files map[string]*os.File
}

func newTraceWriter(path string) (*traceWriter, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return &traceWriter{dir: path, files: map[string]*os.File{}}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mcp-proxy: trace: %w", err)
	}
	return &traceWriter{file: f}, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func (w *traceWriter) message(run string, m any) {
	if w == nil {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.file
	if w.dir != "" {
		f = w.files[run]
		if f == nil {
			f, err = os.OpenFile(filepath.Join(w.dir, unsafeName.ReplaceAllString(run, "_")+".jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return
			}
			w.files[run] = f
		}
	}
	if f != nil {
		_, _ = f.Write(b)
	}
}

func (w *traceWriter) call(run, id, tool string, args json.RawMessage) {
	w.message(run, map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{
		map[string]any{"id": id, "type": "function", "function": map[string]any{"name": tool, "arguments": string(args)}},
	}})
}

func (w *traceWriter) result(run, id, tool, text string) {
	w.message(run, map[string]any{"role": "tool", "tool_call_id": id, "name": tool, "content": text})
}

func (w *traceWriter) close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		w.file.Close()
	}
	for _, f := range w.files {
		f.Close()
	}
}
