package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/store/postgres"
	"github.com/probity/probity/store/sqlite"
)

// defaultGuardAddr is where `probity guard serve` listens and where the
// approvals and check commands look for it by default.
const defaultGuardAddr = "127.0.0.1:8700"

func newGuardCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Enforce a policy on agent tool calls at run time",
		Long: `Guard enforces a policy on the tool calls of running agents.

A policy is a YAML file of rules over tool calls in the context of their run
(CEL conditions, temporal rules, budgets). The same file serves
"probity analyze --policy" offline, eval assertions, and this runtime guard.

  probity guard serve   runs the HTTP decision service agents ask before a tool runs
  probity guard check   decides one call, from the command line
  probity guard report  summarises audit logs: what each rule blocked, or would have`,
		Example: `  probity guard serve --policy examples/policies/tau-retail.yaml
  probity guard check --policy policy.yaml write_file '{"path": ".env"}'`,
	}
	cmd.AddCommand(newGuardServeCmd(e), newGuardCheckCmd(e), newGuardReportCmd(e))
	return cmd
}

type guardFlags struct {
	policy          string
	audit           string
	approvalTimeout time.Duration
	webhook         string
	evalTimeout     time.Duration
	redactFields    []string
	// db, when set, keeps budgets and approvals in that store (guard
	// serve --db), so that several guards share them.
	db string
	// redactor, when set before open, redacts the audit log instead of one
	// built from redactFields: the model-API proxy shares its own, which
	// knows the keys it relayed.
	redactor *redact.Redactor
}

// defaultAudit is where every command that enforces a policy (guard serve,
// proxy --policy, mcp-proxy) appends its decisions unless told otherwise:
// one default, so an operator finds the log in the same place whichever
// command made it, and a guard never runs without a record by accident.
const defaultAudit = "probity-audit.jsonl"

func (f *guardFlags) add(cmd *cobra.Command) {
	f.addOptional(cmd, "policy file (YAML); required")
	_ = cmd.MarkFlagRequired("policy")
	cmd.Flags().StringSliceVar(&f.redactFields, "redact-field", nil, "JSON field of tool arguments to redact in the audit log, at any depth (repeatable)")
}

// addOptional adds the guard flags to a command where a policy is optional
// (the model-API proxy), with usage text for --policy.
func (f *guardFlags) addOptional(cmd *cobra.Command, policyUsage string) {
	cmd.Flags().StringVar(&f.policy, "policy", "", policyUsage)
	cmd.Flags().StringVar(&f.audit, "audit", defaultAudit, `append-only JSON Lines audit log of every decision ("none" keeps none)`)
	cmd.Flags().DurationVar(&f.approvalTimeout, "approval-timeout", 5*time.Minute, "how long an approve decision waits for a person before it becomes a deny")
	cmd.Flags().StringVar(&f.webhook, "webhook", "", "URL that receives a POST for every approval request and resolution")
	cmd.Flags().DurationVar(&f.evalTimeout, "eval-timeout", 100*time.Millisecond, "time limit of one policy evaluation; side-effecting calls fail closed past it")
}

// open loads the policy and builds a Guard, with its audit log.
func (f *guardFlags) open(e *env, logger *slog.Logger) (*guard.Guard, func(), error) {
	p, err := policy.LoadFile(f.policy)
	if err != nil {
		return nil, nil, withExit(ExitUsage, err)
	}
	opts := guard.Options{Policy: p, Logger: logger, ApprovalTimeout: f.approvalTimeout, Webhook: f.webhook, EvalTimeout: f.evalTimeout}
	var closeDB func()
	if f.db != "" {
		gs, closeStore, err := openGuardState(e.ctx, f.db)
		if err != nil {
			return nil, nil, withExit(ExitUsage, err)
		}
		opts.Ledger, opts.Approvals, closeDB = gs, gs, closeStore
	}
	var audit *guard.AuditLog
	if f.audit != "" && f.audit != "none" {
		red := f.redactor
		if red == nil {
			red = redact.New(nil, f.redactFields)
		}
		if audit, err = guard.OpenAudit(f.audit, guard.AuditRedactor(red)); err != nil {
			if closeDB != nil {
				closeDB()
			}
			return nil, nil, withExit(ExitUsage, err)
		}
		opts.Audit = audit
	}
	g, err := guard.New(opts)
	if err != nil {
		if closeDB != nil {
			closeDB()
		}
		return nil, nil, withExit(ExitUsage, err)
	}
	return g, func() {
		// The guard first denies its held calls, in the store too; only
		// then may the store close.
		g.Close()
		if audit != nil {
			audit.Close()
		}
		if closeDB != nil {
			closeDB()
		}
	}, nil
}

// guardState is what a guard keeps in a shared store.
type guardState interface {
	policy.LedgerBackend
	guard.ApprovalStore
}

// openGuardState opens the store a --db value names (as probity serve's
// --db) and returns the guard's view of it.
func openGuardState(ctx context.Context, dsn string) (guardState, func(), error) {
	st, err := openStore(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	closeStore := func() { st.Close() }
	switch db := st.(type) {
	case *sqlite.DB:
		return db.GuardState(), closeStore, nil
	case *postgres.DB:
		return db.GuardState(), closeStore, nil
	}
	st.Close()
	return nil, nil, probity.Errorf(probity.EINVALID, "--db %q: this store cannot keep a guard's state", dsn)
}

// sharedEvalTimeout is the evaluation time limit of a guard with --db when
// --eval-timeout is not given: a budget's reserve is then a database
// transaction, which may wait for another guard's.
const sharedEvalTimeout = 2 * time.Second

func describePolicy(p *policy.Policy) string {
	return fmt.Sprintf("policy %s: %d rules, %d budgets, mode %s", p.File, len(p.Rules), len(p.Budgets), p.Mode)
}

func newGuardServeCmd(e *env) *cobra.Command {
	var f guardFlags
	var access accessFlags
	var listen, addrFile string
	cmd := &cobra.Command{
		Use:   "serve --policy FILE [--listen ADDR]",
		Short: "Serve the HTTP decision service for agents in any language",
		Long: `Serve runs the policy decision service. Before a tool runs, an agent (or its
framework) asks:

  POST /v1/decide  {"run": "conv-42", "tool": "refund", "args": {"amount": 300}}
  -> {"decision": "allow" | "deny" | "approve", "rule": "...", "message": "...",
      "reason": "...", "evidence": [...], "call_id": "...", "approval_id": "..."}

as with OPA or Envoy's external authorization. "run" groups the calls of one
conversation or job: temporal rules and per-run budgets count within it.
Optional "messages" (the conversation so far, OpenAI or Anthropic shape) lets
rules judge confirmations; otherwise POST /v1/message and POST /v1/result
report messages and tool outcomes. "wait": true holds an "approve" decision
until a person answers (probity approvals approve|deny) or the approval times
out, which denies.

Every decision is appended to the audit log. In shadow mode (mode: shadow in
the policy) every call is allowed and the calls that would have been blocked
are logged and counted (GET /v1/shadow); the count is printed on exit.

Approving and denying held calls (and listing them) needs the approver
token, which the server keeps in a file only your account reads
(--approver-token-file; probity approvals reads the same file). Agents never
get it, so an agent cannot approve its own calls.

The service listens on loopback only, and refuses requests that name
another host (DNS rebinding) or come from a web page on another origin.
--allow-remote listens beyond loopback; it needs a client token in
$PROBITY_GUARD_TOKEN (32+ characters), which every client must then send
as "Authorization: Bearer ..." (probity guard check --server sends it).

Budgets and approvals live in memory unless --db names a store (the same
sqlite:PATH or postgres://... as probity serve). Guards on one store enforce
one budget: a budget's check and charge is one database transaction. A call
held for approval by one guard can be approved or denied through any of
them, or in probity serve's web UI on the same store; the holding guard
polls the store for the answer. A run's history (temporal rules) stays in
the guard that saw it: send a run's calls to one guard.`,
		Example: `  probity guard serve --policy examples/policies/tau-retail.yaml
  probity guard serve --policy p.yaml --listen 127.0.0.1:0 --addr-file /tmp/guard.addr --webhook http://127.0.0.1:9000/hook
  probity guard serve --policy p.yaml --db postgres://probity@db/probity --listen 127.0.0.1:8701
  curl -s localhost:8700/v1/decide -d '{"run":"r1","tool":"write_file","args":{"path":".env"}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			if f.db != "" && !cmd.Flags().Changed("eval-timeout") {
				f.evalTimeout = sharedEvalTimeout
			}
			g, closeGuard, err := f.open(e, logger)
			if err != nil {
				return err
			}
			defer closeGuard()
			ln, err := access.listen(listen, "--listen")
			if err != nil {
				return err
			}
			hopts, err := access.options(e, "guard")
			if err != nil {
				ln.Close()
				return err
			}
			url := "http://" + ln.Addr().String()
			if addrFile != "" {
				// Written only once the socket accepts, so a client that
				// waits for the file never races the server.
				if err := os.WriteFile(addrFile, []byte(url+"\n"), 0o600); err != nil {
					ln.Close()
					return withExit(ExitUsage, fmt.Errorf("--addr-file: %w", err))
				}
			}
			fmt.Fprintf(e.stderr, "probity guard: %s\n", describePolicy(g.Policy()))
			if f.db != "" {
				fmt.Fprintf(e.stderr, "probity guard: budgets and approvals in %s, shared with every guard on it\n", redactDSN(f.db))
			}
			fmt.Fprintf(e.stderr, "probity guard: serving on %s (audit: %s)\n", url, orNone(f.audit))
			err = guard.Serve(e.ctx, ln, g, hopts)
			printShadow(e.stderr, g)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&listen, "listen", defaultGuardAddr, "address to listen on (host:port; port 0 picks a free one)")
	// --addr was this flag's name before every server command took
	// --listen; it stays, hidden, for one release.
	cmd.Flags().StringVar(&listen, "addr", defaultGuardAddr, "deprecated: use --listen")
	_ = cmd.Flags().MarkHidden("addr")
	cmd.Flags().StringVar(&addrFile, "addr-file", "", "write the server's URL to this file once it listens (for scripts: --server @FILE)")
	cmd.Flags().StringVar(&f.db, "db", "", "keep budgets and approvals in a store that several guards share: sqlite:PATH or postgres://USER@HOST/DB (default: in memory)")
	access.add(cmd)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// printShadow reports what shadow mode let through.
func printShadow(w io.Writer, g *guard.Guard) {
	rep := g.ShadowReport()
	if len(rep) == 0 {
		if g.Policy().Mode == policy.Shadow {
			fmt.Fprintln(w, "probity guard: shadow mode: no call would have been blocked")
		}
		return
	}
	rules := make([]string, 0, len(rep))
	total := 0
	for r, n := range rep {
		rules = append(rules, r)
		total += n
	}
	sort.Strings(rules)
	fmt.Fprintf(w, "probity guard: shadow: %d calls would have been blocked:\n", total)
	for _, r := range rules {
		fmt.Fprintf(w, "  %-32s %d\n", r, rep[r])
	}
}

func newGuardCheckCmd(e *env) *cobra.Command {
	var f guardFlags
	var server, run, history, format, from string
	cmd := &cobra.Command{
		Use:   "check [--policy FILE | --server URL] TOOL [ARGS_JSON]",
		Short: "Decide one tool call and print the decision",
		Long: `Check decides one tool call, as the guard would before the tool runs, and
prints the decision with the rule, the reason and the evidence.

With --policy the decision is made here; --history replays a recorded trace
(any format probity reads) as the run so far, so temporal rules and budgets
see earlier calls. With --server the call is sent to a running
"probity guard serve" (URL, or @FILE to read it from a file written by
--addr-file, waiting for it to appear).
A server that requires a client token (--allow-remote) gets the one in
$PROBITY_GUARD_TOKEN.

Exit status: 0 when the call is allowed, 1 when it is denied or needs
approval, 2 for bad usage or input.`,
		Example: `  probity guard check --policy policy.yaml write_file '{"path": "app/.env"}'
  probity guard check --policy examples/policies/tau-retail.yaml --history run.json cancel_pending_order '{"order_id": "#W1"}'
  probity guard check --server http://127.0.0.1:8700 --run conv-1 refund '{"amount": 300}' --format json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			if (f.policy == "") == (server == "") {
				return withExit(ExitUsage, errors.New("give exactly one of --policy FILE and --server URL"))
			}
			call := guard.Call{Run: run, Tool: args[0]}
			if len(args) == 2 {
				if !json.Valid([]byte(args[1])) {
					return withExit(ExitUsage, probity.Errorf(probity.EINVALID, "ARGS_JSON is not valid JSON: %s", args[1]))
				}
				call.Args = json.RawMessage(args[1])
			}
			var v guard.Decision
			var err error
			if server != "" {
				if history != "" {
					return withExit(ExitUsage, errors.New("--history works with --policy only"))
				}
				url, err := guardURL(e.ctx, server)
				if err != nil {
					return err
				}
				ct, err := clientToken()
				if err != nil {
					return err
				}
				c := &guard.Client{BaseURL: url, Token: ct}
				if v, err = c.Decide(e.ctx, call, false); err != nil {
					return withExit(ExitUsage, err)
				}
			} else {
				if v, err = checkLocal(e, &f, call, history, from); err != nil {
					return err
				}
			}
			if format == "json" {
				if err := writeJSONLine(e.stdout, v); err != nil {
					return err
				}
			} else {
				printVerdict(e.stdout, newStyle(e.stdout), call.Tool, v)
			}
			if !v.Allowed() {
				return withExit(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.policy, "policy", "", "policy file (YAML)")
	cmd.Flags().StringVar(&server, "server", "", "ask a running guard server instead (URL or @FILE)")
	cmd.Flags().StringVar(&run, "run", "", `run the call belongs to (default "default")`)
	cmd.Flags().StringVar(&history, "history", "", "trace file whose steps are the run so far (first trace in the file)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	addFromFlag(cmd, &from)
	return cmd
}

// checkLocal decides call with a guard of its own, after replaying history.
func checkLocal(e *env, f *guardFlags, call guard.Call, history, from string) (guard.Decision, error) {
	f.audit = "none"
	f.evalTimeout = time.Second
	g, closeGuard, err := f.open(e, nil)
	if err != nil {
		return guard.Decision{}, err
	}
	defer closeGuard()
	if history != "" {
		var tr *probity.Trace
		err := ingest.Each(e.ctx, []string{history}, ingest.Options{Format: from, Stdin: e.stdin}, func(t *probity.Trace) error {
			if tr == nil {
				tr = t
			}
			return nil
		})
		if err != nil {
			return guard.Decision{}, inputError(err)
		}
		if tr == nil {
			return guard.Decision{}, withExit(ExitUsage, &probity.Error{Code: probity.EINVALID, File: history, Message: "no trace in file"})
		}
		if err := g.Replay(e.ctx, call.Run, tr); err != nil {
			return guard.Decision{}, withExit(ExitUsage, err)
		}
	}
	v, err := g.Decide(e.ctx, call)
	if err != nil {
		return v, withExit(ExitUsage, err)
	}
	return v, nil
}

func printVerdict(w io.Writer, st style, tool string, v guard.Decision) {
	word := v.Decision
	switch v.Decision {
	case "allow":
		word = st.green(word)
	case "deny":
		word = st.red(word)
	default:
		word = st.yellow(word)
	}
	fmt.Fprintf(w, "%s %s", word, tool)
	if v.Rule != "" {
		fmt.Fprintf(w, ": rule %s", st.bold(v.Rule))
	}
	if v.Would != "" {
		fmt.Fprintf(w, " (shadow: would %s)", v.Would)
	}
	fmt.Fprintln(w)
	if v.Message != "" {
		fmt.Fprintf(w, "  message:  %s\n", v.Message)
	}
	if v.Reason != "" && v.Reason != v.Message {
		fmt.Fprintf(w, "  reason:   %s\n", v.Reason)
	}
	for _, ev := range v.Evidence {
		fmt.Fprintf(w, "  evidence: %s\n", evidenceLine(ev))
	}
	if v.ApprovalID != "" {
		fmt.Fprintf(w, "  approval: %s (probity approvals approve %s)\n", v.ApprovalID, v.ApprovalID)
	}
	for _, e := range v.Errors {
		fmt.Fprintf(w, "  skipped:  %s\n", e)
	}
}

func evidenceLine(ev probity.Evidence) string {
	var parts []string
	if ev.Kind != "" {
		parts = append(parts, ev.Kind)
	}
	if ev.Value != "" {
		parts = append(parts, fmt.Sprintf("%q", ev.Value))
	}
	if ev.Note != "" {
		parts = append(parts, ev.Note)
	}
	if ev.SourceStep >= 0 && ev.Source != "" {
		parts = append(parts, fmt.Sprintf("(step %d: %s)", ev.SourceStep, oneLine(ev.Source, 80)))
	}
	return strings.Join(parts, " ")
}

// guardURL resolves --server: a URL, host:port, or @FILE holding the URL
// (written by guard serve --addr-file); FILE is waited for, up to 10 s, so
// a script can start the server in the background and go on.
func guardURL(ctx context.Context, s string) (string, error) {
	if s == "" {
		s = os.Getenv("PROBITY_GUARD_URL")
	}
	if s == "" {
		s = defaultGuardAddr
	}
	if file, ok := strings.CutPrefix(s, "@"); ok {
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(file)
			if err == nil && strings.TrimSpace(string(b)) != "" {
				s = strings.TrimSpace(string(b))
				break
			}
			if time.Now().After(deadline) {
				return "", withExit(ExitUsage, &probity.Error{Code: probity.ENOTFOUND, File: file, Message: "no guard server address after 10s"})
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return s, nil
}
