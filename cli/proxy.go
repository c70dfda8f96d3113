package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/proxy"
	"github.com/spf13/cobra"
)

// proxyFlags are the flags proxy, replay --fork-at and repro share.
type proxyFlags struct {
	listen        string
	allowRemote   bool
	addrFile      string
	redactHeaders []string
	redactFields  []string
	timeout       time.Duration
	idleTimeout   time.Duration
	quiet         bool
}

func (f *proxyFlags) addListen(cmd *cobra.Command, def string) {
	cmd.Flags().StringVar(&f.listen, "listen", def, "address to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().BoolVar(&f.allowRemote, "allow-remote", false, "allow listening on a non-loopback address (the proxy relays your API keys)")
	cmd.Flags().StringVar(&f.addrFile, "addr-file", "", "write the address actually listened on to this file once ready (for scripts using port 0)")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "do not log each exchange on stderr")
}

func (f *proxyFlags) addUpstream(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.redactHeaders, "redact-header", nil, "extra request/response header to redact in recordings (repeatable)")
	cmd.Flags().StringSliceVar(&f.redactFields, "redact-field", nil, "JSON body field to redact in recordings, at any depth (repeatable)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Minute, "longest wait for the upstream's response headers (then 504)")
	cmd.Flags().DurationVar(&f.idleTimeout, "idle-timeout", 5*time.Minute, "longest silence inside a response body (then the stream ends)")
}

func (f *proxyFlags) logger(e *env) *slog.Logger {
	if f.quiet {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// listen opens the listener after checking the address is loopback (or
// --allow-remote), and writes --addr-file.
func (f *proxyFlags) open() (net.Listener, error) {
	if err := proxy.CheckListen(f.listen, f.allowRemote); err != nil {
		return nil, withExit(ExitUsage, err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, withExit(ExitUsage, fmt.Errorf("listen on %s: %w", f.listen, err))
	}
	if err := writeAddrFile(f.addrFile, ln.Addr().String()); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// writeAddrFile writes the address a server listens on to path (for
// scripts that listen on port 0); "" writes nothing. The file is written
// whole and renamed, so a script polling for it never reads half an
// address.
func writeAddrFile(path, addr string) error {
	if path == "" {
		return nil
	}
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return withExit(ExitUsage, fmt.Errorf("--addr-file: %w", err))
	}
	return nil
}

func (f *proxyFlags) options(upstream, record string, log *slog.Logger) proxy.Options {
	return proxy.Options{Upstream: upstream, RecordDir: record, Logger: log, RedactHeaders: f.redactHeaders,
		RedactFields: f.redactFields, ResponseTimeout: f.timeout, StreamIdleTimeout: f.idleTimeout}
}

func newProxyCmd(e *env) *cobra.Command {
	var f proxyFlags
	var upstream, record, reportTo, reportToken string
	var gf guardFlags
	cmd := &cobra.Command{
		Use:   "proxy --upstream URL [--listen 127.0.0.1:PORT] [--record DIR] [--policy FILE]",
		Short: "Record every model call of an agent without changing its code",
		Long: `Proxy is a reverse proxy for the OpenAI (Chat Completions, Responses) and
Anthropic (Messages) APIs. Point the agent's base URL at it and nothing else
changes: streams pass through event by event, compressed bodies stay
compressed, errors and rate limits pass through unchanged. If the upstream
is down, slow or breaks, the agent gets a JSON error (502 or 504), never a hang.

With --record DIR every exchange is kept, off the request path, in
DIR/cassettes/<run>.json (a versioned format, see proxy/CASSETTE.md; one file
per run, replaced atomically), and the agent's conversation is rebuilt into
DIR/traces/<run>.json, which 'probity analyze' reads. A run is named by an
X-Probity-Run header, or by a base URL of the form
http://HOST:PORT/_probity/run/<run>/v1; otherwise requests are grouped by
their shared conversation history.

Secrets never reach disk or the log: credential headers (Authorization,
X-Api-Key, any header named with key, token, auth, secret, ...), key query
parameters, a password or key in --upstream, and the headers and JSON fields
you name with --redact-header and --redact-field are replaced by REDACTED, as
is any other occurrence of those values and any text shaped like a known
kind of key (sk-..., AKIA..., ghp_...). The --audit log is redacted the same
way. A body in an encoding the proxy cannot decode is not stored.

With --policy FILE every tool call in a model response is checked against
the policy (docs/policy.md) before the agent sees it, streamed responses
included. A denied call is replaced by a refusal the model can read ("Tool
call refund_order was blocked by policy rule ..."), so the agent never runs
it; "approve" rules hold the response until a person answers or the approval
times out. Decisions go to the --audit log and into the cassette. A policy in
shadow mode only logs what it would have blocked.

The guard fails closed: a success response it cannot fully read and check (a
content encoding it cannot decode, a body that is not the API's JSON, a
stream cut inside a tool call) is not passed on. The agent gets an error
(probity_guard_unchecked) naming the reason, and the audit log a
"refused-response" entry. With --policy the proxy asks the upstream for
gzip, deflate or br only, and sends the agent the decoded body.

With --report-to URL (and --record) each run's trace is also sent to a
probity serve as it grows, off the request path: the server analyses it
like any other trace and its monitors count it. A server that is down does
not slow the agent; sends are retried, and on exit the proxy says which runs
did not reach it and how to push them.

The proxy listens on loopback only unless you pass --allow-remote. Stop it
with Ctrl-C: it finishes writing the recording first.`,
		Example: `  probity proxy --upstream https://api.openai.com --listen 127.0.0.1:8080 --record rec/
  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 python my_agent.py
  probity analyze rec/traces/

  probity proxy --upstream https://api.anthropic.com --record rec/ --redact-field customer_email
  ANTHROPIC_BASE_URL=http://127.0.0.1:8080 node agent.js

  probity proxy --upstream https://api.openai.com --policy examples/policies/tau-retail.yaml

  probity proxy --upstream https://api.openai.com --record rec/ --report-to http://127.0.0.1:7700`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if upstream == "" {
				return withExit(ExitUsage, fmt.Errorf("--upstream is required (for example --upstream https://api.openai.com)"))
			}
			if reportTo != "" && record == "" {
				return withExit(ExitUsage, fmt.Errorf("--report-to sends the traces the proxy records: add --record DIR"))
			}
			log := f.logger(e)
			opts := f.options(upstream, record, log)
			var rep *reporter
			if reportTo != "" {
				p := &pusher{e: e, base: strings.TrimSuffix(reportTo, "/"), client: &http.Client{Timeout: time.Minute}}
				if reportToken != "" {
					tok, err := readToken(reportToken)
					if err != nil {
						return withExit(ExitUsage, err)
					}
					p.token = tok
				}
				rep = startReporter(p, log)
				opts.OnTrace = rep.changed
				defer rep.stop()
			}
			// One redactor for the recording and the audit log: a key seen
			// in a request is scrubbed from both.
			opts.Redactor = redact.New(f.redactHeaders, f.redactFields)
			gf.redactor = opts.Redactor
			shown := opts.Redactor.URL(upstream)
			if gf.policy != "" {
				g, closeGuard, err := gf.open(e, log)
				if err != nil {
					return err
				}
				defer closeGuard()
				opts.Guard = guard.ProxyHook(g)
				opts.Refused = guard.ProxyRefusedHook(g)
			}
			p, err := proxy.New(opts)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			ln, err := f.open()
			if err != nil {
				return err
			}
			base := "http://" + ln.Addr().String()
			fmt.Fprintf(e.stderr, "probity proxy: %s -> %s\n", base, shown)
			fmt.Fprintf(e.stderr, "  OPENAI_BASE_URL=%s/v1  ANTHROPIC_BASE_URL=%s\n", base, base)
			if record != "" {
				fmt.Fprintf(e.stderr, "  recording to %s\n", record)
			}
			if rep != nil {
				fmt.Fprintf(e.stderr, "  reporting traces to %s\n", rep.p.base)
			}
			err = proxy.Serve(e.ctx, ln, p)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cerr := p.Close(ctx)
			st := p.Stats()
			if record != "" {
				fmt.Fprintf(e.stderr, "probity proxy: %d requests, %d runs recorded in %s (%d upstream errors, %d failed writes)\n",
					st.Requests, len(p.Runs()), record, st.UpstreamErrors, st.WriteErrors)
				for _, r := range p.Runs() {
					fmt.Fprintln(e.stdout, proxy.CassettePath(record, r))
				}
			}
			if rep != nil {
				// After Close: the recorder has written every trace, so
				// what is due now is the runs' final state.
				sent, unsent, rerr := rep.finish(30 * time.Second)
				fmt.Fprintf(e.stderr, "probity proxy: reported %d runs to %s\n", sent, rep.p.base)
				if len(unsent) > 0 {
					fmt.Fprintf(e.stderr, "probity proxy: %d runs not reported (%v); retry with: probity push --server %s %s\n",
						len(unsent), rerr, rep.p.base, filepath.Join(record, "traces"))
				}
			}
			if err != nil {
				return err
			}
			if cerr != nil {
				return cerr
			}
			if st.WriteErrors > 0 {
				return withExit(ExitFindings, probity.Errorf(probity.EINTERNAL, "%d recording writes failed; see the log above", st.WriteErrors))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&upstream, "upstream", "", "base URL of the model API (https://api.openai.com, https://api.anthropic.com, ...), or auto: Anthropic Messages calls to api.anthropic.com, the rest to api.openai.com")
	cmd.Flags().StringVar(&record, "record", "", "directory to record cassettes and traces into")
	cmd.Flags().StringVar(&reportTo, "report-to", "", "URL of a probity serve API to send each recorded run's trace to as it grows (needs --record)")
	cmd.Flags().StringVar(&reportToken, "report-token-file", "", "file whose first token is sent to --report-to (needs the ingest scope)")
	gf.addOptional(cmd, "policy file (YAML): check every tool call in model responses before the agent sees it")
	f.addListen(cmd, "127.0.0.1:8080")
	f.addUpstream(cmd)
	return cmd
}
