package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteSuiteCheck writes r as text (for people) or json (one object on
// one line).
func WriteSuiteCheck(w io.Writer, r *SuiteCheck, format string) error {
	switch format {
	case FormatJSON:
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case FormatText, "":
		return writeSuiteCheckText(w, r)
	}
	return fmt.Errorf("unknown format %q (want text or json)", format)
}

func writeSuiteCheckText(w io.Writer, r *SuiteCheck) error {
	var b strings.Builder
	fmt.Fprintf(&b, "suite %s: %d cases checked against %d trivial agents (the target was not called)\n", r.Suite, r.Cases, len(r.Agents))
	verdict := "ok"
	if r.Failed {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "do-nothing agents pass %d of %d cases (%.1f%%; limit %.1f%%): %s\n", len(r.DoNothingPassed), r.Cases,
		100*r.DoNothingShare, 100*r.MaxTrivialPass, verdict)
	for _, a := range r.Agents {
		fmt.Fprintf(&b, "  %-12s passes %3d/%d  %5.1f%%\n", a.Agent, len(a.Passed), r.Cases, 100*a.Share)
	}
	section := func(title string, notes []CaseNote) {
		if len(notes) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(notes))
		for _, n := range notes {
			fmt.Fprintf(&b, "  %-14s %s\n", n.ID, n.Reason)
		}
	}
	section("cases a trivial agent passes", r.TriviallyPassed)
	section("cases with no assertion on the outcome", r.NoOutcome)
	section("cases whose expected output leaks into the input", r.Leaks)
	if len(r.Duplicates) > 0 {
		fmt.Fprintf(&b, "duplicate inputs (%d groups):\n", len(r.Duplicates))
		for _, g := range r.Duplicates {
			note := "same expected"
			if g.Conflicting {
				note = "expected values differ: at most one is right"
			}
			fmt.Fprintf(&b, "  %s  (%s)\n", strings.Join(g.IDs, ", "), note)
		}
	}
	if len(r.NotEvaluated) > 0 {
		fmt.Fprintf(&b, "not evaluated offline: %s; a case passed above stands on those alone\n", strings.Join(r.NotEvaluated, ", "))
	}
	if r.Findings() == 0 {
		b.WriteString("no findings: every case fails for every trivial agent\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Warning is a one-paragraph summary of r for `eval run` to print before
// it starts, or "" when there is nothing to warn about.
func (r *SuiteCheck) Warning() string {
	if r.Findings() == 0 {
		return ""
	}
	var parts []string
	if n := len(r.DoNothingPassed); n > 0 {
		parts = append(parts, fmt.Sprintf("a do-nothing agent passes %d of %d cases (%.0f%%)", n, r.Cases, 100*r.DoNothingShare))
	}
	if n := len(r.TriviallyPassed) - len(r.DoNothingPassed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d more pass with an echo or a random tool call", n))
	}
	if n := len(r.NoOutcome); n > 0 {
		parts = append(parts, fmt.Sprintf("%d have no assertion on the outcome", n))
	}
	if n := len(r.Leaks); n > 0 {
		parts = append(parts, fmt.Sprintf("%d leak the expected output into the input", n))
	}
	if n := len(r.Duplicates); n > 0 {
		parts = append(parts, fmt.Sprintf("%d groups of duplicate inputs", n))
	}
	return "this suite may not be able to fail: " + strings.Join(parts, "; ") + " (see probity eval check)"
}
