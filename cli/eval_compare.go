package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/probity/probity/eval"
)

func newEvalCompareCmd(e *env) *cobra.Command {
	var format string
	var margin, confidence float64
	cmd := &cobra.Command{
		Use:   "compare A.jsonl B.jsonl",
		Short: "Compare two runs case by case: is B worse than A?",
		Long: `Compare two run files of the same suite, A (the baseline) and B (the
candidate), paired by case: trial t of a case in A is paired with trial t of
the same case in B, and only the pairs where A and B disagree carry the
difference. It reports the posterior probability that B's pass rate is lower
than A's by more than --margin (Dirichlet posterior over the paired table,
exact), the exact one-sided McNemar p-value, newly failing cases (passed at
least sometimes in A, never in B), newly flaky cases (always passed in A,
sometimes failed in B) and fixed ones. Error trials drop their pair.

B has regressed when that probability is at least --confidence: then the
exit status is 1. Markdown suits a pull-request comment, JUnit XML a CI
system; JSON has at least {"p_worse", "regressed"}.`,
		Example: `  probity eval compare main.jsonl branch.jsonl
  probity eval compare main.jsonl branch.jsonl --margin 0.05 --format markdown
  probity eval compare main.jsonl branch.jsonl --format json | jq .p_worse`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(format, eval.FormatText, eval.FormatJSON, eval.FormatMarkdown, eval.FormatJUnit); err != nil {
				return err
			}
			if !(margin >= 0 && margin < 1) {
				return withExit(ExitUsage, fmt.Errorf("--margin %v: want a pass-rate drop in [0, 1)", margin))
			}
			if !(confidence > 0.5 && confidence < 1) {
				return withExit(ExitUsage, fmt.Errorf("--confidence %v: want a probability in (0.5, 1)", confidence))
			}
			a, err := eval.ScanRun(args[0])
			if err != nil {
				return withExit(ExitUsage, err)
			}
			b, err := eval.ScanRun(args[1])
			if err != nil {
				return withExit(ExitUsage, err)
			}
			if a.Header.Suite != b.Header.Suite {
				fmt.Fprintf(e.stderr, "probity: warning: comparing runs of different suites (%q and %q); cases pair by id\n", a.Header.Suite, b.Header.Suite)
			}
			if !c.Flags().Changed("margin") && b.Header.Gate.MaxRegression != nil {
				margin = *b.Header.Gate.MaxRegression
			}
			cmp := eval.Compare(a, b, eval.CompareOptions{Margin: margin, Confidence: confidence})
			if err := eval.WriteComparison(e.stdout, cmp, format); err != nil {
				return err
			}
			if cmp.Regressed {
				return withExit(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json, markdown or junit")
	cmd.Flags().Float64Var(&margin, "margin", 0.02, "the pass-rate drop that matters (default: the suite's gate.max_regression, else 0.02)")
	cmd.Flags().Float64Var(&confidence, "confidence", 0.95, "posterior probability at which a drop counts as a regression")
	return cmd
}
