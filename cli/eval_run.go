package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	var noCache, verbose bool
	var dataset string
	cmd := &cobra.Command{
		Use:   "run SUITE",
		Short: "Run a suite k times and judge it with honest statistics",
		Long: `Run every case of SUITE (a YAML file; see "probity eval schema") k times
against its target, check each trial with the suite's assertions, and print a
summary. Exit status: 0 when the gate passes, 1 when it fails (or the run was
interrupted), 2 for a bad suite or flag.

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

Gate conditions (all optional, all must hold):
  min_pass_rate    the one-sided 95% lower bound of the suite pass rate ≥ it
  pass_hat_k       {k, min}: the one-sided 95% lower bound of pass^k ≥ min
  max_regression   vs --baseline: P(drop > it) < regression_confidence (0.95)
  max_error_rate   error trials / all trials ≤ it

Assertion types: equals, contains, regex, json-path, json-schema, numeric,
tool-called, tool-not-called, arguments-match, sequence, max-steps, max-cost,
max-latency, cel, no-findings, judge, policy. Shorthands: {cel: EXPR}, {equals: V},
{contains: S}, {regex: P}.`,
		Example: `  probity eval run examples/eval/suite.yaml
  probity eval run suite.yaml --out run.jsonl --format json
  probity eval run suite.yaml --resume run.jsonl
  probity eval run suite.yaml --baseline main.jsonl --format junit > eval.xml`,
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
			return runEval(e, args[0], evalRunFlags{baseline: baseline, out: out, resume: resume, format: format, cacheDir: cacheDir, verbose: verbose, dataset: dataset})
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
	f.StringVar(&dataset, "dataset", "", "run the cases of this file instead of the suite's (e.g. eval mutate's output)")
	return cmd
}

type evalRunFlags struct {
	baseline, out, resume, format, cacheDir string
	dataset                                 string // replaces the suite's cases (eval mutate's output)
	verbose                                 bool
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
	if err := eval.WriteSummary(e.stdout, sum, fl.format); err != nil {
		return err
	}
	if err := writeRunRobustness(e, run, fl.format); err != nil {
		return err
	}
	if res.Interrupted {
		fmt.Fprintf(e.stderr, "interrupted: %d trials are saved in %s; continue with:\n  probity eval run %s --resume %s\n", len(run.Trials), path, suitePath, path)
		return withExit(ExitFindings, nil)
	}
	if !sum.Gate.Passed {
		fmt.Fprintf(e.stderr, "gate failed: %s\n", sum.Gate.Reason)
		return withExit(ExitFindings, nil)
	}
	return nil
}

// evalProgress shows how far a run is on stderr: a redrawn bar on a terminal,
// and otherwise a plain line at every 10% (so CI logs stay short).
type evalProgress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	last     time.Time
	lastTick int
	p        eval.Progress
	drawn    bool
}

func newEvalProgress(w io.Writer) *evalProgress {
	return &evalProgress{w: w, tty: isTerminal(w)}
}

func (p *evalProgress) update(ev eval.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p = ev
	if ev.Total <= 0 {
		return
	}
	if p.tty {
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
		return
	}
	tick := 10 * ev.Done / ev.Total
	if tick > p.lastTick || ev.Done == ev.Total {
		if tick == p.lastTick && ev.Done == ev.Total && p.drawn {
			return
		}
		p.lastTick = tick
		p.drawn = ev.Done == ev.Total
		fmt.Fprintf(p.w, "progress: %d/%d trials (pass %d, fail %d, error %d, saved by early stop %d)\n",
			ev.Done, ev.Total, ev.Pass, ev.Fail, ev.Errors, ev.Saved)
	}
}

func (p *evalProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
