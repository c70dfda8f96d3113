package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/judge"
)

// printReport writes one trace's analysis for a person: the verdict, then
// each finding with its evidence quoted beside it and its blast radius drawn
// as a tree rooted at the finding's step.
func printReport(w io.Writer, st style, t *probity.Trace, r *detect.Report, cfg *detect.Config, jr *judge.Result) {
	// A clean trace takes one line: in a file of hundreds of runs the
	// reader is looking for the others.
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "%s  %s  %s  %s%s\n", verdictStyle(st, r.Verdict), st.bold(r.TraceID), st.dim(r.Source), st.dim("no findings"), localized(r.Localization))
		if r.Localization != nil {
			printLocalization(w, st, r.Localization)
		}
		printJudge(w, st, jr)
		return
	}
	root := "none"
	if r.RootCauseStep != nil {
		root = fmt.Sprintf("step %d", *r.RootCauseStep)
	}
	fmt.Fprintf(w, "%s  %s  %s  root cause: %s%s\n", verdictStyle(st, r.Verdict), st.bold(r.TraceID), st.dim(r.Source), root, localized(r.Localization))
	if r.Localization != nil {
		printLocalization(w, st, r.Localization)
	}
	printJudge(w, st, jr)
	byPos := stepsByPosition(t)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %s %-20s step %-4d %s\n", severityStyle(st, f.Severity), f.Detector, f.Step, f.Message)
		for _, ev := range f.Evidence {
			printEvidence(w, st, ev)
		}
		if len(f.BlastRadius) > 0 {
			fmt.Fprintf(w, "      %s\n", st.dim("blast radius"))
			fmt.Fprintf(w, "        step %d %s\n", f.Step, st.dim(describeStep(byPos[f.Step], "origin", cfg)))
			for i, p := range f.BlastRadius {
				branch := "├─"
				if i == len(f.BlastRadius)-1 {
					branch = "└─"
				}
				desc := describeStep(byPos[p], "", cfg)
				fmt.Fprintf(w, "        %s step %d %s\n", branch, p, desc)
			}
		}
	}
	fmt.Fprintln(w)
}

// printEvidence writes one piece of evidence: what it is, the value, the
// quoted source and where that source is.
func printEvidence(w io.Writer, st style, ev probity.Evidence) {
	var parts []string
	label := ev.Kind
	if ev.Class != "" {
		label += " (" + ev.Class + ")"
	}
	if label != "" {
		parts = append(parts, st.cyan(label))
	}
	if ev.Value != "" {
		parts = append(parts, st.bold(oneLine(ev.Value, 60)))
	}
	if ev.Source != "" {
		// Curly quotes around the raw text: quoting with %q would escape
		// every quote of the JSON that tool results usually are.
		parts = append(parts, "“"+oneLine(ev.Source, 110)+"”")
	}
	if ev.SourceStep >= 0 {
		parts = append(parts, st.dim(fmt.Sprintf("@ step %d", ev.SourceStep)))
	}
	if ev.Note != "" {
		parts = append(parts, st.dim("— "+ev.Note))
	}
	fmt.Fprintf(w, "      %s\n", strings.Join(parts, "  "))
}

// stepsByPosition indexes the first step at each source position, so the
// blast-radius tree can say what each reached step is.
func stepsByPosition(t *probity.Trace) map[int]*probity.Step {
	m := make(map[int]*probity.Step, len(t.Steps))
	for i := range t.Steps {
		s := &t.Steps[i]
		// Prefer a tool call over the text of the same message: the action
		// is what the blast radius is about.
		if prev, ok := m[s.Pos.Index]; !ok || (prev.Kind != probity.KindToolCall && s.Kind == probity.KindToolCall) {
			m[s.Pos.Index] = s
		}
	}
	return m
}

func describeStep(s *probity.Step, extra string, cfg *detect.Config) string {
	if s == nil {
		return extra
	}
	d := string(s.Kind)
	if s.Tool != nil && s.Tool.Name != "" {
		d += " " + s.Tool.Name
		if s.Kind == probity.KindToolCall && cfg.SideEffecting(s.Tool.Name) {
			d += "  ⚠ side effect"
		}
	} else if s.Content != "" {
		d += "  “" + oneLine(s.Content, 60) + "”"
	}
	if extra != "" {
		d = "(" + extra + ") " + d
	}
	return d
}

func verdictStyle(st style, v probity.Verdict) string {
	switch v {
	case probity.VerdictFail:
		return st.red(st.bold("FAIL   "))
	case probity.VerdictSuspect:
		return st.yellow("SUSPECT")
	}
	return st.green("OK     ")
}

func severityStyle(st style, s probity.Severity) string {
	name := fmt.Sprintf("%-6s", strings.ToUpper(s.String()))
	switch s {
	case probity.SeverityHigh:
		return st.red(name)
	case probity.SeverityMedium:
		return st.yellow(name)
	}
	return st.dim(name)
}

// analyzeSummary keeps only counters, so memory stays flat over any number
// of traces.
type analyzeSummary struct {
	traces, steps int
	verdicts      map[probity.Verdict]int
	detectors     map[string]*[4]int // detector -> findings by severity
	traceHits     map[string]int     // detector -> traces with a finding
	maxSeverity   probity.Severity
	bySeverity    [4]int
	// lastClean is whether the last trace printed as a one-liner, which
	// leaves no blank line before the summary.
	lastClean bool
}

func newAnalyzeSummary() *analyzeSummary {
	return &analyzeSummary{verdicts: map[probity.Verdict]int{}, detectors: map[string]*[4]int{}, traceHits: map[string]int{}}
}

func (s *analyzeSummary) add(t *probity.Trace, r *detect.Report) {
	s.traces++
	s.steps += len(t.Steps)
	s.verdicts[r.Verdict]++
	seen := map[string]bool{}
	for _, f := range r.Findings {
		c := s.detectors[f.Detector]
		if c == nil {
			c = &[4]int{}
			s.detectors[f.Detector] = c
		}
		if f.Severity >= 0 && int(f.Severity) < len(c) {
			c[f.Severity]++
			s.bySeverity[f.Severity]++
		}
		if f.Severity > s.maxSeverity {
			s.maxSeverity = f.Severity
		}
		if !seen[f.Detector] {
			seen[f.Detector] = true
			s.traceHits[f.Detector]++
		}
	}
}

// atOrAbove counts findings at or above sev.
func (s *analyzeSummary) atOrAbove(sev probity.Severity) int {
	n := 0
	for i := int(sev); i < len(s.bySeverity); i++ {
		n += s.bySeverity[i]
	}
	return n
}

// printed notes that r was printed, for the spacing before the summary.
func (s *analyzeSummary) printed(r *detect.Report) { s.lastClean = len(r.Findings) == 0 }

func (s *analyzeSummary) print(w io.Writer, st style) {
	if s.traces == 0 {
		fmt.Fprintln(w, "no traces")
		return
	}
	if s.lastClean {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s\n", st.bold(fmt.Sprintf("%d %s, %d steps: %d ok, %d suspect, %d fail",
		s.traces, plural(s.traces, "trace", "traces"), s.steps, s.verdicts[probity.VerdictOK], s.verdicts[probity.VerdictSuspect], s.verdicts[probity.VerdictFail])))
	if len(s.detectors) == 0 {
		return
	}
	names := make([]string, 0, len(s.detectors))
	for n := range s.detectors {
		names = append(names, n)
	}
	order := map[string]int{}
	for i, d := range detect.Default() {
		order[d.ID()] = i
	}
	sort.Slice(names, func(a, b int) bool {
		oa, ok := order[names[a]]
		if !ok {
			oa = 100
		}
		ob, ok := order[names[b]]
		if !ok {
			ob = 100
		}
		if oa != ob {
			return oa < ob
		}
		return names[a] < names[b]
	})
	// Policy rule names can be long; the column grows to fit them.
	width := 22
	for _, n := range names {
		width = max(width, len(n)+2)
	}
	fmt.Fprintf(w, "  %-*s %6s %6s %6s %8s\n", width, "detector", "high", "medium", "low", "traces")
	for _, n := range names {
		c := s.detectors[n]
		fmt.Fprintf(w, "  %-*s %6d %6d %6d %8d\n", width, n, c[probity.SeverityHigh], c[probity.SeverityMedium], c[probity.SeverityLow], s.traceHits[n])
	}
}

// progress shows a running count on stderr, only when stderr is a terminal,
// and at most a few times a second.
type progress struct {
	w     io.Writer
	on    bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w, on: isTerminal(w)} }

func (p *progress) tick(traces, steps int) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\ranalyzed %d traces, %d steps…", traces, steps)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// localized is the header's note of where a failed run began.
func localized(l *probity.Localization) string {
	if l == nil {
		return ""
	}
	agent := ""
	if l.Agent != "" {
		agent = " by " + l.Agent
	}
	return fmt.Sprintf("  failure began: step %d%s (%s, confidence %.2f)", l.Step, agent, l.Method, l.Confidence)
}

// printLocalization lists the top candidates with their reasons.
func printLocalization(w io.Writer, st style, l *probity.Localization) {
	for i, c := range l.Candidates {
		if i == 3 {
			break
		}
		fmt.Fprintf(w, "      %s step %-4d %.2f  %s\n", st.dim("candidate"), c.Step, c.Score, oneLine(c.Reason, 110))
	}
}

// printJudge writes the judge's answer on its own line, under the
// deterministic localisation it stands beside and never replaces.
func printJudge(w io.Writer, st style, jr *judge.Result) {
	if jr == nil {
		return
	}
	if jr.Status != judge.StatusJudged {
		fmt.Fprintf(w, "  %s %s\n", st.cyan("judge:"), st.dim(fmt.Sprintf("not judged (%s): %s", jr.Status, oneLine(jr.Error, 110))))
		return
	}
	agent := ""
	if jr.Agent != "" {
		agent = " (" + jr.Agent + ")"
	}
	cached := ""
	if jr.Cached {
		cached = st.dim(" cached")
	}
	fmt.Fprintf(w, "  %s step %d%s agreement %d/%d [%.2f, %.2f] — %s%s\n", st.cyan("judge:"), *jr.Step, agent,
		jr.Agreeing, jr.Votes, jr.Interval[0], jr.Interval[1], oneLine(jr.Reason, 110), cached)
	saves := "would not save the run"
	if jr.FixSaves {
		saves = "would save the run"
	}
	fmt.Fprintf(w, "      %s %s %s\n", st.dim("fix"), oneLine(jr.Fix, 110), st.dim("("+saves+", by "+jr.Model+")"))
}
