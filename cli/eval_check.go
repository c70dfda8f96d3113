package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/probity/probity/eval"
)

func newEvalCheckCmd(e *env) *cobra.Command {
	var format, dataset string
	var maxTrivial float64
	var seed uint64
	cmd := &cobra.Command{
		Use:   "check SUITE",
		Short: "Prove a suite can fail: run its assertions against trivial agents",
		Long: `Before an eval's numbers mean anything, it must be able to fail. "eval check"
runs SUITE's assertions, without calling its target, against what five
trivial agents would answer for every case:

  empty        answers "" and calls nothing
  echo         answers the case's input back
  refusal      declines politely and calls nothing
  random-tool  calls one tool from the suite's vocabulary, no arguments
  no-tools     says it is done and calls nothing

and reports every case a trivial agent passes, cases with no assertion on the
outcome (only budgets or prohibitions, or assertions that compare with an
expected value the case lacks), cases whose expected values all appear in the
input, and cases with the same input (conflicting when their expected values
differ). Judge assertions are not run (they would call a model).

Exit status: 1 when the share of cases a do-nothing agent (empty, refusal or
no-tools) passes is above --max-trivial-pass; 2 for a bad suite or flag.
"eval run" prints the same check as a warning before it starts.`,
		Example: `  probity eval check examples/eval/suite.yaml
  probity eval check suite.yaml --format json | jq .do_nothing_share
  probity eval check examples/eval/taubench/airline.yaml --dataset ../shared/data/tau-bench/gpt-4o-airline.json
  probity eval check suite.yaml --max-trivial-pass 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(format, eval.FormatText, eval.FormatJSON); err != nil {
				return err
			}
			if !(maxTrivial >= 0 && maxTrivial <= 1) {
				return withExit(ExitUsage, fmt.Errorf("--max-trivial-pass %v: want a share in [0, 1]", maxTrivial))
			}
			suite, cases, err := loadSuiteCases(args[0], dataset)
			if err != nil {
				return err
			}
			limit := maxTrivial
			if limit == 0 {
				limit = -1 // CheckOptions reads 0 as "default"; -1 is "no trivial pass at all"
			}
			r, err := eval.CheckSuite(e.ctx, suite, cases, eval.CheckOptions{MaxTrivialPass: limit, Seed: seed})
			if err != nil {
				return withExit(ExitUsage, err)
			}
			if err := eval.WriteSuiteCheck(e.stdout, r, format); err != nil {
				return err
			}
			if r.Failed {
				return withExit(ExitFindings, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "output format: text or json (one object per line)")
	f.StringVar(&dataset, "dataset", "", "read the cases from this file instead of the suite's dataset (format from its extension; τ-bench .json is recognised)")
	f.Float64Var(&maxTrivial, "max-trivial-pass", eval.DefaultMaxTrivialPass, "largest acceptable share of cases a do-nothing agent passes")
	f.Uint64Var(&seed, "seed", 0, "seed of the random-tool agent's choice of tool")
	return cmd
}

// loadSuiteCases loads a suite and its cases, from dataset when given
// (replacing the suite's dataset and inline cases). Errors exit 2.
func loadSuiteCases(path, dataset string) (*eval.Suite, []eval.Case, error) {
	suite, err := eval.LoadSuite(path)
	if err != nil {
		return nil, nil, withExit(ExitUsage, err)
	}
	if dataset != "" {
		cases, err := eval.LoadDataset(dataset, "")
		if err != nil {
			return nil, nil, withExit(ExitUsage, err)
		}
		return suite, cases, nil
	}
	cases, err := suite.LoadCases()
	if err != nil {
		return nil, nil, withExit(ExitUsage, err)
	}
	return suite, cases, nil
}

// warnEvalCheck prints the check's warning before a run starts. The check
// never blocks a run: it may only say the numbers to come could mislead.
func warnEvalCheck(e *env, suite *eval.Suite, cases []eval.Case) {
	r, err := eval.CheckSuite(e.ctx, suite, cases, eval.CheckOptions{})
	if err != nil {
		return // the run compiles the same assertions and reports the error itself
	}
	if w := r.Warning(); w != "" {
		fmt.Fprintf(e.stderr, "probity: warning: %s\n", w)
	}
}
