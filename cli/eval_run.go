package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/eval"
)

func newEvalRunCmd(e *env) *cobra.Command {
	var baseline, out, resume, format, cacheDir string
	var reportTo, reportToken string
	var noCache, verbose, summary, onlyFailing bool
	var dataset string
	cmd := &cobra.Command{
		Use:   "run SUITE",
		Short: "Run a suite k times and judge it with honest statistics",
		Long: `Run every case of SUITE (a YAML file; see "probity eval schema") k times
against its target, check each trial with the suite's assertions, and print a
summary. Exit status: 0 when the gate passes, 1 when it fails, 2 for a bad
suite or flag, 130 when Ctrl-C interrupted the run (it then has no gate
verdict: "interrupted: no gate verdict").

Every trial (input, output, trace, each assertion's result, timing, cost) is
appended to the run file (--out; default .probity/runs/NAME-TIME.jsonl) the
moment it completes. After a crash or Ctrl-C, --resume RUN continues where it
stopped and keeps every finished trial.

The summary gives, per case, the pass rate with its Wilson 95% interval and a
class: stable-pass (every valid trial passed), stable-fail (none did) or
flaky (both), with the evidence; for the suite, the pass rate with a 95%
interval that counts a case's trials as correlated (cluster-aware), pass@k and
pass^k with bootstrap-over-cases intervals, trials saved by early stopping,
error trials (kept apart from failures), cost, latency and the gate verdict.

Targets (the suite's "target:", one of):
  http     {url, method, headers, request, response}: POST each trial's request
           {"id", "trial", "input", "expected", "fixtures", "tags"} as JSON and
           read JSON back; ${VAR} in url and headers expands from the environment
  exec     {command, env, dir, request, response}: run command per trial with the
           request on stdin and read JSON from stdout; a non-zero exit, a hang
           or garbage is an error trial
  openai   {model, base_url, api_key_env, tools, system, max_turns, temperature,
           price}: a chat model with tools over the OpenAI Chat API; each case's
           "fixtures" answer the tool calls
A reply's "output" (else the whole reply) is the output, "trace" or "messages"
the trace, "cost_usd" and "usage" the cost; response: {output: $.path, ...}
maps other shapes.

Datasets ("dataset: FILE" or {path, format}, relative to the suite; inline
"cases:" are added after): JSON Lines (.jsonl, one case per line), CSV (.csv,
columns id, input, expected, tags; JSON in cells), YAML (.yaml, a list of
cases), or τ-bench tasks (.json, or format: taubench). A case is {id, input,
expected, fixtures, tags}.

Gate conditions (all optional, all must hold):
  min_pass_rate    the one-sided 95% lower bound of the suite pass rate ≥ it
  pass_hat_k       {k, min}: the one-sided 95% lower bound of pass^k ≥ min
  max_regression   vs --baseline: P(drop > it) < regression_confidence (0.95)
  max_error_rate   error trials / all trials ≤ it

A suite of hundreds of cases prints hundreds of rows before the verdict:
--summary leaves out the case table, and --only-failing keeps only the cases
that are not stable-pass (flaky, stable-fail, error, not run), in every
format.

Assertion types: equals, contains, regex, json-path, json-schema, numeric,
tool-called, tool-not-called, arguments-match, sequence, max-steps, max-cost,
max-latency, cel, no-findings, judge, policy. Shorthands: {cel: EXPR}, {equals: V},
{contains: S}, {regex: P}.`,
		Example: `  go run ./examples/agent --listen 127.0.0.1:8765 &   # the demo agent examples/eval/suite.yaml targets
  probity eval run examples/eval/suite.yaml
  probity eval run suite.yaml --only-failing
  probity eval run suite.yaml --out run.jsonl --format json
  probity eval run suite.yaml --resume run.jsonl
  probity eval run suite.yaml --baseline main.jsonl --format junit > eval.xml
  probity eval run suite.yaml --report-to http://127.0.0.1:7700`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(format, eval.FormatText, eval.FormatJSON, eval.FormatMarkdown, eval.FormatJUnit); err != nil {
				return err
			}
			if resume != "" && out != "" && filepath.Clean(resume) != filepath.Clean(out) {
				return withExit(ExitUsage, fmt.Errorf("--resume appends to %s; --out %s would be a different file", resume, out))
			}
			if noCache {
				cacheDir = "-"
			}
			if summary && format != eval.FormatText {
				return withExit(ExitUsage, fmt.Errorf("--summary works with --format text; use --only-failing to shorten %s", format))
			}
			fl := evalRunFlags{baseline: baseline, out: out, resume: resume, format: format, cacheDir: cacheDir, verbose: verbose,
				summary: summary, onlyFailing: onlyFailing, dataset: dataset}
			if reportTo != "" {
				fl.report = &pusher{e: e, base: strings.TrimSuffix(reportTo, "/"), format: "text", client: &http.Client{Timeout: 2 * time.Minute}}
				if reportToken != "" {
					tok, err := readToken(reportToken)
					if err != nil {
						return withExit(ExitUsage, err)
					}
					fl.report.token = tok
				}
			}
			return runEval(e, args[0], fl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&baseline, "baseline", "", "run file to compare against (the gate's max_regression)")
	f.StringVar(&out, "out", "", "run file to write (default .probity/runs/NAME-TIME.jsonl)")
	f.StringVar(&resume, "resume", "", "continue this interrupted run file")
	f.StringVar(&format, "format", "text", "summary format: text, json, markdown or junit")
	f.StringVar(&cacheDir, "cache", "", "cache target outputs in this directory (overrides the suite's cache)")
	f.BoolVar(&noCache, "no-cache", false, "do not use the cache even if the suite sets one")
	f.BoolVarP(&verbose, "verbose", "v", false, "log retries and early stops to stderr")
	f.StringVar(&reportTo, "report-to", "", "URL of a probity serve API to send the run file to when the run ends (its eval monitors count the trials)")
	f.StringVar(&reportToken, "report-token-file", "", "file whose first token is sent to --report-to (needs the ingest scope)")
	f.BoolVar(&summary, "summary", false, "leave out the case table: the suite's numbers and the gate only")
	f.BoolVar(&onlyFailing, "only-failing", false, "list only the cases that are not stable-pass")
	f.StringVar(&dataset, "dataset", "", "run the cases of this file instead of the suite's (e.g. eval mutate's output)")
	return cmd
}

type evalRunFlags struct {
	baseline, out, resume, format, cacheDir string
	dataset                                 string // replaces the suite's cases (eval mutate's output)
	verbose, summary, onlyFailing           bool
	// report, when set, sends the run file to a probity serve.
	report *pusher
}

var slugRe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

func runEval(e *env, suitePath string, fl evalRunFlags) error {
	suite, cases, err := loadSuiteCases(suitePath, fl.dataset)
	if err != nil {
		return err
	}
	warnEvalCheck(e, suite, cases)
	var baseline *eval.Run
	if fl.baseline != "" {
		if baseline, err = eval.ScanRun(fl.baseline); err != nil {
			return withExit(ExitUsage, err)
		}
	}
	opts := eval.Options{CacheDir: fl.cacheDir}
	if fl.verbose {
		opts.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	prog := newEvalProgress(e.stderr)
	opts.Progress = prog.update
	runner, err := eval.NewRunner(suite, cases, opts)
	if err != nil {
		return withExit(ExitUsage, err)
	}

	var prior *eval.Run
	var w *eval.RunWriter
	path := fl.out
	if fl.resume != "" {
		path = fl.resume
		if prior, err = eval.ScanRun(fl.resume); err != nil {
			return withExit(ExitUsage, err)
		}
		if prior.Torn {
			fmt.Fprintf(e.stderr, "probity: %s ended in a torn line (a crash mid-write); it was dropped\n", fl.resume)
		}
		if w, err = eval.AppendRun(fl.resume, prior.ValidSize); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "resuming %s: %d trials already done\n", path, len(prior.Trials))
	} else {
		if path == "" {
			dir := filepath.Join(".probity", "runs")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create run directory: %w", err)
			}
			path = filepath.Join(dir, fmt.Sprintf("%s-%s.jsonl", slugRe.ReplaceAllString(suite.Name, "-"), time.Now().UTC().Format("20060102T150405Z")))
		}
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			fmt.Fprintf(e.stderr, "probity: overwriting %s (use --resume %s to continue it instead)\n", path, path)
		}
		if w, err = eval.CreateRun(path, runner.Header()); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "run file: %s\n", path)
	}
	res, runErr := runner.Run(e.ctx, w, prior)
	prog.finish()
	if cerr := w.Close(); runErr == nil {
		runErr = cerr
	}
	if runErr != nil {
		var pe *probity.Error
		if errors.As(runErr, &pe) && pe.Code != probity.EINTERNAL {
			return withExit(ExitUsage, runErr)
		}
		return runErr
	}

	run, err := eval.ScanRun(path)
	if err != nil {
		return err
	}
	sum := eval.Summarize(run, baseline)
	if res.Interrupted {
		sum.Interrupt()
	}
	// The gate was judged on every case above; only what is shown shrinks.
	switch {
	case fl.summary:
		sum.Cases = nil
	case fl.onlyFailing:
		kept := sum.Cases[:0]
		for _, c := range sum.Cases {
			if c.Class != eval.ClassStablePass {
				kept = append(kept, c)
			}
		}
		sum.Cases = kept
	}
	if err := eval.WriteSummary(e.stdout, sum, fl.format); err != nil {
		return err
	}
	if err := writeRunRobustness(e, run, fl.format); err != nil {
		return err
	}
	if u := sum.Suite; u.Errors > 0 && len(u.FirstErrors) > 0 {
		// The cause on screen, not only in the run file: "transport 80"
		// says nothing about a target that is not running.
		first := u.FirstErrors[0]
		fmt.Fprintf(e.stderr, "probity: target %s: %d of %d trials were errors, first: %s: %s\n",
			describeTarget(suite), u.Errors, u.Errors+u.Trials, first.Kind, first.Message)
	}
	if fl.report != nil {
		// The run file is on disk whatever happens here: a failed report
		// is a warning with the command that retries it, not a lost run.
		if id, err := fl.report.pushEvalRun(path); err != nil {
			fmt.Fprintf(e.stderr, "probity: could not report the run to %s: %v\n  retry with: probity push --server %s %s\n", fl.report.base, err, fl.report.base, path)
		} else {
			fmt.Fprintf(e.stderr, "reported to %s: eval run %s\n", fl.report.base, id)
		}
	}
	if res.Interrupted {
		fmt.Fprintf(e.stderr, "interrupted: no gate verdict; %d trials are saved in %s; continue with:\n  probity eval run %s --resume %s\n", len(run.Trials), path, suitePath, path)
		return withExit(ExitInterrupted, nil)
	}
	if !sum.Gate.Passed {
		fmt.Fprintf(e.stderr, "gate failed: %s\n", sum.Gate.Reason)
		return withExit(ExitFindings, nil)
	}
	return nil
}

// describeTarget names the suite's target for an error message: its URL,
// command or model.
func describeTarget(s *eval.Suite) string {
	switch t := s.Target; {
	case t.HTTP != nil:
		return t.HTTP.URL
	case t.Exec != nil:
		return "exec " + strings.Join(t.Exec.Command, " ")
	case t.OpenAI != nil:
		return "openai"
	}
	return "none"
}

// evalProgress shows how far a run is on stderr, as a redrawn bar, only
// when stderr is a terminal: piped and CI logs get the summary, not a
// stream of progress lines (the README's promise for every command).
type evalProgress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func newEvalProgress(w io.Writer) *evalProgress {
	return &evalProgress{w: w, tty: isTerminal(w)}
}

func (p *evalProgress) update(ev eval.Progress) {
	if !p.tty || ev.Total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && ev.Done < ev.Total {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * ev.Done / ev.Total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d  pass %d  fail %d  error %d  saved %d  %s ",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), ev.Done, ev.Total, ev.Pass, ev.Fail, ev.Errors, ev.Saved,
		ev.Elapsed.Round(time.Second))
	p.drawn = true
}

func (p *evalProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
