package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity/eval"
	"github.com/probity/probity/internal/testagent"
)

// newEvalCmd is `probity eval`: run suites k times with honest statistics,
// compare runs, and print the suite schema.
func newEvalCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Run evaluation suites k times with intervals, pass^k, early stopping and a CI gate",
		Long: `Evaluate an agent the way its failures happen: stochastically.

Agents answer the same input differently from run to run, so one run of a case
proves little. "probity eval run" runs every case of a suite k times against
your agent (an HTTP endpoint, a subprocess, or a chat model with tools), checks
every trial with assertions, and reports each case's pass rate with a 95%
interval and a class (stable-pass, stable-fail, flaky), the suite's pass rate
with a cluster-aware interval, pass@k and pass^k, trials saved by early
stopping, cost and latency, and a gate verdict for CI (exit 1 when it fails).

A trial whose target crashes, hangs, times out, answers garbage or HTTP 5xx is
an ERROR: recorded, reported apart, and never counted as a failure.

Every trial is streamed to a run file (JSON Lines) as it completes, so a crash
or Ctrl-C loses nothing; --resume continues the run. "probity eval compare"
pairs two run files case by case and says how likely it is that the second is
worse than the first.`,
		Example: `  probity eval run examples/eval/suite.yaml
  probity eval run suite.yaml --out run.jsonl --format json
  probity eval run suite.yaml --baseline main.jsonl --format markdown
  probity eval compare main.jsonl branch.jsonl --format markdown
  probity eval schema > suite.schema.json`,
	}
	cmd.AddCommand(newEvalRunCmd(e), newEvalCompareCmd(e), newEvalSchemaCmd(e), newEvalAgentCmd(e),
		newEvalCheckCmd(e), newEvalMutateCmd(e))
	return cmd
}

func newEvalSchemaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of suite files",
		Long: `Print the JSON Schema (draft 2020-12) of eval suite files, so editors can
complete and check them. With the YAML language server, put this first line in
a suite:

  # yaml-language-server: $schema=suite.schema.json`,
		Example: `  probity eval schema > suite.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := e.stdout.Write(eval.SuiteSchema)
			return err
		},
	}
}

// newEvalAgentCmd is a small stochastic demo agent whose pass rate per case
// is set by the case (input.p); the bundled examples and the tests run
// against it. It is hidden: it is a fixture, not a feature.
func newEvalAgentCmd(e *env) *cobra.Command {
	var listen string
	var seed uint64
	var delta float64
	cmd := &cobra.Command{
		Use:    "agent",
		Short:  "Run the demo agent (exec target on stdin/stdout, or HTTP with --listen)",
		Hidden: true,
		Long: `Run a small stochastic demo agent: it answers input.answer with probability
input.p (else a wrong answer), optionally after input.latency_ms, calling
input.tools on the way; input.error makes it fail as a target (500, crash,
hang, garbage, 429). Without --listen it answers one request from stdin on
stdout (an exec target); with --listen it serves HTTP until interrupted and
prints its URL.`,
		Example: `  echo '{"id":"a","trial":0,"input":{"p":0.8}}' | probity eval agent
  probity eval agent --listen 127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			a := &testagent.Agent{Seed: seed, Delta: delta}
			if listen == "" {
				err := a.RunExec(e.ctx, e.stdin, e.stdout, e.stderr)
				if errors.Is(err, testagent.ErrCrash) {
					return withExit(ExitFindings+2, nil)
				}
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(e.stdout, "http://%s/\n", ln.Addr())
			go func() {
				<-e.ctx.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "serve HTTP on this address (host:port) instead of answering one request on stdin")
	cmd.Flags().Uint64Var(&seed, "seed", envSeed(), "seed of the agent's draws (default $PROBITY_AGENT_SEED or 0)")
	cmd.Flags().Float64Var(&delta, "delta", envDelta(), "add this to every case's pass probability; negative plants a regression (default $PROBITY_AGENT_DELTA or 0)")
	return cmd
}

func envSeed() uint64 {
	var s uint64
	fmt.Sscan(os.Getenv("PROBITY_AGENT_SEED"), &s)
	return s
}

func envDelta() float64 {
	var d float64
	fmt.Sscan(os.Getenv("PROBITY_AGENT_DELTA"), &d)
	return d
}
