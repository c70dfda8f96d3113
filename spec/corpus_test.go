package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/probity/probity/policy"
)

// attackRules are the rules the corpus measures: each poisoned twin is
// labelled with the ones its attack should trigger.
var attackRules = []string{"tool-instruction", "tool-hidden-text", "tool-shadowing", "tool-exfiltration", "tool-sensitive-path", "tool-changed", "tool-added", "tool-removed"}

type corpusCase struct {
	ID     string   `json:"id"`
	Source string   `json:"source"`
	Format string   `json:"format"`
	Tool   string   `json:"tool"`
	Expect []string `json:"expect"`
	Pinned string   `json:"pinned"`
}

type corpusCounts struct{ tp, fp, fn int }

func (c corpusCounts) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c corpusCounts) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

func loadTools(t *testing.T, file string) []*Tool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := ParseTools(file, b)
	if err != nil {
		t.Fatalf("ParseTools(%s): %v", file, err)
	}
	return tools
}

// lintCase lints one twin and returns the attack rules that fired on the
// attacked tool, and every rule that fired anywhere.
func lintCase(t *testing.T, dir string, c corpusCase, twin string) (onTool, any map[string]bool) {
	in := &Input{Tools: loadTools(t, filepath.Join(dir, c.ID, twin))}
	if c.Pinned != "" {
		in.Pinned = NewLock(loadTools(t, filepath.Join(dir, c.ID, c.Pinned)))
		in.Pinned.file = c.Pinned
	}
	onTool, any = map[string]bool{}, map[string]bool{}
	for _, f := range Lint(in, nil) {
		any[f.Rule] = true
		if f.Tool == c.Tool {
			onTool[f.Rule] = true
		}
	}
	return onTool, any
}

// measureCorpus returns per-rule counts and, per case, whether any attack
// rule told the twins apart, for our rules and for the baseline.
func measureCorpus(t *testing.T, half string) (map[string]*corpusCounts, []string) {
	dir := filepath.Join("testdata", "corpus", half)
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("%s: %d cases, want at least 10", half, len(cases))
	}
	counts := map[string]*corpusCounts{}
	for _, r := range attackRules {
		counts[r] = &corpusCounts{}
	}
	var lines []string
	caseLevel := struct{ ours, base corpusCounts }{}
	for _, c := range cases {
		expect := map[string]bool{}
		for _, e := range c.Expect {
			if counts[e] == nil {
				t.Fatalf("%s: unknown rule %q in expect", c.ID, e)
			}
			expect[e] = true
		}
		attackOn, attackAny := lintCase(t, dir, c, "attack.json")
		_, cleanAny := lintCase(t, dir, c, "clean.json")
		var missed, extra, cleanFired []string
		for _, r := range attackRules {
			n := counts[r]
			switch {
			case expect[r] && attackOn[r]:
				n.tp++
			case expect[r]:
				n.fn++
				missed = append(missed, r)
			case attackAny[r]:
				n.fp++
				extra = append(extra, r)
			}
			if cleanAny[r] {
				n.fp++
				cleanFired = append(cleanFired, r)
			}
		}
		// Case level: does anything flag the attack twin and nothing the clean one?
		oursAttack, oursClean := false, false
		for _, r := range attackRules {
			oursAttack = oursAttack || attackAny[r]
			oursClean = oursClean || cleanAny[r]
		}
		count(&caseLevel.ours, oursAttack, oursClean)
		count(&caseLevel.base, baselineFlags(t, filepath.Join(dir, c.ID, "attack.json")), baselineFlags(t, filepath.Join(dir, c.ID, "clean.json")))
		lines = append(lines, fmt.Sprintf("  %-40s missed %v, unexpected on attack %v, fired on clean %v", c.ID, missed, extra, cleanFired))
	}
	lines = append(lines,
		fmt.Sprintf("  case level, any attack rule: attack twins flagged %d/%d, clean twins flagged %d/%d",
			caseLevel.ours.tp, caseLevel.ours.tp+caseLevel.ours.fn, caseLevel.ours.fp, len(cases)),
		fmt.Sprintf("  baseline (mcp-proxy's instruction check on descriptions): attack twins flagged %d/%d, clean twins flagged %d/%d",
			caseLevel.base.tp, caseLevel.base.tp+caseLevel.base.fn, caseLevel.base.fp, len(cases)))
	return counts, lines
}

func count(c *corpusCounts, attack, clean bool) {
	if attack {
		c.tp++
	} else {
		c.fn++
	}
	if clean {
		c.fp++
	}
}

// baselineFlags is the strongest trivial baseline at hand: the check
// mcp-proxy already runs at tools/list (policy.InstructionLike over each
// tool's description and its parameters' descriptions).
func baselineFlags(t *testing.T, file string) bool {
	for _, tl := range loadTools(t, file) {
		if _, ok := policy.InstructionLike(tl.Description); ok {
			return true
		}
		for _, p := range tl.params() {
			if _, ok := policy.InstructionLike(p.schema.get("description").text()); ok {
				return true
			}
		}
	}
	return false
}

func corpusTable(counts map[string]*corpusCounts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-22s %4s %4s %4s %9s %7s\n", "rule", "tp", "fp", "fn", "precision", "recall")
	rules := append([]string(nil), attackRules...)
	sort.Strings(rules)
	for _, r := range rules {
		c := counts[r]
		fmt.Fprintf(&b, "  %-22s %4d %4d %4d %9.2f %7.2f\n", r, c.tp, c.fp, c.fn, c.precision(), c.recall())
	}
	return b.String()
}

// TestCorpus measures the poisoning and rug-pull rules on twins written
// from published attacks: precision and recall per rule. The tuning half
// must stay near perfect; the held-out half is reported, and held to the
// floor it reached when it was first run (see the report in
// docs/spec-lint.md), so a regression shows.
func TestCorpus(t *testing.T) {
	for _, half := range []struct {
		name               string
		minPrec, minRecall float64
	}{
		{"tuning", 0.9, 0.9},
		// The held-out half's first run (docs/spec-lint.md): lowest
		// precision 0.67 (tool-sensitive-path), lowest recall 0.50
		// (tool-shadowing). The floor keeps them from getting worse.
		{"heldout", 0.66, 0.5},
	} {
		t.Run(half.name, func(t *testing.T) {
			counts, lines := measureCorpus(t, half.name)
			t.Logf("%s half:\n%s%s", half.name, corpusTable(counts), strings.Join(lines, "\n"))
			for _, r := range attackRules {
				c := counts[r]
				if c.tp+c.fn == 0 {
					continue
				}
				if c.precision() < half.minPrec || c.recall() < half.minRecall {
					t.Errorf("%s: %s precision %.2f recall %.2f, want at least %.2f and %.2f", half.name, r, c.precision(), c.recall(), half.minPrec, half.minRecall)
				}
			}
		})
	}
}
