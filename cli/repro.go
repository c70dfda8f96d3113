package cli

import (
	"fmt"
	"os"

	"github.com/probity/probity/proxy/repro"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newReproCmd(e *env) *cobra.Command {
	var f proxyFlags
	var runs, conc int
	var pass, dir, upstream, format string
	var level float64
	cmd := &cobra.Command{
		Use:   "repro --runs N [--concurrency C] [--pass CEL] -- COMMAND [ARGS...]",
		Short: "Run an agent N times and measure how often, and how, it fails",
		Long: `Repro runs an agent N times through a recording proxy and reports its failure
rate with a Wilson interval, and the distinct ways it fails.

Each run gets the proxy in OPENAI_BASE_URL (.../v1) and ANTHROPIC_BASE_URL, under
a per-run path (/_probity/run/<run>/), so its calls are recorded in its own
cassette without the agent setting any header. PROBITY_RUN and
PROBITY_RUN_INDEX name the run.

A run passes when it exits 0, or, with --pass, when a CEL condition holds.
The condition sees exit_code (int), output (the agent's stdout and stderr),
calls (model calls made) and trace (the run's rebuilt trace: trace.steps[i]
.kind/.content/.tool.name/.tool.args, trace.tools, trace.final).

Failing runs are clustered by where each first departs from the closest
passing run: the call, and the field of the request (a JSON path) where the
conversation went another way. Every run's cassette, trace and output log are
kept in --dir, so any failing run can be replayed with 'probity replay'.

The exit status is 0 when every run passed, 1 when some failed, 2 on bad usage.`,
		Example: `  probity repro --runs 20 --concurrency 4 -- python agent.py
  probity repro --runs 30 --pass 'exit_code == 0 && !("cancel_order" in trace.tools)' -- ./agent
  probity repro --runs 10 --format json -- node agent.js | jq .failure_rate`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return withExit(ExitUsage, fmt.Errorf("put the agent command after --, e.g. probity repro --runs 10 -- python agent.py"))
			}
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			if dir == "" {
				d, err := os.MkdirTemp(".", "probity-repro-")
				if err != nil {
					return err
				}
				dir = d
			}
			opts := repro.Options{Command: args, Runs: runs, Concurrency: conc, Dir: dir, Pass: pass, Level: level,
				Proxy: f.options(upstream, dir, f.logger(e))}
			if fd, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
				opts.Progress = func(done, total int) { fmt.Fprintf(e.stderr, "\rprobity repro: %d/%d runs", done, total) }
			}
			rep, err := repro.Run(e.ctx, opts)
			if opts.Progress != nil {
				fmt.Fprintln(e.stderr)
			}
			if err != nil {
				return withExit(ExitUsage, err)
			}
			if format == "json" {
				if err := writeJSONLine(e.stdout, rep); err != nil {
					return err
				}
			} else {
				repro.WriteText(e.stdout, rep)
			}
			if rep.Failures > 0 {
				return withExit(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 10, "how many times to run the agent")
	cmd.Flags().IntVar(&conc, "concurrency", 1, "how many runs at once")
	cmd.Flags().StringVar(&pass, "pass", "", "CEL condition a passing run satisfies (default: exit_code == 0)")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for cassettes, traces and logs (default: a new ./probity-repro-* directory)")
	cmd.Flags().StringVar(&upstream, "upstream", "auto", "model API the proxy forwards to; auto sends Anthropic Messages calls to api.anthropic.com and the rest to api.openai.com")
	cmd.Flags().Float64Var(&level, "level", 0.95, "confidence level of the interval")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	f.quiet = true
	f.addUpstream(cmd)
	return cmd
}
