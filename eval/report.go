package eval

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report formats.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatJUnit    = "junit"
)

// WriteSummary writes s in format.
func WriteSummary(w io.Writer, s *Summary, format string) error {
	switch format {
	case FormatText, "":
		return writeSummaryText(w, s)
	case FormatJSON:
		return writeJSON(w, s)
	case FormatMarkdown:
		return writeSummaryMarkdown(w, s)
	case FormatJUnit:
		return writeSummaryJUnit(w, s)
	}
	return fmt.Errorf("unknown format %q (want text, json, markdown or junit)", format)
}

// writeJSON writes v as one line, as every --format json of the CLI does,
// so runs and comparisons can be appended to one JSON Lines file.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// oneLineError squeezes an error message onto one line of at most 200
// characters: the run file keeps the whole of it.
func oneLineError(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func iv(x [2]float64) string { return fmt.Sprintf("[%.2f, %.2f]", x[0], x[1]) }

// kSeries renders "k=1 0.80 [0.70, 0.88] · k=2 ..." for up to 5 values of k.
func kSeries(vals map[string]float64, ivs map[string][2]float64) string {
	var parts []string
	for k := 1; k <= 5; k++ {
		key := strconv.Itoa(k)
		v, ok := vals[key]
		if !ok {
			break
		}
		parts = append(parts, fmt.Sprintf("k=%d %.2f %s", k, v, iv(ivs[key])))
	}
	if len(parts) == 0 {
		return "n/a"
	}
	return strings.Join(parts, " · ")
}

func writeSummaryText(w io.Writer, s *Summary) error {
	u := s.Suite
	var b strings.Builder
	verdict := "PASS"
	if !s.Gate.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "suite %s: %d cases, %d valid trials, %d errors%s\n", u.Name, u.Cases, u.Trials, u.Errors, partial(u))
	if u.Trials > 0 {
		fmt.Fprintf(&b, "pass rate  %.3f  95%% CI %s  one-sided lower %.3f  (by case: design effect %.2f, effective n %.1f)\n",
			u.PassRate, iv(u.Interval), u.LowerBound, u.DesignEffect, u.EffectiveN)
	}
	fmt.Fprintf(&b, "pass^k     %s\n", kSeries(u.PassHatK, u.PassHatKInterval))
	fmt.Fprintf(&b, "pass@k     %s\n", kSeries(u.PassAtK, u.PassAtKInterval))
	fmt.Fprintf(&b, "classes    %d stable-pass, %d flaky, %d stable-fail", u.Classes[ClassStablePass], u.Classes[ClassFlaky], u.Classes[ClassStableFail])
	if n := u.Classes[ClassError]; n > 0 {
		fmt.Fprintf(&b, ", %d all-error", n)
	}
	b.WriteString("\n")
	if u.StoppedEarly > 0 || u.Saved > 0 {
		fmt.Fprintf(&b, "early stop %d cases stopped early, %d of %d planned trials saved (%.0f%%)\n", u.StoppedEarly, u.Saved, u.Planned, 100*float64(u.Saved)/float64(max(1, u.Planned)))
	}
	if u.Errors > 0 {
		fmt.Fprintf(&b, "errors     %d trials (%s), not counted as failures\n", u.Errors, kinds(u.ErrorKinds))
		for _, e := range u.FirstErrors {
			fmt.Fprintf(&b, "           %s: %s (%d %s; first: case %s trial #%d)\n", e.Kind, oneLineError(e.Message), e.Trials, plural(e.Trials, "trial", "trials"), e.Case, e.Trial)
		}
	}
	if u.JudgeAgreement != nil {
		fmt.Fprintf(&b, "judge      repeated votes agreed %.0f%% of the time\n", 100**u.JudgeAgreement)
	}
	if bl := s.Baseline; bl != nil {
		fmt.Fprintf(&b, "baseline   %s: pass rate %.3f, Δ(baseline−this) %+.3f, P(worse by > %.3f) %.3f", bl.File, bl.PassRate, bl.Delta, bl.Margin, bl.PWorse)
		if len(bl.NewlyFailing) > 0 {
			fmt.Fprintf(&b, "; newly failing: %s", strings.Join(bl.NewlyFailing, ", "))
		}
		if len(bl.NewlyFlaky) > 0 {
			fmt.Fprintf(&b, "; newly flaky: %s", strings.Join(bl.NewlyFlaky, ", "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "cost       $%.4f, %d tokens; latency mean %.0fms p50 %.0fms p95 %.0fms max %.0fms\n",
		u.CostUSD, u.Tokens.Total(), u.Latency.Mean, u.Latency.P50, u.Latency.P95, u.Latency.Max)
	// No cases (eval run --summary, or --only-failing when all pass):
	// no table, so the verdict follows the suite's numbers.
	if len(s.Cases) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CASE\tPASS\tRATE\t95% CI\tCLASS\tEVIDENCE")
		for _, c := range s.Cases {
			fmt.Fprintf(tw, "%s\t%d/%d\t%.2f\t%s\t%s\t%s\n", c.ID, c.Passes, c.Trials, c.PassRate, iv(c.Interval), c.Class, caseEvidence(c))
		}
		tw.Flush()
	}
	if s.Interrupted {
		b.WriteString("\ninterrupted: no gate verdict\n")
	} else {
		fmt.Fprintf(&b, "\ngate: %s  %s\n", verdict, s.Gate.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// caseEvidence is the evidence minus the counts the table already shows.
func caseEvidence(c CaseSummary) string {
	e := c.Evidence
	if i := strings.Index(e, "]; "); i >= 0 && strings.HasPrefix(e, fmt.Sprintf("%d/%d passed", c.Passes, c.Trials)) {
		return e[i+3:]
	}
	if strings.HasPrefix(e, fmt.Sprintf("%d/%d passed", c.Passes, c.Trials)) {
		return ""
	}
	return e
}

func partial(u SuiteSummary) string {
	if u.Complete {
		return ""
	}
	return " (PARTIAL run: resume it with --resume)"
}

func kinds(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeSummaryMarkdown(w io.Writer, s *Summary) error {
	u := s.Suite
	var b strings.Builder
	mark := "✅ gate passed"
	switch {
	case s.Interrupted:
		mark = "⏹ interrupted, no gate verdict"
	case !s.Gate.Passed:
		mark = "❌ gate failed"
	}
	fmt.Fprintf(&b, "### Eval `%s`: %s\n\n%s\n\n", u.Name, mark, mdEscape(s.Gate.Reason))
	fmt.Fprintf(&b, "| metric | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| pass rate | %.3f (95%% CI %s, one-sided lower %.3f) |\n", u.PassRate, iv(u.Interval), u.LowerBound)
	fmt.Fprintf(&b, "| pass^k | %s |\n", kSeries(u.PassHatK, u.PassHatKInterval))
	fmt.Fprintf(&b, "| pass@k | %s |\n", kSeries(u.PassAtK, u.PassAtKInterval))
	fmt.Fprintf(&b, "| cases | %d stable-pass, %d flaky, %d stable-fail, %d all-error |\n", u.Classes[ClassStablePass], u.Classes[ClassFlaky], u.Classes[ClassStableFail], u.Classes[ClassError])
	fmt.Fprintf(&b, "| trials | %d valid, %d errors, %d saved by early stopping |\n", u.Trials, u.Errors, u.Saved)
	fmt.Fprintf(&b, "| cost, latency | $%.4f; p50 %.0fms, p95 %.0fms |\n\n", u.CostUSD, u.Latency.P50, u.Latency.P95)
	fmt.Fprintf(&b, "| case | pass | rate | 95%% CI | class | evidence |\n|---|---|---|---|---|---|\n")
	for _, c := range s.Cases {
		fmt.Fprintf(&b, "| `%s` | %d/%d | %.2f | %s | %s | %s |\n", mdEscape(c.ID), c.Passes, c.Trials, c.PassRate, iv(c.Interval), c.Class, mdEscape(caseEvidence(c)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// JUnit XML, the subset CI systems read.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, js junitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(js); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeSummaryJUnit emits one test case per eval case (stable-fail and flaky
// are failures, all-error cases are errors) and one for the gate.
func writeSummaryJUnit(w io.Writer, s *Summary) error {
	js := junitSuite{Name: "probity eval " + s.Suite.Name}
	for _, c := range s.Cases {
		jc := junitCase{Name: c.ID, Classname: "eval." + s.Suite.Name, Time: fmt.Sprintf("%.3f", c.LatencyMS*float64(c.Trials+c.Errors)/1000), SystemOut: c.Evidence}
		switch c.Class {
		case ClassStableFail, ClassFlaky:
			jc.Failure = &junitProblem{Message: fmt.Sprintf("%s: %d/%d passed", c.Class, c.Passes, c.Trials), Type: c.Class, Text: c.Evidence}
			js.Failures++
		case ClassError:
			jc.Error = &junitProblem{Message: "every trial was an error", Type: "error", Text: c.Evidence}
			js.Errors++
		case ClassNotRun:
			jc.Skipped = &junitProblem{Message: "not run"}
			js.Skipped++
		}
		js.Cases = append(js.Cases, jc)
	}
	gate := junitCase{Name: "gate", Classname: "eval." + s.Suite.Name, Time: "0", SystemOut: s.Gate.Reason}
	if !s.Gate.Passed {
		gate.Failure = &junitProblem{Message: "gate failed", Type: "gate", Text: s.Gate.Reason}
		js.Failures++
		if s.Interrupted {
			gate.Failure = nil
			gate.Error = &junitProblem{Message: "interrupted: no gate verdict", Type: "interrupted"}
			js.Failures--
			js.Errors++
		}
	}
	js.Cases = append(js.Cases, gate)
	js.Tests = len(js.Cases)
	js.Time = fmt.Sprintf("%.3f", s.Suite.Latency.Mean*float64(s.Suite.Trials+s.Suite.Errors)/1000)
	return writeJUnit(w, junitSuites{Suites: []junitSuite{js}})
}

// WriteComparison writes c in format.
func WriteComparison(w io.Writer, c *Comparison, format string) error {
	switch format {
	case FormatText, "":
		return writeComparisonText(w, c)
	case FormatJSON:
		return writeJSON(w, c)
	case FormatMarkdown:
		return writeComparisonMarkdown(w, c)
	case FormatJUnit:
		return writeComparisonJUnit(w, c)
	}
	return fmt.Errorf("unknown format %q (want text, json, markdown or junit)", format)
}

func comparisonVerdict(c *Comparison) string {
	if c.Regressed {
		return fmt.Sprintf("REGRESSED: P(B worse than A by more than %.3f) = %.3f ≥ %.2f", c.Margin, c.PWorse, c.Confidence)
	}
	return fmt.Sprintf("no regression: P(B worse than A by more than %.3f) = %.3f < %.2f", c.Margin, c.PWorse, c.Confidence)
}

func writeComparisonText(w io.Writer, c *Comparison) error {
	var b strings.Builder
	p := c.Pairs
	fmt.Fprintf(&b, "A %s\nB %s\n", c.A, c.B)
	fmt.Fprintf(&b, "paired trials %d: pass rate A %.3f, B %.3f, Δ(A−B) %+.3f; discordant A-only %d, B-only %d; McNemar one-sided p %.4f\n",
		p.N00+p.N01+p.N10+p.N11, c.PassRateA, c.PassRateB, c.Delta, p.N10, p.N01, c.PValue)
	fmt.Fprintf(&b, "%s\n", comparisonVerdict(c))
	list := func(name string, ids []string) {
		if len(ids) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(ids, ", "))
		}
	}
	list("newly failing", c.NewlyFailing)
	list("newly flaky", c.NewlyFlaky)
	list("fixed", c.Fixed)
	list("only in A", c.OnlyInA)
	list("only in B", c.OnlyInB)
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tA\tB\tΔ\tCLASS A → B\tp (B worse)")
	for _, cc := range c.Cases {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%+.2f\t%s → %s\t%.3f\n", cc.ID, cc.RateA, cc.RateB, cc.Delta, cc.ClassA, cc.ClassB, cc.PValue)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func writeComparisonMarkdown(w io.Writer, c *Comparison) error {
	var b strings.Builder
	mark := "✅ no regression"
	if c.Regressed {
		mark = "❌ regression"
	}
	fmt.Fprintf(&b, "### Eval comparison: %s\n\n%s\n\n", mark, comparisonVerdict(c))
	fmt.Fprintf(&b, "| | A (baseline) | B (candidate) |\n|---|---|---|\n| pass rate (paired trials) | %.3f | %.3f |\n\n", c.PassRateA, c.PassRateB)
	list := func(name string, ids []string) {
		if len(ids) > 0 {
			fmt.Fprintf(&b, "**%s:** `%s`\n\n", name, strings.Join(ids, "`, `"))
		}
	}
	list("Newly failing", c.NewlyFailing)
	list("Newly flaky", c.NewlyFlaky)
	list("Fixed", c.Fixed)
	fmt.Fprintf(&b, "| case | A | B | Δ | class | p (B worse) |\n|---|---|---|---|---|---|\n")
	for _, cc := range c.Cases {
		fmt.Fprintf(&b, "| `%s` | %.2f | %.2f | %+.2f | %s → %s | %.3f |\n", mdEscape(cc.ID), cc.RateA, cc.RateB, cc.Delta, cc.ClassA, cc.ClassB, cc.PValue)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeComparisonJUnit(w io.Writer, c *Comparison) error {
	js := junitSuite{Name: "probity eval compare"}
	failing := map[string]string{}
	for _, id := range c.NewlyFailing {
		failing[id] = "newly failing"
	}
	for _, id := range c.NewlyFlaky {
		failing[id] = "newly flaky"
	}
	for _, cc := range c.Cases {
		jc := junitCase{Name: cc.ID, Classname: "eval.compare", Time: "0",
			SystemOut: fmt.Sprintf("A %.2f (%s) → B %.2f (%s)", cc.RateA, cc.ClassA, cc.RateB, cc.ClassB)}
		if why, ok := failing[cc.ID]; ok {
			jc.Failure = &junitProblem{Message: why, Type: strings.ReplaceAll(why, " ", "-"), Text: jc.SystemOut}
			js.Failures++
		}
		js.Cases = append(js.Cases, jc)
	}
	overall := junitCase{Name: "regression", Classname: "eval.compare", Time: "0", SystemOut: comparisonVerdict(c)}
	if c.Regressed {
		overall.Failure = &junitProblem{Message: "regression", Type: "regression", Text: comparisonVerdict(c)}
		js.Failures++
	}
	js.Cases = append(js.Cases, overall)
	js.Tests = len(js.Cases)
	js.Time = "0"
	return writeJUnit(w, junitSuites{Suites: []junitSuite{js}})
}
