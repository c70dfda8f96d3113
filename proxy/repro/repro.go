// Package repro measures how often an agent fails, and how. It runs the
// agent N times through a recording proxy, classifies each run as pass or
// fail (its exit status, or a CEL condition over the run's trace), reports
// the failure rate with a Wilson interval, and clusters the failing runs by
// where each first departs from the passing ones. Every run's cassette is
// kept, so any failing run can be replayed with `probity replay`.
package repro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/probity/probity"
	"github.com/probity/probity/chatlog"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/proxy"
	"github.com/probity/probity/proxy/cassette"
	"github.com/probity/probity/proxy/match"
	"github.com/probity/probity/stats"
)

// Options configures Run.
type Options struct {
	// Command is the agent: program and arguments.
	Command []string
	// Runs is how many times to run it; Concurrency how many at once.
	Runs, Concurrency int
	// Dir keeps the recording: Dir/cassettes, Dir/traces, Dir/logs.
	Dir string
	// Pass is a CEL condition that a passing run satisfies; empty means
	// "exit status 0". See Condition for its variables.
	Pass string
	// Level is the confidence level of the interval (default 0.95).
	Level float64
	// RunTimeout bounds one run (default 10 minutes); a run that times out
	// fails.
	RunTimeout time.Duration
	// Proxy configures the recording proxy (Upstream is required;
	// RecordDir is set to Dir).
	Proxy proxy.Options
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Progress, when set, is called after each run finishes.
	Progress func(done, total int)
}

// RunResult is one run of the agent.
type RunResult struct {
	ID       string  `json:"id"`
	ExitCode int     `json:"exit_code"`
	Pass     bool    `json:"pass"`
	Error    string  `json:"error,omitempty"`
	Calls    int     `json:"calls"`
	Seconds  float64 `json:"seconds"`
	Cassette string  `json:"cassette,omitempty"`
	Trace    string  `json:"trace,omitempty"`
	Log      string  `json:"log"`
	// Mode is the index in Report.Modes of the way this run failed.
	Mode *int `json:"mode,omitempty"`
}

// Mode is one way the agent fails: failing runs that first depart from the
// passing runs at the same place.
type Mode struct {
	// Where is the place, as a key: "call 2 $.body.messages[3].content".
	Where string `json:"where"`
	// Description says it for people.
	Description string   `json:"description"`
	Runs        []string `json:"runs"`
	// Passing and Failing are example values at that place.
	Passing any `json:"passing,omitempty"`
	Failing any `json:"failing,omitempty"`
}

// Report is what Run found. It is the JSON contract of `probity repro
// --format json`: add fields, never rename.
type Report struct {
	Command  []string       `json:"command"`
	Runs     int            `json:"runs"`
	Failures int            `json:"failures"`
	Rate     float64        `json:"failure_rate"`
	Interval stats.Interval `json:"interval"`
	Level    float64        `json:"level"`
	Pass     string         `json:"pass_condition"`
	Modes    []Mode         `json:"modes"`
	Results  []RunResult    `json:"results"`
	Dir      string         `json:"dir"`
}

// MarshalJSON writes the interval as [lo, hi].
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		Interval [2]float64 `json:"interval"`
	}{plain(r), [2]float64{r.Interval.Lo, r.Interval.Hi}})
}

// Condition is a compiled --pass expression. Its variables:
//
//	exit_code   int     the agent's exit status (-1 when it could not run or timed out)
//	output      string  what the agent wrote to stdout and stderr
//	calls       int     how many model calls it made
//	trace       map     the run's trace in Probity's JSON model: trace.steps[i].kind,
//	                    .content, .tool.name, .tool.args, ...; trace.tools, trace.final
type Condition struct {
	prg cel.Program
}

// Compile compiles expr once; a bad expression returns an EINVALID
// *probity.Error with CEL's message (which names the column).
func Compile(expr string) (*Condition, error) {
	env, err := cel.NewEnv(
		cel.Variable("exit_code", cel.IntType),
		cel.Variable("output", cel.StringType),
		cel.Variable("calls", cel.IntType),
		cel.Variable("trace", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		return nil, fmt.Errorf("cel env: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: "--pass", Message: "bad condition", Err: iss.Err()}
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, &probity.Error{Code: probity.EINVALID, File: "--pass",
			Message: fmt.Sprintf("condition must be true or false, not %s", ast.OutputType())}
	}
	prg, err := env.Program(ast, cel.CostLimit(1_000_000), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: "--pass", Message: "bad condition", Err: err}
	}
	return &Condition{prg: prg}, nil
}

// Eval evaluates the condition for one run.
func (c *Condition) Eval(ctx context.Context, exitCode int, output string, calls int, t *probity.Trace) (bool, error) {
	tm := map[string]any{"steps": []any{}, "tools": []any{}, "final": ""}
	if t != nil {
		b, _ := json.Marshal(t)
		json.Unmarshal(b, &tm)
		tools := []any{}
		for _, n := range t.Tools() {
			tools = append(tools, n)
		}
		tm["tools"] = tools
		final := ""
		for _, s := range t.Steps {
			if s.Kind == probity.KindFinal || s.Kind == probity.KindAssistant {
				final = s.Content
			}
		}
		tm["final"] = final
		if tm["steps"] == nil {
			tm["steps"] = []any{}
		}
	}
	out, _, err := c.prg.ContextEval(ctx, map[string]any{"exit_code": int64(exitCode), "output": output,
		"calls": int64(calls), "trace": tm})
	if err != nil {
		return false, fmt.Errorf("evaluate --pass: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("evaluate --pass: got %v, want true or false", out.Value())
	}
	return b, nil
}

// Run runs the agent opts.Runs times and reports.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if len(opts.Command) == 0 {
		return nil, probity.Errorf(probity.EINVALID, "no agent command given (put it after --)")
	}
	if opts.Runs < 1 {
		return nil, probity.Errorf(probity.EINVALID, "--runs must be at least 1")
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if opts.Level == 0 {
		opts.Level = 0.95
	}
	if opts.RunTimeout <= 0 {
		opts.RunTimeout = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var cond *Condition
	if opts.Pass != "" {
		var err error
		if cond, err = Compile(opts.Pass); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("repro dir: %w", err)
	}
	po := opts.Proxy
	po.RecordDir = opts.Dir
	if po.Logger == nil {
		po.Logger = opts.Logger
	}
	p, err := proxy.New(po)
	if err != nil {
		return nil, err
	}
	// Keys the agents are given are credentials even before an agent
	// sends one: scrub them from cassettes and logs alike.
	p.Redactor().Learn(envSecrets()...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("repro listen: %w", err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- proxy.Serve(sctx, ln, p) }()
	base := "http://" + ln.Addr().String()

	width := len(fmt.Sprint(opts.Runs))
	width = max(width, 3)
	results := make([]RunResult, opts.Runs)
	outputs := make([]string, opts.Runs)
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i := range opts.Runs {
		id := fmt.Sprintf("r%0*d", width, i+1)
		// Runs start in order (the slot is taken before the goroutine
		// starts), so with --concurrency 1 run k is the k-th to run.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = RunResult{ID: id, ExitCode: -1, Error: "not started: " + ctx.Err().Error()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], outputs[i] = runOnce(ctx, opts, base, id, i+1, p.Redactor())
			mu.Lock()
			done++
			if opts.Progress != nil {
				opts.Progress(done, opts.Runs)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ferr := p.Flush(fctx)
	stop()
	<-served
	p.Close(fctx)
	if ferr != nil {
		return nil, ferr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("repro interrupted: %w", err)
	}

	cassettes := map[string]*cassette.Cassette{}
	for i := range results {
		r := &results[i]
		c, err := readCassette(proxy.CassettePath(opts.Dir, r.ID))
		if err == nil {
			cassettes[r.ID] = c
			r.Cassette = proxy.CassettePath(opts.Dir, r.ID)
			r.Calls = len(c.Interactions)
		}
		var tr *probity.Trace
		if b, err := os.ReadFile(proxy.TracePath(opts.Dir, r.ID)); err == nil {
			r.Trace = proxy.TracePath(opts.Dir, r.ID)
			if t, err := chatlog.DecodeConversation(b); err == nil {
				tr = t
			}
		}
		if cond == nil {
			r.Pass = r.ExitCode == 0
			continue
		}
		if r.ExitCode == -1 && r.Error != "" {
			continue // it did not run to the end: a failure
		}
		ok, err := cond.Eval(ctx, r.ExitCode, outputs[i], r.Calls, tr)
		if err != nil {
			r.Error = err.Error()
			continue
		}
		r.Pass = ok
	}
	rep := &Report{Command: opts.Command, Runs: opts.Runs, Level: opts.Level, Pass: opts.Pass, Results: results,
		Dir: opts.Dir, Modes: []Mode{}}
	if rep.Pass == "" {
		rep.Pass = "exit_code == 0"
	}
	for _, r := range results {
		if !r.Pass {
			rep.Failures++
		}
	}
	rep.Rate = float64(rep.Failures) / float64(rep.Runs)
	rep.Interval = stats.Wilson(rep.Failures, rep.Runs, opts.Level)
	rep.Modes = cluster(results, cassettes)
	for mi, m := range rep.Modes {
		for _, id := range m.Runs {
			for i := range results {
				if results[i].ID == id {
					k := mi
					results[i].Mode = &k
				}
			}
		}
	}
	return rep, nil
}

func readCassette(path string) (*cassette.Cassette, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return cassette.Read(f, path)
}

// runOnce runs the agent once with its base URLs pointing at the proxy
// under a per-run path prefix: agents cannot be relied on to set headers,
// but every SDK honours a base URL.
func runOnce(ctx context.Context, opts Options, base, id string, index int, red *redact.Redactor) (RunResult, string) {
	start := time.Now()
	r := RunResult{ID: id, Log: filepath.Join(opts.Dir, "logs", id+".log")}
	rctx, cancel := context.WithTimeout(ctx, opts.RunTimeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, opts.Command[0], opts.Command[1:]...)
	prefix := base + proxy.RunPathPrefix + id
	cmd.Env = append(os.Environ(),
		"OPENAI_BASE_URL="+prefix+"/v1",
		"OPENAI_API_BASE="+prefix+"/v1",
		"ANTHROPIC_BASE_URL="+prefix,
		"PROBITY_PROXY_URL="+prefix,
		"PROBITY_RUN="+id,
		fmt.Sprintf("PROBITY_RUN_INDEX=%d", index),
	)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r.Seconds = time.Since(start).Seconds()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && rctx.Err() == nil:
		r.ExitCode = ee.ExitCode()
	case rctx.Err() != nil && ctx.Err() == nil:
		r.ExitCode, r.Error = -1, fmt.Sprintf("timed out after %s", opts.RunTimeout)
	default:
		r.ExitCode, r.Error = -1, err.Error()
	}
	// The agent's output may print a key: one it was given (learned from
	// the environment), one it sent through the proxy (learned from its
	// requests, which all came before this point), or any secret-shaped
	// text. None of them reaches disk.
	text := red.String(out.String())
	os.WriteFile(r.Log, []byte(text), 0o600)
	return r, text
}

// envSecrets returns the values of environment variables whose names say
// they hold a credential (..._KEY, ..._TOKEN, ..._SECRET, ...PASSWORD).
func envSecrets() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		uk := strings.ToUpper(k)
		for _, w := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH"} {
			if strings.Contains(uk, w) {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// step is one normalised request of a run, for comparing runs.
type step struct {
	norm map[string]any
	resp []byte
}

func steps(c *cassette.Cassette) []step {
	if c == nil {
		return nil
	}
	out := make([]step, len(c.Interactions))
	for i, in := range c.Interactions {
		b, _ := in.Request.Body.Bytes()
		out[i].norm = proxy.Normalize(in.Request.Method, in.Request.Path, in.Request.Query, b, nil)
		if in.Response != nil {
			out[i].resp, _ = in.Response.Body.Bytes()
		}
	}
	return out
}

// where is the first departure of a failing run from one passing run.
type where struct {
	call            int
	path            string
	passing, failed any
	depth           int // how far the runs agree, for picking the closest passing run
}

// firstDeparture compares a failing run's requests with a passing run's.
func firstDeparture(fail, pass []step) where {
	n := min(len(fail), len(pass))
	for i := 0; i < n; i++ {
		if p, a, b, ok := proxy.Diverge(pass[i].norm, fail[i].norm); ok {
			return where{call: i, path: p, passing: a, failed: b, depth: i*100000 + len(p)}
		}
	}
	switch {
	case len(fail) > len(pass):
		return where{call: n, path: "$", passing: "<no more calls>", failed: fail[n].norm["path"], depth: n * 100000}
	case len(fail) < len(pass):
		return where{call: n, path: "$", passing: pass[n].norm["path"], failed: "<no more calls>", depth: n * 100000}
	}
	// Same requests throughout: the last answer differs.
	if n > 0 && !bytes.Equal(fail[n-1].resp, pass[n-1].resp) {
		return where{call: n - 1, path: "response", passing: "", failed: "", depth: n * 100000}
	}
	return where{call: n, path: "outcome", depth: n*100000 + 1}
}

// generalise drops array indices below the message level so that, say,
// two failures that differ in the 2nd and 3rd tool call argument of the
// same message cluster together.
func generalise(path string) string {
	if i := strings.Index(path, "]"); i > 0 && strings.HasPrefix(path, "$.body.") {
		rest := path[i+1:]
		if j := strings.IndexByte(rest, '['); j >= 0 {
			if k := strings.IndexByte(rest[j:], ']'); k > 0 {
				rest = rest[:j] + "[*]" + rest[j+k+1:]
			}
		}
		return path[:i+1] + rest
	}
	return path
}

// cluster groups failing runs by where they first depart from the closest
// passing run. With no passing run to compare against, failures are
// grouped by exit status.
func cluster(results []RunResult, cassettes map[string]*cassette.Cassette) []Mode {
	var passing [][]step
	for _, r := range results {
		if r.Pass {
			passing = append(passing, steps(cassettes[r.ID]))
		}
	}
	byKey := map[string]*Mode{}
	var order []string
	for _, r := range results {
		if r.Pass {
			continue
		}
		var key, desc string
		var pv, fv any
		if len(passing) == 0 {
			key = fmt.Sprintf("exit %d", r.ExitCode)
			desc = fmt.Sprintf("exit status %d (no passing run to compare with)", r.ExitCode)
			if r.Error != "" {
				key, desc = "error", r.Error
			}
		} else {
			fs := steps(cassettes[r.ID])
			best := where{depth: -1}
			for _, ps := range passing {
				if w := firstDeparture(fs, ps); w.depth > best.depth {
					best = w
				}
			}
			switch best.path {
			case "outcome":
				key = "outcome"
				desc = fmt.Sprintf("made the same %d model calls as a passing run, with the same answers, yet failed (exit %d): the cause is outside the model calls", best.call, r.ExitCode)
			case "response":
				key = fmt.Sprintf("call %d response", best.call)
				desc = fmt.Sprintf("the same requests as a passing run, but the model's answer to call %d differs", best.call)
			default:
				g := generalise(best.path)
				key = fmt.Sprintf("call %d %s", best.call, g)
				desc = fmt.Sprintf("first departs from the passing runs at call %d, %s: passing %s, failing %s",
					best.call, g, match.Quote(best.passing, 80), match.Quote(best.failed, 80))
				pv, fv = clip(best.passing), clip(best.failed)
			}
		}
		m := byKey[key]
		if m == nil {
			m = &Mode{Where: key, Description: desc, Passing: pv, Failing: fv}
			byKey[key] = m
			order = append(order, key)
		}
		m.Runs = append(m.Runs, r.ID)
	}
	out := make([]Mode, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Runs) > len(out[j].Runs) })
	return out
}

func clip(v any) any {
	if s, ok := v.(string); ok && len(s) > 500 {
		return s[:500] + "…"
	}
	return v
}

// WriteText writes the report for people.
func WriteText(w io.Writer, r *Report) {
	pct := func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }
	fmt.Fprintf(w, "%d runs of %s; pass means %s\n", r.Runs, strings.Join(r.Command, " "), r.Pass)
	if r.Failures == 0 {
		fmt.Fprintf(w, "fails 0%% of runs [%s, %s] (0 of %d, Wilson %s)\n", pct(r.Interval.Lo), pct(r.Interval.Hi), r.Runs, pct(r.Level))
	} else {
		ways := "in one way"
		if len(r.Modes) > 1 {
			ways = fmt.Sprintf("in %d ways", len(r.Modes))
		}
		fmt.Fprintf(w, "fails %s of runs [%s, %s] (%d of %d, Wilson %s), %s:\n", pct(r.Rate), pct(r.Interval.Lo), pct(r.Interval.Hi),
			r.Failures, r.Runs, pct(r.Level), ways)
		for i, m := range r.Modes {
			fmt.Fprintf(w, "  %d. %d runs (%s): %s\n", i+1, len(m.Runs), strings.Join(m.Runs, ", "), m.Description)
		}
	}
	run := "RUN"
	for _, res := range r.Results {
		if !res.Pass && res.Cassette != "" {
			run = res.ID
			break
		}
	}
	fmt.Fprintf(w, "cassettes in %s; replay a run with: probity replay %s\n", filepath.Join(r.Dir, "cassettes"),
		filepath.Join(r.Dir, "cassettes", run+".json"))
}
