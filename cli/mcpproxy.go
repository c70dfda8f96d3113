package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/mcpproxy"
)

func newMCPProxyCmd(e *env) *cobra.Command {
	var f guardFlags
	var access accessFlags
	var tracePath, run, listen, upstream, guardAddr string
	var dropPoisoned bool
	cmd := &cobra.Command{
		Use:   "mcp-proxy --policy FILE [flags] -- COMMAND [ARGS...]",
		Short: "Guard an MCP server: check every tools/call against a policy",
		Long: `Mcp-proxy sits between an MCP host (an IDE, a desktop assistant, an agent)
and an MCP server. Every tools/call is checked against the policy first: a
denied call returns a tool error carrying the rule's message and the server
never sees it; a rule with "action: approve" holds the call until a person
answers (probity approvals, served with --guard-addr) or it times out.
Resources and prompts pass through unchanged.

At tools/list the tools' descriptions are checked for instruction-like text
aimed at the model (tool poisoning: "ignore previous instructions", hidden
<IMPORTANT> blocks, "do not tell the user", requests to read credentials);
such tools are reported on stderr and in the audit log, and hidden with
--drop-poisoned.

Every call is recorded in --trace as OpenAI chat messages, one per line, which
"probity analyze" and "probity show" read. A directory gives one file per run.

The server: COMMAND [ARGS...] after "--" is started and spoken to over stdio;
--upstream URL connects to a Streamable HTTP server instead.
The host: by default the proxy speaks MCP on its own stdin and stdout, so a
host starts "probity mcp-proxy ... -- SERVER" where it started SERVER; with
--listen ADDR it serves Streamable HTTP instead (each MCP session is a run).
Logs go to stderr only: stdout belongs to the MCP connection.

Approvals are served only on --guard-addr, never on the host's connection,
and resolving them needs the approver token (--approver-token-file): the
host, and the agent in it, must not approve its own calls. Both addresses
are loopback unless --allow-remote, which needs a client token in
$PROBITY_GUARD_TOKEN that every host and client then sends.`,
		Example: `  probity mcp-proxy --policy fs-policy.yaml --trace mcp-trace.jsonl -- npx -y @modelcontextprotocol/server-filesystem /srv/data
  probity mcp-proxy --policy fs-policy.yaml --listen 127.0.0.1:8701 --guard-addr 127.0.0.1:8702 --upstream http://127.0.0.1:9000/mcp
  probity approvals list --server 127.0.0.1:8702

  # in an MCP host's configuration, where the server was:
  "command": "probity", "args": ["mcp-proxy", "--policy", "fs-policy.yaml", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 0) == (upstream == "") {
				return withExit(ExitUsage, errors.New(`give the MCP server as "-- COMMAND [ARGS...]" or as --upstream URL (one of them)`))
			}
			// Addresses and tokens are checked before anything starts.
			var mcpLn, guardLn net.Listener
			var hopts guard.HTTPOptions
			var err error
			if listen != "" {
				if mcpLn, err = access.listen(listen, "--listen"); err != nil {
					return err
				}
				defer mcpLn.Close()
			}
			if guardAddr != "" {
				if guardLn, err = access.listen(guardAddr, "--guard-addr"); err != nil {
					return err
				}
				defer guardLn.Close()
				if hopts, err = access.options(e, "mcp-proxy"); err != nil {
					return err
				}
			}
			logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			g, closeGuard, err := f.open(e, logger)
			if err != nil {
				return err
			}
			defer closeGuard()
			var backend mcp.Transport
			if upstream != "" {
				backend = &mcp.StreamableClientTransport{Endpoint: upstream}
			} else {
				c := exec.Command(args[0], args[1:]...)
				c.Stderr = e.stderr // the server's own logs
				// A server that ignores its closed stdin gets SIGTERM after 2s.
				backend = &mcp.CommandTransport{Command: c, TerminateDuration: 2 * time.Second}
			}
			ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
			px, err := mcpproxy.Connect(ctx, backend, mcpproxy.Options{Guard: g, Logger: logger, Trace: tracePath, Run: run, DropPoisoned: dropPoisoned})
			cancel()
			if err != nil {
				return withExit(ExitUsage, err)
			}
			defer px.Close()
			fmt.Fprintf(e.stderr, "probity mcp-proxy: %s\n", describePolicy(g.Policy()))
			// When the server goes away the proxy stops too, so the host
			// sees its server end rather than a proxy that fails every call.
			sctx, stop := context.WithCancel(e.ctx)
			defer stop()
			var serverGone atomic.Bool
			go func() {
				select {
				case <-px.Done():
					serverGone.Store(sctx.Err() == nil)
					stop()
				case <-sctx.Done():
				}
			}()
			e := *e
			e.ctx = sctx
			if guardLn != nil {
				defer serveGuardAPI(&e, g, guardLn, hopts)()
			}
			if mcpLn == nil {
				err = px.ServeStdio(e.ctx, mcpproxy.StdioTransport(e.stdin, e.stdout))
			} else {
				err = serveMCPHTTP(&e, px, mcpLn, hopts.ClientToken)
			}
			printShadow(e.stderr, g)
			if serverGone.Load() {
				return withExit(ExitUsage, errors.New("the MCP server exited"))
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&tracePath, "trace", "", "record calls here: a JSON Lines file, or a directory for one file per run")
	cmd.Flags().StringVar(&run, "run", "", "run id of the stdio host (default mcp-<start time>)")
	cmd.Flags().StringVar(&listen, "listen", "", "serve hosts over Streamable HTTP on this address (at /mcp)")
	cmd.Flags().StringVar(&upstream, "upstream", "", "URL of a Streamable HTTP MCP server, instead of a command")
	cmd.Flags().StringVar(&guardAddr, "guard-addr", "", "also serve the guard's decision and approvals API (/v1/) here, for probity approvals; never the hosts' address")
	access.add(cmd)
	cmd.Flags().BoolVar(&dropPoisoned, "drop-poisoned", false, "hide tools whose descriptions hold instruction-like text")
	return cmd
}

// serveMCPHTTP serves the proxy to hosts at /mcp on ln, and nothing else.
func serveMCPHTTP(e *env, px *mcpproxy.Proxy, ln net.Listener, clientToken string) error {
	mux := http.NewServeMux()
	mux.Handle("/mcp", px.Handler(clientToken))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "probity mcp-proxy: serving MCP on http://%s/mcp\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-e.ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// serveGuardAPI serves the guard's decision and approvals API on ln in the
// background, so that approve rules can be answered while hosts talk to
// the proxy; the returned func stops it.
func serveGuardAPI(e *env, g *guard.Guard, ln net.Listener, opts guard.HTTPOptions) (stop func()) {
	fmt.Fprintf(e.stderr, "probity mcp-proxy: approvals at http://%s (probity approvals --server %s)\n", ln.Addr(), ln.Addr())
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = guard.Serve(ctx, ln, g, opts)
	}()
	return func() { cancel(); <-done }
}
