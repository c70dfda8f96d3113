package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

func newViewCmd(e *env) *cobra.Command {
	var listen, from, policyFile, configFile string
	var open bool
	cmd := &cobra.Command{
		Use:   "view FILES|RUN.jsonl...",
		Short: "Look at traces and eval runs in the web UI, without a server",
		Long: `View loads trace files (any format analyze reads, directories walked) and eval
run files into a temporary store, analyses every trace as "probity serve"
does, and serves the web UI read-only on loopback until Ctrl-C. It prints the
URL; --open also opens it in a browser. Nothing is kept: the store is deleted
on exit (feedback needs "probity serve").

The trace page shows the timeline with source positions, each finding with
its evidence at its step, the root cause, the side-effecting steps and the
blast radius of a cascade as a graph.`,
		Example: `  probity view examples/
  probity view --open examples/refund-cascade.json
  probity view ../shared/data/tau-bench/gpt-4o-airline.json run.jsonl --listen 127.0.0.1:7701`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !loopbackAddr(listen) {
				return withExit(ExitUsage, fmt.Errorf("--listen %s: probity view serves on loopback only (use probity serve with --token-file to share)", listen))
			}
			var cfg *detect.Config
			var err error
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
			return runView(e, args, viewOptions{listen: listen, from: from, open: open, analyzer: analysis.New(ao)})
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve on (port 0 picks a free port)")
	f.BoolVar(&open, "open", false, "open the URL in a browser")
	f.StringVar(&policyFile, "policy", "", "policy file (YAML) whose violations are reported as findings, as in analyze")
	f.StringVar(&configFile, "config", "", "YAML file naming tools and their classes, as in analyze")
	addFromFlag(cmd, &from)
	return cmd
}

type viewOptions struct {
	listen, from string
	open         bool
	analyzer     *analysis.Analyzer
}

// loopbackAddr reports whether addr's host is a loopback address or
// localhost.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runView(e *env, args []string, o viewOptions) error {
	start := time.Now()
	ctx := e.ctx
	dir, err := os.MkdirTemp("", "probity-view-")
	if err != nil {
		return withExit(ExitInternal, err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "probity.db"), sqlite.Options{})
	if err != nil {
		return withExit(ExitInternal, fmt.Errorf("open temporary store: %w", err))
	}
	defer st.Close()
	traces, runs, err := loadViewFiles(ctx, st, args, o.from, e)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{Store: st, Analyzer: o.analyzer})
	if err != nil {
		return withExit(ExitInternal, err)
	}
	if _, err := srv.AnalyseNow(ctx); err != nil {
		return withExit(ExitInternal, fmt.Errorf("analyse: %w", err))
	}
	fails, err := st.ListTraces(ctx, store.Filter{Verdict: string(probity.VerdictFail), Limit: store.MaxLimit})
	if err != nil {
		return withExit(ExitInternal, err)
	}
	pages, err := ui.New(ui.Options{Store: st, ReadOnly: true})
	if err != nil {
		return withExit(ExitInternal, err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withExit(ExitUsage, fmt.Errorf("--listen %s: %w", o.listen, err))
	}
	hs := &http.Server{Handler: pages, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	nf := fmt.Sprint(len(fails.Traces))
	if fails.NextCursor != "" {
		nf = "over " + nf
	}
	fmt.Fprintf(e.stderr, "probity view: read %d traces (%s failing after analysis), %d eval runs; ready in %s; Ctrl-C stops\n",
		traces, nf, runs, time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(e.stdout, url)
	if o.open {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(e.stderr, "probity view: could not open a browser (%v); open %s yourself\n", err, url)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return withExit(ExitInternal, err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return nil
}

// loadViewFiles stores every trace and eval run the arguments name.
// Directories are walked; files in them of no known format are skipped, as
// push does; a named file that cannot be read is an error.
func loadViewFiles(ctx context.Context, st store.Store, args []string, from string, e *env) (traces, runs int, err error) {
	var batch []*probity.Trace
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := server.StoreTraces(ctx, st, batch...)
		batch = batch[:0]
		return err
	}
	for _, arg := range args {
		walked := false
		if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
			walked = true
		}
		paths, err := ingest.Expand([]string{arg})
		if err != nil {
			return traces, runs, inputError(err)
		}
		for _, path := range paths {
			head, err := readHead(path)
			if err != nil {
				return traces, runs, inputError(err)
			}
			if isEvalRun(head) {
				data, err := os.ReadFile(path)
				if err != nil {
					return traces, runs, inputError(&probity.Error{Code: probity.EINVALID, File: path, Message: "read", Err: err})
				}
				run, err := server.ParseEvalRun(data)
				if err != nil {
					var pe *probity.Error
					if errors.As(err, &pe) {
						pe.File = path
					}
					return traces, runs, inputError(err)
				}
				if _, err := st.AddEvalRun(ctx, run); err != nil {
					return traces, runs, withExit(ExitInternal, err)
				}
				runs++
				continue
			}
			if walked && from == "" && ingest.Detect(head) == "" {
				continue
			}
			err = ingest.Each(ctx, []string{path}, ingest.Options{Format: from, Stdin: e.stdin}, func(t *probity.Trace) error {
				traces++
				batch = append(batch, t)
				if len(batch) >= 64 {
					return flush()
				}
				return nil
			})
			if err != nil {
				return traces, runs, inputError(err)
			}
		}
	}
	if err := flush(); err != nil {
		return traces, runs, inputError(err)
	}
	return traces, runs, nil
}

// openBrowser asks the desktop to open url.
func openBrowser(url string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		c = exec.Command("xdg-open", url)
	}
	return c.Start()
}
