package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/postgres"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

// Default addresses of `probity serve`.
const (
	defaultServeAddr = "127.0.0.1:7700"
	defaultServeDB   = "sqlite:./probity-data/probity.db"
)

func newServeCmd(e *env) *cobra.Command {
	var (
		addrFile                          string
		o                                 server.Options
		db, retain, tokenFile, configFile string
		policyFile, logFormat             string
		monitorsFile, approverTokenFile   string
		noMonitors                        bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive OpenTelemetry traces, analyse every finished trace, keep the results",
		Long: `Serve runs Probity as a server that agents export to. It receives OpenTelemetry
spans (OTLP/HTTP protobuf or JSON, gzip; OTLP/gRPC), stores them durably,
assembles each trace from its spans, and analyses it with the same detectors
and policy as "probity analyze" once its root span has ended and no span has
arrived for --trace-idle. A span that arrives later reopens the trace; it is
analysed again. Reports are kept and served over a JSON API:

  GET  /api/v1/traces?verdict=fail&detector=&service=&agent=&since=1h&until=&limit=&cursor=
  GET  /api/v1/traces/{id}            {"trace": ..., "analysis": <analyze --format json>}
  POST /api/v1/traces/{id}/feedback   {"label": "correct"|"incorrect", "step": 12, "note": "..."}
  GET  /api/v1/monitors, /api/v1/alerts?state=firing|resolved&monitor=
  GET  /api/v1/monitors/{name}/series?group=service.name=checkout&since=24h

Monitors watch quality rates over the analysed traces (failure verdicts,
high-severity detectors, policy denials, negative feedback, eval pass rates,
cost and latency per run), grouped by service and agent, and raise an alert
when a rate changes: a CUSUM tuned for a stated false-alarm rate, the change
dated by BOCPD, the rate before and after with intervals, example traces.
Alerts go to webhooks (Probity JSON, Alertmanager or Slack) from an outbox
that survives restarts. --monitors names the file (docs/monitors.md); the
defaults run without it. With replicas, one of them (the leader) counts.
  GET  /healthz, /readyz, /metrics (Prometheus)

The same address serves the web UI at / (traces, findings, blast radius,
eval runs, alerts; docs/ui.md), and the calls held for approval by every
"probity guard serve --db" on the same store, to approve or deny with the
guard's approver token (--approver-token-file).

An export is acknowledged only once its spans are durable. When the server is
overloaded it answers 429 / RESOURCE_EXHAUSTED with a retry delay (OTLP
exporters retry) instead of buffering without bound.

The store is SQLite in ./probity-data by default; --db postgres://... lets
several replicas share one PostgreSQL database (any replica may receive any
span; each trace is analysed once). Every address is loopback by default; a
non-loopback address needs --token-file, a file of bearer tokens with their
scopes, one per line:

  # TOKEN                              SCOPES
  0c4f7a9e2b1d8c6f5a3e9b7d1c2f4a6e     ingest
  9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b     read,ingest

With tokens, a browser opening the UI is sent to /login, where a person
pastes a read token once; the session is an HttpOnly, SameSite=Strict cookie
(Secure over TLS or with an https --external-url).

Point an OpenTelemetry-instrumented agent at it with the standard variables:

  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318   (or :4317 for gRPC)

See docs/serve.md for the API contract, replicas and the Collector.`,
		Example: `  probity serve
  probity push examples/ && curl -s 'http://127.0.0.1:7700/api/v1/traces?verdict=fail'
  probity serve --db postgres://probity@db/probity --listen 0.0.0.0:7700 --token-file tokens.txt
  probity serve --policy examples/policies/tau-retail.yaml --trace-idle 30s --retain 7d
  probity serve --monitors monitors.yaml --external-url https://probity.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(logFormat, "text", "json"); err != nil {
				return err
			}
			var err error
			if o.Retain, err = parseRetain(retain); err != nil {
				return withExit(ExitUsage, err)
			}
			if tokenFile != "" {
				if o.Tokens, err = server.LoadTokens(tokenFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			var cfg *detect.Config
			if configFile != "" {
				if cfg, err = detect.LoadConfig(configFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			ao := analysis.Options{Config: cfg}
			if policyFile != "" {
				if ao.Policy, err = policy.LoadFile(policyFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			o.Analyzer = analysis.New(ao)
			if !noMonitors {
				if o.Monitors, err = loadMonitors(monitorsFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(e.stderr, nil)
			}
			o.Logger = slog.New(h)
			return runServe(e, db, addrFile, o, approverTokenFile)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", defaultServeAddr, "address of the API (and OTLP/HTTP for probity push)")
	f.StringVar(&addrFile, "addr-file", "", "write the API's address to this file once listening (for scripts using port 0)")
	f.StringVar(&o.OTLPHTTP, "otlp-http", "127.0.0.1:4318", `address of the OTLP/HTTP receiver ("" turns it off)`)
	f.StringVar(&o.OTLPGRPC, "otlp-grpc", "127.0.0.1:4317", `address of the OTLP/gRPC receiver ("" turns it off)`)
	f.StringVar(&db, "db", defaultServeDB, "store: sqlite:PATH or postgres://USER@HOST/DB")
	f.DurationVar(&o.TraceIdle, "trace-idle", 10*time.Second, "analyse a trace once its root span ended and no span arrived for this long")
	f.StringVar(&retain, "retain", "30d", `delete traces with no new span for this long (e.g. 30d, 12h; "0" keeps them)`)
	f.StringVar(&tokenFile, "token-file", "", "file of bearer tokens and their scopes (ingest, read); required for a non-loopback address")
	f.StringVar(&policyFile, "policy", "", "policy file (YAML) whose violations are reported as findings, as in analyze")
	f.StringVar(&configFile, "config", "", "YAML file naming tools and their classes, as in analyze")
	f.IntVar(&o.Workers, "workers", 2, "traces analysed in parallel")
	f.StringVar(&monitorsFile, "monitors", "", "monitors file (YAML, see docs/monitors.md); without it the default monitors run")
	f.BoolVar(&noMonitors, "no-monitors", false, "run no monitors and send no alerts")
	f.StringVar(&o.ExternalURL, "external-url", "", "this server's URL as alert receivers reach it, for links in alerts")
	f.StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&approverTokenFile, "approver-token-file", "", "the guard's approver token, which the UI's approvals page asks for (default <config dir>/probity/approver-token, the guard's); never made here")
	return cmd
}

// approverTokenReader reads the guard's approver token for the UI's
// approvals page, each time it is needed: the guard may make the file
// after the server started. The server never makes it.
func approverTokenReader(path string) func() (string, error) {
	return func() (string, error) {
		p := path
		if p == "" {
			var err error
			if p, err = guard.DefaultApproverTokenFile(); err != nil {
				return "", err
			}
		}
		t, err := guard.ReadTokenFile(p)
		if err != nil {
			return "", fmt.Errorf("%v (start probity guard serve --db with this store, or pass --approver-token-file)", err)
		}
		return t, nil
	}
}

// parseRetain reads a retention period: a Go duration or a number of days
// ("30d"); "0" keeps traces forever.
func parseRetain(s string) (time.Duration, error) {
	if s == "0" || s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, probity.Errorf(probity.EINVALID, "--retain %q: want days (30d), a duration (12h) or 0", s)
}

// openStore opens the store a --db value names.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		return sqlite.Open(ctx, path, sqlite.Options{})
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.Options{})
	}
	return nil, probity.Errorf(probity.EINVALID, "--db %q: want sqlite:PATH or postgres://...", dsn)
}

func runServe(e *env, dsn, addrFile string, o server.Options, approverTokenFile string) error {
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGTERM)
	defer stop()
	st, err := openStore(ctx, dsn)
	if err != nil {
		if probity.ErrorCode(err) == probity.EINVALID {
			return withExit(ExitUsage, err)
		}
		return withExit(ExitInternal, fmt.Errorf("open store: %w", err))
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o.Store, o.Registerer, o.Gatherer = st, reg, reg
	if o.Monitors != nil {
		switch db := st.(type) {
		case *sqlite.DB:
			o.MonitorState = db.MonitorState()
		case *postgres.DB:
			o.MonitorState = db.MonitorState()
		}
	}
	uo := ui.Options{Store: st, Logger: o.Logger, MonitorConfig: o.Monitors, Login: o.Tokens != nil, ApproverToken: approverTokenReader(approverTokenFile)}
	switch db := st.(type) {
	case *sqlite.DB:
		uo.Approvals = db.GuardState()
	case *postgres.DB:
		uo.Approvals = db.GuardState()
	}
	if o.MonitorState != nil {
		uo.Monitors = o.MonitorState
	}
	if o.UI, err = ui.New(uo); err != nil {
		return withExit(ExitInternal, err)
	}
	srv, err := server.New(o)
	if err != nil {
		if probity.ErrorCode(err) == probity.EINVALID {
			return withExit(ExitUsage, err)
		}
		return err
	}
	fmt.Fprintf(e.stderr, "probity serve: UI and API http://%s  OTLP/HTTP %s  OTLP/gRPC %s  store %s\n",
		srv.Addr(), orOff(srv.OTLPHTTPAddr()), orOff(srv.OTLPGRPCAddr()), redactDSN(dsn))
	if err := writeAddrFile(addrFile, srv.Addr()); err != nil {
		srv.Stop()
		return err
	}
	if err := srv.Run(ctx); err != nil {
		return withExit(ExitInternal, err)
	}
	return nil
}

// loadMonitors reads a monitors file, or the defaults when path is "".
func loadMonitors(path string) (*monitor.Config, error) {
	if path == "" {
		return monitor.Default()
	}
	return monitor.LoadFile(path)
}

func orOff(a string) string {
	if a == "" {
		return "off"
	}
	return a
}

// redactDSN hides a password in a postgres URL before it is printed.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return dsn[:i+3] + rest[:c] + ":***" + rest[at:]
			}
		}
	}
	return dsn
}
