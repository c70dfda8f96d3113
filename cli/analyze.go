package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/judge"
	"github.com/probity/probity/localize"
	"github.com/probity/probity/policy"
)

// collectSiblings reads the inputs once for the passing runs of each task,
// so a failing run is compared with its passing siblings wherever they sit
// in the input. Stdin, pipes and devices cannot be read twice: with one of
// them among the inputs the siblings method is left out. Errors are the
// main pass's to report.
func collectSiblings(e *env, args []string, from string) *analysis.Siblings {
	for _, a := range args {
		if a == "-" {
			return nil
		}
		if st, err := os.Stat(a); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
			return nil
		}
	}
	s := analysis.NewSiblings()
	_ = ingest.Each(e.ctx, args, ingest.Options{Format: from}, func(t *probity.Trace) error {
		s.Add(t)
		return nil
	})
	return s
}

func newAnalyzeCmd(e *env) *cobra.Command {
	var format, from, failOn, configFile, policyFile, referenceFile, judgeFile string
	var summary, onlyFailing bool
	cmd := &cobra.Command{
		Use:   "analyze FILES...",
		Short: "Find where agents were confidently wrong, with evidence and blast radius",
		Long: `Analyze runs Probity's deterministic detectors over agent traces (no LLM calls)
and reports, for each trace, a verdict (ok, suspect, fail), the root-cause step,
and every finding with the evidence it rests on:

  ungrounded-argument   a tool call carries a value nothing the agent saw supports
  contradicted-claim    the agent tells the user a value the evidence contradicts
  cascade               a bad value is carried on by later steps (its blast radius)
  swallowed-error       a tool or command failed and the agent went on as if not
  unverified-success    the agent claims success the evidence does not back
  loop                  the same call or message again and again, no progress
  injected-instruction  orders hidden in tool results, followed by an action

Steps are 0-based positions in the source list (τ-bench "traj", Who&When
"history", SWE-agent "messages"). Which tools have side effects is guessed from
their names (cancel, refund, send, update, ...); --config names them exactly:

  tools:
    issue_refund: side-effect      # or read-only, calculator
    "crm_*": side-effect           # globs work

--format json prints one object per trace per line (a stable contract):
  {"trace_id", "source", "verdict", "root_cause_step",
   "findings": [{"detector", "severity", "confidence", "step", "message",
                 "evidence": [{"value", "kind", "class", "source", "source_step", "note"}],
                 "blast_radius": [steps]}],
   "localization": null | {"step", "agent", "method", "confidence",
                           "candidates": [{"step", "agent", "score", "reason"}]}}

--policy FILE adds a policy's rules (docs/policy.md: the same file the runtime
guard enforces) as one more detector: each violation is a finding
"policy:<rule>" on the call's step, with the rule's severity.

For a run that failed (its reward or verdict says so, or its reference
disagrees), "localization" says where the failure began: the step, the
agent, the method (reference:actions, reference:answer, siblings,
findings), a confidence and ranked candidates with reasons; null for a run
that did not fail. References come from the trace (τ-bench expected actions
and outputs, Who&When ground truth), from --reference FILE (a τ-bench tasks
list or eval cases, matched by task id), and from passing runs of the same
task among the inputs. Labels of where a run failed (mistake_step, ...) are
never used. See docs/localization.md.

--judge CONFIG adds an LLM judge (docs/judge.md): for a sampled share of the
failed runs it asks a model, given the evidence above and the numbered steps,
which step and agent caused the failure, the minimal fix and whether it would
have saved the run; k votes give an agreement with a 95% Wilson interval.
Answers are cached by content hash, and a budget in tokens and dollars is
checked before each call. With --format json each line gains "judge" beside
"localization" (null for runs not judged):
  {"status", "step", "agent", "reason", "fix", "fix_saves", "confidence",
   "votes", "agreeing", "agreement", "interval": [lo, hi], "model", "cached"}
Runs that --summary or --only-failing do not print are not judged (no money
is spent on answers nobody sees). A summary of calls, cache hits, tokens and
dollars goes to stderr. Its accuracy depends on the model and has not been
measured by this project.

Verdict: fail when a finding is high, suspect when one is medium, else ok.
root_cause_step is the earliest origin among the most severe findings (a
cascade's birth, the call whose result failed), or null. A step longer than
256 KiB is analysed only in its head, and says so in a low "truncated" finding.

Over many traces the per-trace reports scroll the summary away: --summary
prints only the summary table, and --only-failing prints only the traces
whose verdict is fail or suspect (with --format json too), then the summary.

Exit status: 0 when no finding reaches --fail-on (default none: never), 1 when
one does, 2 on bad input (bad files are listed after the good ones are analysed).`,
		Example: `  probity analyze examples/
  probity analyze --fail-on high ../shared/data/tau-bench/gpt-4o-airline.json
  probity analyze --summary ../shared/data/
  probity analyze --only-failing ../shared/data/tau-bench/
  probity analyze --format json runs/*.json | jq 'select(.verdict == "fail")'
  probity analyze --config tools.yaml --from taubench trajectories.json
  probity analyze --policy examples/policies/tau-retail.yaml ../shared/data/agentrx-tau-retail/trajectories.json
  probity analyze --format json --reference tasks.json runs.json | jq '.localization'
  probity analyze --judge judge.yaml --format json runs.json | jq 'select(.judge) | [.localization.step, .judge.step]'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			if summary && format == "json" {
				return withExit(ExitUsage, errors.New("--summary works with --format text; JSON has one object per trace"))
			}
			threshold, err := probity.ParseSeverity(failOn)
			if err != nil {
				return withExit(ExitUsage, fmt.Errorf("--fail-on: %w", err))
			}
			var cfg *detect.Config
			if configFile != "" {
				if cfg, err = detect.LoadConfig(configFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			opts := analysis.Options{Config: cfg}
			if policyFile != "" {
				if opts.Policy, err = policy.LoadFile(policyFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			if referenceFile != "" {
				if opts.References, err = localize.LoadReferences(referenceFile); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			var j *judge.Judge
			if judgeFile != "" {
				jc, err := judge.LoadConfig(judgeFile)
				if err != nil {
					return withExit(ExitUsage, err)
				}
				if j, err = judge.New(jc); err != nil {
					return withExit(ExitUsage, err)
				}
			}
			opts.Siblings = collectSiblings(e, args, from)
			return runAnalyze(e, args, analyzeOptions{format: format, from: from, failOn: threshold, analyzer: analysis.New(opts),
				summary: summary, onlyFailing: onlyFailing, judge: j})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json (one object per trace per line)")
	cmd.Flags().StringVar(&failOn, "fail-on", "none", "exit 1 when a finding is at or above this severity: none, low, medium or high")
	cmd.Flags().StringVar(&configFile, "config", "", "YAML file naming tools and their classes (side-effect, read-only, calculator)")
	cmd.Flags().StringVar(&policyFile, "policy", "", "policy file (YAML) whose violations are reported as findings")
	cmd.Flags().StringVar(&referenceFile, "reference", "", "references for localisation: a τ-bench tasks list or eval cases (JSON), matched by task id")
	cmd.Flags().StringVar(&judgeFile, "judge", "", "YAML judge config: ask a model where sampled failed runs went wrong, beside the deterministic localisation (docs/judge.md)")
	cmd.Flags().BoolVar(&summary, "summary", false, "print only the summary table, not each trace")
	cmd.Flags().BoolVar(&onlyFailing, "only-failing", false, "print only the traces whose verdict is fail or suspect")
	addFromFlag(cmd, &from)
	_ = cmd.RegisterFlagCompletionFunc("fail-on", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"none", "low", "medium", "high"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

type analyzeOptions struct {
	format string
	from   string
	failOn probity.Severity
	// analyzer runs on every trace; nil means the built-in detectors.
	analyzer *analysis.Analyzer
	// summary prints no trace, only the summary; onlyFailing prints the
	// traces whose verdict is not ok.
	summary, onlyFailing bool
	// judge, when set, asks a model about sampled failed runs; its answer
	// is printed beside the localisation.
	judge *judge.Judge
}

// judgedReport is a report with the judge's answer beside (never in place
// of) the deterministic localisation: the JSON line gains "judge".
type judgedReport struct {
	*analysis.Report
	Judge *judge.Result `json:"judge"`
}

// runAnalyze streams traces through the detectors: one trace is in memory
// at a time, and only counters survive it.
func runAnalyze(e *env, args []string, o analyzeOptions) error {
	st := newStyle(e.stdout)
	sum := newAnalyzeSummary()
	prog := newProgress(e.stderr)
	a := o.analyzer
	if a == nil {
		a = analysis.New(analysis.Options{})
	}
	err := ingest.Each(e.ctx, args, ingest.Options{Format: o.from, Stdin: e.stdin}, func(t *probity.Trace) error {
		r := a.Run(t)
		sum.add(t, &r)
		prog.tick(sum.traces, sum.steps)
		if o.summary || (o.onlyFailing && r.Verdict == probity.VerdictOK) {
			return nil
		}
		var jr *judge.Result
		if o.judge != nil {
			var err error
			if jr, err = o.judge.Judge(e.ctx, t, &r, a.Reference(t)); err != nil {
				return err
			}
		}
		sum.printed(&r)
		if o.format == "json" {
			if o.judge != nil {
				return writeJSONLine(e.stdout, judgedReport{Report: &r, Judge: jr})
			}
			return writeJSONLine(e.stdout, &r)
		}
		printReport(e.stdout, st, t, &r, a.Config(), jr)
		return nil
	})
	prog.done()
	if o.judge != nil {
		printJudgeUsage(e.stderr, o.judge.Usage())
	}
	if o.format == "text" && (sum.traces > 0 || err == nil) {
		sum.print(e.stdout, st)
	}
	if err != nil {
		var fe *ingest.FileErrors
		if errors.As(err, &fe) || probity.ErrorCode(err) != probity.EINTERNAL {
			return inputError(err)
		}
		return err
	}
	if o.failOn > probity.SeverityNone && sum.maxSeverity >= o.failOn {
		fmt.Fprintf(e.stderr, "probity: %d finding(s) at or above %s (--fail-on %s)\n", sum.atOrAbove(o.failOn), o.failOn, o.failOn)
		return withExit(ExitFindings, nil)
	}
	return nil
}

// printJudgeUsage says on stderr what the judge did and spent, and plainly
// when the budget stopped it, so a cut-short batch is never mistaken for a
// complete one.
func printJudgeUsage(w io.Writer, u judge.Usage) {
	fmt.Fprintf(w, "judge: %d judged, %d not sampled, %d failed, %d malformed answers; %d calls, %d from cache; %d tokens in, %d out, $%.4f\n",
		u.Judged, u.Skipped, u.Failed, u.Malformed, u.Calls, u.CacheHits, u.InputTokens, u.OutputTokens, u.Dollars)
	if u.Stopped {
		fmt.Fprintf(w, "judge: stopped by the budget; %d failed runs were not judged\n", u.OverBudget)
	}
}
