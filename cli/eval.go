package cli

import (
	"github.com/spf13/cobra"

	"github.com/probity/probity/eval"
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
	cmd.AddCommand(newEvalRunCmd(e), newEvalCompareCmd(e), newEvalSchemaCmd(e),
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
