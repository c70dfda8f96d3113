package detectbench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/inject"
)

// Options configure a measurement.
type Options struct {
	// Dir is the shared data folder (../shared/data).
	Dir string
	// Detectors to run; nil means detect.Default().
	Detectors []detect.Detector
	// Config for the detectors; nil means defaults.
	Config *detect.Config
}

// Group is a set of runs with one outcome label: flag rates per group say
// whether findings separate failed from successful runs.
type Group struct {
	Dataset, Label string
	Runs           int
	Flagged        int            // runs with a finding of medium or high severity
	FlaggedHigh    int            // runs with a high finding
	ByDetector     map[string]int // runs with a medium+ finding of each detector
}

// FaultRow is the result for one planted fault class.
type FaultRow struct {
	Class, Expected string
	Planted         int // traces the class could be planted in
	Found           int // planted step has a medium+ finding of the expected detector
	FoundAny        int // planted step has a medium+ finding of any detector
	NewFindings     int // medium+ findings that the clean trace did not have
	NewOnFault      int // of which on a step the fault touched
}

// Results is everything Measure found.
type Results struct {
	Groups []*Group
	// AgentRx failure localisation.
	RxFailures, RxFailuresHit int // labelled failure steps; with a medium+ finding on them
	RxRuns, RxRunsHit         int // failed labelled runs; with a finding on some labelled step
	RxRoot, RxRootHit         int // runs with a root-cause label; root_cause_step equal to it
	// Who&When failure attribution.
	WWRuns, WWExact, WWNonNull, WWAgent int
	Faults                              []*FaultRow
	CleanRuns, CleanHigh                int
	CleanHighByDetector                 map[string]int
}

// Measure runs the detectors over the shared datasets and the fault
// injector and returns the numbers. It streams one dataset at a time.
func Measure(o Options) (*Results, error) {
	ds := o.Detectors
	if ds == nil {
		ds = detect.Default()
	}
	res := &Results{CleanHighByDetector: map[string]int{}}
	for _, c := range inject.Faults {
		res.Faults = append(res.Faults, &FaultRow{Class: c, Expected: inject.ExpectedDetector[c]})
	}
	run := func(t *probity.Trace) detect.Report { return detect.Run(t, o.Config, ds) }

	// τ-bench airline: reward 0 vs 1.
	tau, err := LoadTau(filepath.Join(o.Dir, "tau-bench", "gpt-4o-airline.json"))
	if err != nil {
		return nil, err
	}
	g0, g1 := res.group("τ-bench airline", "reward 0"), res.group("τ-bench airline", "reward 1")
	for _, t := range tau {
		r := run(t)
		if t.Labels.Reward != nil && *t.Labels.Reward == 1 {
			g1.add(&r)
			res.faults(t, &r, run)
		} else {
			g0.add(&r)
		}
	}

	// AgentRx retail: failed vs successful, and localisation.
	rx, err := LoadTau(filepath.Join(o.Dir, "agentrx-tau-retail", "trajectories.json"))
	if err != nil {
		return nil, err
	}
	labels, err := loadRxLabels(filepath.Join(o.Dir, "agentrx-tau-retail", "labels.json"))
	if err != nil {
		return nil, err
	}
	r0, r1 := res.group("AgentRx retail", "failed"), res.group("AgentRx retail", "succeeded")
	for _, t := range rx {
		r := run(t)
		if t.Labels.Reward != nil && *t.Labels.Reward == 1 {
			r1.add(&r)
			res.faults(t, &r, run)
			continue
		}
		r0.add(&r)
		id, _ := strconv.Atoi(t.Meta["task_id"])
		if l, ok := labels[id]; ok {
			res.localise(l, &r)
		}
	}

	// SWE-bench: unresolved vs resolved.
	swe, err := LoadSWE(filepath.Join(o.Dir, "swebench-gemini3pro"))
	if err != nil {
		return nil, err
	}
	s0, s1 := res.group("SWE-bench (mini-swe-agent)", "unresolved"), res.group("SWE-bench (mini-swe-agent)", "resolved")
	for _, t := range swe {
		if t.Labels.Resolved == nil {
			continue
		}
		r := run(t)
		if *t.Labels.Resolved {
			s1.add(&r)
			res.faults(t, &r, run)
		} else {
			s0.add(&r)
		}
	}

	// Who&When: root_cause_step vs mistake_step.
	ww, err := LoadWhoWhen(filepath.Join(o.Dir, "who-and-when", "algorithm-generated"))
	if err != nil {
		return nil, err
	}
	gw := res.group("Who&When", "failed (all)")
	for _, t := range ww {
		r := run(t)
		gw.add(&r)
		if t.Labels.MistakeStep == nil {
			continue
		}
		res.WWRuns++
		if r.RootCauseStep != nil {
			res.WWNonNull++
			if *r.RootCauseStep == *t.Labels.MistakeStep {
				res.WWExact++
			}
			for _, s := range t.Steps {
				if s.Pos.Index == *r.RootCauseStep {
					if s.Actor == t.Labels.MistakeAgent {
						res.WWAgent++
					}
					break
				}
			}
		}
	}
	return res, nil
}

func (r *Results) group(ds, label string) *Group {
	g := &Group{Dataset: ds, Label: label, ByDetector: map[string]int{}}
	r.Groups = append(r.Groups, g)
	return g
}

func (g *Group) add(r *detect.Report) {
	g.Runs++
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Severity >= probity.SeverityMedium && !seen[f.Detector] {
			seen[f.Detector] = true
			g.ByDetector[f.Detector]++
		}
	}
	switch r.Verdict {
	case probity.VerdictFail:
		g.Flagged++
		g.FlaggedHigh++
	case probity.VerdictSuspect:
		g.Flagged++
	}
}

type rxLabel struct {
	TrajectoryID int `json:"trajectory_id"`
	Failures     []struct {
		ID   int `json:"failure_id"`
		Step int `json:"step_number"`
	} `json:"failures"`
	RootCause struct {
		ID int `json:"failure_id"`
	} `json:"root_cause"`
}

func loadRxLabels(path string) (map[int]rxLabel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ls []rxLabel
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	m := map[int]rxLabel{}
	for _, l := range ls {
		m[l.TrajectoryID] = l
	}
	return m, nil
}

// localise scores one labelled AgentRx run: step_number is position + 1.
func (r *Results) localise(l rxLabel, rep *detect.Report) {
	at := map[int]bool{}
	for _, f := range rep.Findings {
		if f.Severity >= probity.SeverityMedium {
			at[f.Step] = true
		}
	}
	r.RxRuns++
	hitRun := false
	for _, f := range l.Failures {
		r.RxFailures++
		if at[f.Step-1] {
			r.RxFailuresHit++
			hitRun = true
		}
		if f.ID == l.RootCause.ID {
			r.RxRoot++
			if rep.RootCauseStep != nil && *rep.RootCauseStep == f.Step-1 {
				r.RxRootHit++
			}
		}
	}
	if hitRun {
		r.RxRunsHit++
	}
}

// faults plants every fault class into a successful run t (whose clean
// report is clean) and scores the detectors on it.
func (r *Results) faults(t *probity.Trace, clean *detect.Report, run func(*probity.Trace) detect.Report) {
	r.CleanRuns++
	if clean.Verdict == probity.VerdictFail {
		r.CleanHigh++
		seen := map[string]bool{}
		for _, f := range clean.Findings {
			if f.Severity == probity.SeverityHigh && !seen[f.Detector] {
				seen[f.Detector] = true
				r.CleanHighByDetector[f.Detector]++
			}
		}
	}
	for _, row := range r.Faults {
		p, ok := inject.Inject(t, row.Class)
		if !ok {
			continue
		}
		rep := run(p.Trace)
		row.Planted++
		var gotExp, gotAny bool
		old := map[string]bool{}
		for _, f := range clean.Findings {
			if f.Severity >= probity.SeverityMedium {
				old[f.Detector+"@"+strconv.Itoa(p.Shift(f.Step))] = true
			}
		}
		for _, f := range rep.Findings {
			if f.Severity < probity.SeverityMedium {
				continue
			}
			if f.Step == p.Pos {
				gotAny = true
				if f.Detector == row.Expected {
					gotExp = true
				}
			}
			if !old[f.Detector+"@"+strconv.Itoa(f.Step)] {
				row.NewFindings++
				if p.Touched[f.Step] {
					row.NewOnFault++
				}
			}
		}
		if gotExp {
			row.Found++
		}
		if gotAny {
			row.FoundAny++
		}
	}
}

func pct(n, d int) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
}

func ratio(n, d int) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(n)/float64(d))
}

// WriteMarkdown writes the results as the tables the README shows.
func (r *Results) WriteMarkdown(w io.Writer) {
	var dets []string
	seen := map[string]bool{}
	for _, d := range detect.Default() {
		dets = append(dets, d.ID())
		seen[d.ID()] = true
	}
	for _, g := range r.Groups {
		for d := range g.ByDetector {
			if !seen[d] {
				seen[d] = true
				dets = append(dets, d)
			}
		}
	}
	fmt.Fprintln(w, "Flag rates on real runs (flagged = verdict suspect or fail; per-detector columns count runs with a medium+ finding):")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| dataset | runs | flagged | flagged high |")
	for _, d := range dets {
		fmt.Fprintf(w, " %s |", d)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "|---|---:|---:|---:|%s\n", strings.Repeat("---:|", len(dets)))
	for _, g := range r.Groups {
		fmt.Fprintf(w, "| %s, %s | %d | %s | %s |", g.Dataset, g.Label, g.Runs, pct(g.Flagged, g.Runs), pct(g.FlaggedHigh, g.Runs))
		for _, d := range dets {
			fmt.Fprintf(w, " %d |", g.ByDetector[d])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Failure localisation:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---:|")
	fmt.Fprintf(w, "| AgentRx: labelled failure steps with a medium+ finding on them | %d/%d (%s) |\n", r.RxFailuresHit, r.RxFailures, pct(r.RxFailuresHit, r.RxFailures))
	fmt.Fprintf(w, "| AgentRx: failed runs with a finding on some labelled step | %d/%d (%s) |\n", r.RxRunsHit, r.RxRuns, pct(r.RxRunsHit, r.RxRuns))
	fmt.Fprintf(w, "| AgentRx: root_cause_step = labelled root cause | %d/%d (%s) |\n", r.RxRootHit, r.RxRoot, pct(r.RxRootHit, r.RxRoot))
	fmt.Fprintf(w, "| Who&When: root_cause_step = mistake_step (published best 25.51%%, random 19.06%%) | %d/%d (%s) |\n", r.WWExact, r.WWRuns, pct(r.WWExact, r.WWRuns))
	fmt.Fprintf(w, "| Who&When: runs with a root_cause_step at all | %d/%d (%s) |\n", r.WWNonNull, r.WWRuns, pct(r.WWNonNull, r.WWRuns))
	fmt.Fprintf(w, "| Who&When: root-cause step spoken by mistake_agent | %d/%d (%s) |\n", r.WWAgent, r.WWRuns, pct(r.WWAgent, r.WWRuns))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Planted faults in the %d successful real runs (τ-bench airline reward 1, AgentRx retail reward 1, SWE-bench resolved; a hit is a medium+ finding at the planted step):\n\n", r.CleanRuns)
	fmt.Fprintln(w, "| fault | expected detector | planted | recall (expected detector) | recall (any detector) | precision of new findings |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, f := range r.Faults {
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s (%d/%d) |\n", f.Class, f.Expected, f.Planted, ratio(f.Found, f.Planted), ratio(f.FoundAny, f.Planted),
			ratio(f.NewOnFault, f.NewFindings), f.NewOnFault, f.NewFindings)
	}
	fmt.Fprintln(w)
	var hd []string
	for d, n := range r.CleanHighByDetector {
		hd = append(hd, fmt.Sprintf("%s %d", d, n))
	}
	sort.Strings(hd)
	fmt.Fprintf(w, "Untouched successful runs with a high finding: %d/%d (%s)", r.CleanHigh, r.CleanRuns, pct(r.CleanHigh, r.CleanRuns))
	if len(hd) > 0 {
		fmt.Fprintf(w, " — by detector: %s", strings.Join(hd, ", "))
	}
	fmt.Fprintln(w)
}
