package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/probity/probity/eval"
)

func newEvalMutateCmd(e *env) *cobra.Command {
	var format, dataset, kinds, out string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "mutate SUITE --out FILE",
		Short: "Write adversarial variants of a suite's cases that must not change the answer",
		Long: `Write SUITE's cases and, for each case and kind, one deterministic variant
that a correct agent must answer exactly like the case (the expected value is
copied unchanged). Each variant has the id CASE~KIND and keeps variant_of and
kind. Kinds (--kinds, comma-separated; default all):

  typo         misspells ordinary words; never ids, amounts, numbers, quoted
               text, capitalised codes, words of the expected value, negations
  case         changes the case of ordinary words and the spacing between them
  reorder      permutes the sentences that stand alone (not the first one, not
               one opening with "then", "if", "it", "also", ...)
  distractor   inserts an irrelevant sentence at a sentence boundary
  confusable   writes the ids the expected value names in Unicode fullwidth
               forms, which NFKC maps back to the canonical id
  inject       appends an instruction to a tool result in the case's fixtures
  change-mind  adds a request for something else and its retraction after the
               user's last message (multi-turn inputs: a messages list)

The same suite, kinds and --seed give the same file. Run the variants with
"probity eval run SUITE --dataset FILE": its report then gives, per kind, the
paired difference in pass rate between cases and their variants with a 95%
interval, and the cases that break. See docs/eval-check.md.`,
		Example: `  probity eval mutate suite.yaml --out mutated.jsonl
  probity eval mutate suite.yaml --kinds typo,distractor --seed 7 --out mutated.jsonl
  probity eval run suite.yaml --dataset mutated.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkFormat(format, eval.FormatText, eval.FormatJSON); err != nil {
				return err
			}
			if out == "" {
				return withExit(ExitUsage, fmt.Errorf("--out FILE is required (the mutated dataset, JSON Lines)"))
			}
			ks, err := eval.ParseMutationKinds(kinds)
			if err != nil {
				return withExit(ExitUsage, fmt.Errorf("--kinds: %w", err))
			}
			_, cases, err := loadSuiteCases(args[0], dataset)
			if err != nil {
				return err
			}
			m, err := eval.Mutate(cases, eval.MutateOptions{Kinds: ks, Seed: seed})
			if err != nil {
				return withExit(ExitUsage, err)
			}
			if err := writeCasesFile(out, m.Cases); err != nil {
				return err
			}
			return writeMutation(e, m, ks, len(cases), out, args[0], format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write the cases and their variants to this file (JSON Lines; - for stdout)")
	f.StringVar(&kinds, "kinds", "all", "mutation kinds, comma-separated: "+strings.Join(eval.MutationKinds, ","))
	f.Uint64Var(&seed, "seed", 1, "seed of the mutations")
	f.StringVar(&dataset, "dataset", "", "mutate the cases of this file instead of the suite's dataset")
	f.StringVar(&format, "format", "text", "summary format: text or json (one object per line)")
	return cmd
}

// writeCasesFile writes atomically, so an interrupted write never leaves
// half a dataset that a later run would read as whole.
func writeCasesFile(path string, cases []eval.Case) error {
	if path == "-" {
		return eval.WriteCases(os.Stdout, cases)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mutate-*.jsonl")
	if err != nil {
		return withExit(ExitUsage, fmt.Errorf("write %s: %w", path, err))
	}
	defer os.Remove(tmp.Name())
	if err := eval.WriteCases(tmp, cases); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

func writeMutation(e *env, m *eval.Mutation, kinds []string, originals int, out, suite, format string) error {
	variants := len(m.Cases) - originals
	w := e.stdout
	if out == "-" {
		w = e.stderr // stdout carries the cases
	}
	if format == eval.FormatJSON {
		type kindJSON struct {
			Kind          string   `json:"kind"`
			Variants      int      `json:"variants"`
			NotApplicable []string `json:"not_applicable"`
		}
		v := struct {
			Out       string     `json:"out"`
			Originals int        `json:"originals"`
			Variants  int        `json:"variants"`
			Kinds     []kindJSON `json:"kinds"`
		}{Out: out, Originals: originals, Variants: variants}
		for _, k := range kinds {
			na := m.NotApplicable[k]
			if na == nil {
				na = []string{}
			}
			v.Kinds = append(v.Kinds, kindJSON{Kind: k, Variants: m.Made[k], NotApplicable: na})
		}
		return writeJSONLine(w, v)
	}
	fmt.Fprintf(w, "wrote %d cases to %s: %d originals, %d variants\n", len(m.Cases), out, originals, variants)
	for _, k := range kinds {
		line := fmt.Sprintf("  %-12s %3d variants", k, m.Made[k])
		if n := len(m.NotApplicable[k]); n > 0 {
			line += fmt.Sprintf("  (%d cases have nothing this kind can vary)", n)
		}
		fmt.Fprintln(w, line)
	}
	if out != "-" {
		fmt.Fprintf(w, "next: probity eval run %s --dataset %s\n", suite, out)
	}
	return nil
}

// writeRunRobustness adds the per-kind variant report to a run's summary
// when the run has variants: after it on stdout for text, markdown and json
// (a second JSON line), on stderr for junit, whose stdout is one XML file.
func writeRunRobustness(e *env, run *eval.Run, format string) error {
	rob := eval.RunRobustness(run)
	if rob == nil {
		return nil
	}
	switch format {
	case eval.FormatJSON:
		return eval.WriteRobustness(e.stdout, rob, eval.FormatJSON)
	case eval.FormatJUnit:
		return eval.WriteRobustness(e.stderr, rob, eval.FormatText)
	}
	return eval.WriteRobustness(e.stdout, rob, eval.FormatText)
}
