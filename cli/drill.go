package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/probity/probity"
	"github.com/probity/probity/drill"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/inject"
	"github.com/probity/probity/policy"
)

func newDrillCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Failure drills: exercises from real traces that train engineers to find quiet failures",
		Long: `Drill turns real agent traces into exercises with a known answer: faults planted
into real successful runs, real failures whose source labels them, clean runs
("nothing is wrong" is sometimes right) and probability questions computed
exactly. Each trace drill asks: did this run fail? at which step did it begin?
which failure class? which later steps did it reach? which policy rule would
have stopped it?

  make   build a drill set (dNN.json per drill, key.json apart)
  take   run a set in the terminal, with the answers explained
  grade  score an answers file against the key
  kit    write a self-contained HTML interview kit

See docs/drills.md.`,
		Example: `  probity drill make --from examples/ --count 8 --seed 1 --out drills
  probity drill take drills
  probity drill grade drills --answers answers.json
  probity drill kit drills --out kit.html`,
	}
	cmd.AddCommand(newDrillMakeCmd(e), newDrillTakeCmd(e), newDrillGradeCmd(e), newDrillKitCmd(e))
	return cmd
}

func newDrillMakeCmd(e *env) *cobra.Command {
	var from, kinds []string
	var count int
	var seed uint64
	var difficulty, out, policyFile string
	cmd := &cobra.Command{
		Use:   "make --from FILES... --out DIR",
		Short: "Make a drill set from real traces",
		Long: `Make reads traces (any format Probity knows; files, directories or globs) and
writes a drill set to DIR: one file per drill, dNN.json, ordered from easy to
hard, and key.json with the answers and their explanations. Hand out the
dNN.json files without key.json. Each dNN.json is an OTLP/JSON trace, so
"probity show DIR/d03.json" shows it, with the questions under "drill".

Where drills come from (--kinds picks among them, or names fault classes):
  planted      a fault planted into a real successful run: each class the
               detectors know, and intent failures (acting on the wrong
               order, acting without the confirmation asked for). Difficulty
               is what Probity's own detectors make of it: easy when the
               expected detector flags it, medium when some finding does,
               hard when none does (kept, and marked so)
  labelled     a real failed run whose source labels it (τ-bench reward 0,
               SWE-bench unresolved, Who&When with the mistake step)
  clean        a real successful run: "nothing is wrong" is the answer
  probability  pass^k, posteriors, paired comparisons and sample sizes,
               computed by Probity's stats package, graded with a tolerance

Runs without an outcome label count as successful when Probity finds nothing
in them. "Which policy rule would have stopped it?" is answered against a
built-in policy (confirm before an action, act only on grounded ids, no
action after an instruction in a tool result) or --policy.

The same --seed and inputs give byte-identical files.`,
		Example: `  # a short set from the bundled examples
  probity drill make --from examples/ --count 8 --seed 1 --out drills

  # the default curriculum, from the shared real data (easy to hard)
  probity drill make --from ../shared/data/tau-bench/gpt-4o-airline.json \
    --from ../shared/data/agentrx-tau-retail/trajectories.json \
    --from ../shared/data/who-and-when/algorithm-generated \
    --count 30 --seed 1 --out curriculum

  # only hard planted faults, checked against the τ-bench retail policy
  probity drill make --from ../shared/data/agentrx-tau-retail/trajectories.json \
    --kinds planted --difficulty hard --policy examples/policies/tau-retail.yaml --count 10 --out hard`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			from = append(from, args...)
			if len(from) == 0 {
				return withExit(ExitUsage, fmt.Errorf("no input: name trace files with --from (see 'probity drill make --help')"))
			}
			if out == "" {
				return withExit(ExitUsage, fmt.Errorf("no --out DIR for the drill set"))
			}
			o := drill.Options{Count: count, Seed: seed, Kinds: kinds, Difficulty: difficulty}
			if policyFile != "" {
				p, err := policy.LoadFile(policyFile)
				if err != nil {
					return inputError(err)
				}
				o.Policy = p
			}
			var traces []*probity.Trace
			err := ingest.Each(e.ctx, from, ingest.Options{Stdin: e.stdin}, func(t *probity.Trace) error {
				traces = append(traces, t)
				return nil
			})
			if err != nil {
				return inputError(err)
			}
			set, err := drill.Make(e.ctx, traces, o)
			if err != nil {
				return inputError(err)
			}
			if len(set.Drills) == 0 {
				return withExit(ExitUsage, fmt.Errorf("no drills: the inputs have no run that fits --kinds %s --difficulty %q", strings.Join(kinds, ","), difficulty))
			}
			if err := set.Write(out); err != nil {
				return err
			}
			byLevel := map[string]int{}
			for _, d := range set.Drills {
				byLevel[d.Difficulty]++
			}
			fmt.Fprintf(e.stderr, "wrote %d drills to %s (%d easy, %d medium, %d hard) from %d traces; the key is %s\n",
				len(set.Drills), out, byLevel[drill.Easy], byLevel[drill.Medium], byLevel[drill.Hard], len(traces), filepath.Join(out, drill.KeyFile))
			if len(set.Drills) < count {
				fmt.Fprintf(e.stderr, "only %d of the %d drills asked for: the inputs ran out\n", len(set.Drills), count)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&from, "from", nil, "trace files, directories or globs to make drills from (repeatable)")
	cmd.Flags().IntVar(&count, "count", 10, "how many drills")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "the seed: the same seed and inputs give the same set")
	cmd.Flags().StringSliceVar(&kinds, "kinds", nil, "only these origins ("+strings.Join(drill.Origins, ", ")+") or planted fault classes ("+strings.Join(inject.AllFaults(), ", ")+"); default all")
	cmd.Flags().StringVar(&difficulty, "difficulty", "", "only drills of this level: easy, medium or hard")
	cmd.Flags().StringVarP(&out, "out", "o", "", "the folder to write the set to")
	cmd.Flags().StringVar(&policyFile, "policy", "", "answer \"which rule would have stopped it\" against this policy")
	return cmd
}

func newDrillTakeCmd(e *env) *cobra.Command {
	var answers, save string
	var pageLines int
	cmd := &cobra.Command{
		Use:   "take DIR",
		Short: "Run a drill set in the terminal",
		Long: `Take runs a drill set interactively: it shows each trace as "probity show" does,
a page at a time (Enter for the next page, q to go to the questions), asks the
questions, times the answers, and after each drill explains the right answer
with the evidence: Probity's findings and, for a planted fault, the change as
a diff. Enter alone skips a question; "quit" stops. At the end it prints the
score by skill.

--answers FILE takes the answers from a file (the format "drill grade" reads)
instead of asking, for scripted use. --save FILE writes the answers given.`,
		Example: `  probity drill take drills
  probity drill take drills --save my-answers.json
  probity drill take drills --answers my-answers.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := drill.Load(e.ctx, args[0])
			if err != nil {
				return inputError(err)
			}
			o := drill.TakeOptions{In: e.stdin, Out: e.stdout, PageLines: pageLines, Render: func(w io.Writer, t *probity.Trace) {
				printTimeline(w, newStyle(e.stdout), t, 160)
			}}
			if pageLines == 0 {
				o.PageLines = terminalPage(e.stdout)
			}
			if answers != "" {
				if o.Answers, err = drill.ReadAnswers(answers); err != nil {
					return inputError(err)
				}
			}
			res, err := drill.Take(e.ctx, set, o)
			if err != nil {
				return inputError(err)
			}
			if save != "" {
				b, _ := json.MarshalIndent(res.Answers, "", "  ")
				if err := os.WriteFile(save, append(b, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "answers saved to %s\n", save)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&answers, "answers", "", "take the answers from this file instead of asking")
	cmd.Flags().StringVar(&save, "save", "", "write the answers given to this file")
	cmd.Flags().IntVar(&pageLines, "page", 0, "lines per page of a trace (default: the terminal's height)")
	return cmd
}

// terminalPage is a page of w's terminal less room for the prompt, or 20.
func terminalPage(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if _, h, err := term.GetSize(int(f.Fd())); err == nil && h > 6 {
			return h - 2
		}
	}
	return 20
}

func newDrillGradeCmd(e *env) *cobra.Command {
	var answers, format string
	cmd := &cobra.Command{
		Use:   "grade DIR --answers FILE",
		Short: "Score answers against a drill set's key",
		Long: `Grade scores an answers file against DIR/key.json. The answers file is one JSON
object by drill id:

  {"d03": {"failed": true, "step": 14, "class": "cascade-corrupted-id",
           "reached": [16, 18], "rule": "ids-must-be-grounded"},
   "d07": {"value": 0.83}}

Every question the key answers is worth a point: failed and class train
"detect", step and reached "localize", rule "contain", value "reason". A
missing answer scores zero; the reached steps earn the overlap of the two sets
over their union; a number earns the point within the key's tolerance and half
of it within twice that. An answer for a drill the set does not have is an
error (exit 2).

--format json prints one object: score, max, by_skill ([got, max] per skill)
and per drill what was correct, expected and given.`,
		Example: `  probity drill grade drills --answers answers.json
  probity drill grade drills --answers answers.json --format json | jq .by_skill`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return withExit(ExitUsage, err)
			}
			if answers == "" {
				return withExit(ExitUsage, fmt.Errorf("no --answers FILE to grade"))
			}
			set, err := drill.Load(e.ctx, args[0])
			if err != nil {
				return inputError(err)
			}
			if set.Key == nil {
				return withExit(ExitUsage, &probity.Error{Code: probity.ENOTFOUND, File: filepath.Join(args[0], drill.KeyFile), Message: "no key: grading needs the set's key.json"})
			}
			given, err := drill.ReadAnswers(answers)
			if err != nil {
				return inputError(err)
			}
			r, err := drill.Grade(set.Key, given)
			if err != nil {
				var pe *probity.Error
				if errors.As(err, &pe) {
					pe.File = answers
				}
				return inputError(err)
			}
			if format == "json" {
				return writeJSONLine(e.stdout, r)
			}
			printGrade(e.stdout, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&answers, "answers", "", "the answers file (JSON, by drill id)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func printGrade(w io.Writer, r *drill.Result) {
	for _, d := range r.Drills {
		var wrong []string
		for q, ok := range d.Correct {
			if !ok {
				wrong = append(wrong, q)
			}
		}
		status := "answered"
		if d.Given == nil {
			status = "not answered"
		}
		fmt.Fprintf(w, "%s  %s of %s  %s", d.ID, fmtNum(d.Score), fmtNum(d.Max), status)
		if len(wrong) > 0 && d.Given != nil {
			sort.Strings(wrong)
			fmt.Fprintf(w, "; missed: %s", strings.Join(wrong, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nscore %s of %s\n", fmtNum(r.Score), fmtNum(r.Max))
	for _, s := range drill.Skills {
		if v := r.BySkill[s]; v[1] > 0 {
			fmt.Fprintf(w, "  %-9s %s of %s\n", s, fmtNum(v[0]), fmtNum(v[1]))
		}
	}
}

func fmtNum(x float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
}

func newDrillKitCmd(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "kit DIR --out kit.html",
		Short: "Write a self-contained HTML interview kit for a drill set",
		Long: `Kit writes one HTML file with no external assets: the drills (each trace as
"probity show" prints it) and their questions, then the key on separate pages
(print the first part for the candidate), then a rubric of what strong,
adequate and weak answers look like for each skill.`,
		Example: `  probity drill kit drills --out kit.html`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return withExit(ExitUsage, fmt.Errorf("no --out FILE for the kit"))
			}
			set, err := drill.Load(e.ctx, args[0])
			if err != nil {
				return inputError(err)
			}
			var buf bytes.Buffer
			err = drill.WriteKit(&buf, set, func(w io.Writer, t *probity.Trace) { printTimeline(w, style{}, t, 160) })
			if err != nil {
				return inputError(err)
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote %s (%d drills)\n", out, len(set.Drills))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the HTML file to write")
	return cmd
}
