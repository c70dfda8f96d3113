package localize_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/localize"
	"github.com/probity/probity/stats"
)

// Labels are read only here, by the measurement: never by the localiser.

// agentRxLabels maps an AgentRx task id to its labelled failure positions
// (0-based traj positions: step_number − 1) and its root cause position.
func agentRxLabels(t *testing.T) map[string]struct {
	steps []int
	root  int
} {
	b, err := os.ReadFile(shareddata.Path(t, "agentrx-tau-retail", "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ls []struct {
		TrajectoryID json.Number `json:"trajectory_id"`
		Failures     []struct {
			ID   int `json:"failure_id"`
			Step int `json:"step_number"`
		} `json:"failures"`
		RootCause struct {
			ID int `json:"failure_id"`
		} `json:"root_cause"`
	}
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatal(err)
	}
	out := map[string]struct {
		steps []int
		root  int
	}{}
	for _, l := range ls {
		e := out[l.TrajectoryID.String()]
		for _, f := range l.Failures {
			e.steps = append(e.steps, f.Step-1)
			if f.ID == l.RootCause.ID {
				e.root = f.Step - 1
			}
		}
		out[l.TrajectoryID.String()] = e
	}
	return out
}

// localizeAll reads a shared file and localises every run, with the
// passing runs of the same task as siblings.
func localizeAll(t *testing.T, paths ...string) ([]*probity.Trace, []*probity.Localization) {
	t.Helper()
	var traces []*probity.Trace
	for _, p := range paths {
		ts, err := ingest.ReadAll(context.Background(), p, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, ts...)
	}
	byTask := map[string][]*probity.Trace{}
	for _, tr := range traces {
		if id := tr.Meta["task_id"]; id != "" {
			byTask[id] = append(byTask[id], tr)
		}
	}
	locs := make([]*probity.Localization, len(traces))
	for i, tr := range traces {
		r := detect.Run(tr, nil, nil)
		locs[i] = localize.Run(localize.Input{Trace: tr, Report: &r, Siblings: byTask[tr.Meta["task_id"]]})
	}
	return traces, locs
}

func hitAny(l *probity.Localization, steps []int) bool {
	if l == nil {
		return false
	}
	for _, s := range steps {
		if l.Step == s {
			return true
		}
	}
	return false
}

// TestMeasure prints the localisation measurements of issue 11 on the
// shared labelled data: go test -run TestMeasure -v ./localize
func TestMeasure(t *testing.T) {
	if raceEnabled {
		t.Skip("a measurement: runs without -race in its own CI step")
	}
	t.Run("agentrx", func(t *testing.T) {
		labels := agentRxLabels(t)
		traces, locs := localizeAll(t, shareddata.Path(t, "agentrx-tau-retail", "trajectories.json"))
		var failed, hit, root, inTop3, passedLocalised, passed int
		for i, tr := range traces {
			l, ok := labels[tr.Meta["task_id"]]
			if !ok {
				passed++
				if locs[i] != nil {
					passedLocalised++
				}
				continue
			}
			failed++
			if hitAny(locs[i], l.steps) {
				hit++
			}
			if locs[i] != nil && locs[i].Step == l.root {
				root++
			}
			if locs[i] != nil {
				for k, c := range locs[i].Candidates {
					if k < 3 && hitAny(&probity.Localization{Step: c.Step}, l.steps) {
						inTop3++
						break
					}
				}
			}
			got := -1
			if locs[i] != nil {
				got = locs[i].Step
				t.Logf("task %s: localised step %d by %s (labels %v, root %d)", tr.Meta["task_id"], got, locs[i].Method, l.steps, l.root)
				for k, c := range locs[i].Candidates {
					if k < 4 {
						t.Logf("      %d %.2f %s", c.Step, c.Score, c.Reason)
					}
				}
			}
		}
		if failed != 14 {
			t.Fatalf("%d labelled failed runs, want 14", failed)
		}
		t.Logf("AgentRx failed runs with localization.step on a labelled failure step: %d of %d (%.1f%%; goal 60%%; landed root_cause_step 0 of 15)", hit, failed, pct(hit, failed))
		t.Logf("AgentRx root-cause match: %d of %d (%.1f%%); a labelled step among the top 3 candidates: %d of %d", root, failed, pct(root, failed), inTop3, failed)
		t.Logf("AgentRx passing runs localised (false alarms; verdict fail only): %d of %d", passedLocalised, passed)
		// Guards against regressions, far below the goal: the landed
		// root_cause_step hit none.
		if hit < 5 || passedLocalised > 2 {
			t.Errorf("AgentRx: %d hits, %d passing runs localised; want at least 5 and at most 2", hit, passedLocalised)
		}
	})
	t.Run("whowhen", func(t *testing.T) {
		dir := shareddata.Path(t, "who-and-when", "algorithm-generated")
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		traces, locs := localizeAll(t, files...)
		var n, step, agent, one, code int
		var random float64
		for i, tr := range traces {
			ms := tr.Labels.MistakeStep
			if ms == nil {
				continue
			}
			n++
			if l := locs[i]; l != nil {
				if l.Step == *ms {
					step++
				}
				if l.Agent == tr.Labels.MistakeAgent {
					agent++
				}
			}
			if *ms == 1 {
				one++
			}
			if firstCodeStep(tr) == *ms {
				code++
			}
			random += 1 / float64(len(tr.Steps))
		}
		t.Logf("Who&When algorithm-generated (%d runs): step accuracy %.2f%% (baselines: constant step 1 %.2f%%, first code block %.2f%%, uniform over steps %.2f%%, published random 19.06%%; published LLM 25.51 / 47.46)",
			n, pct(step, n), pct(one, n), pct(code, n), 100*random/float64(n))
		t.Logf("Who&When agent accuracy %.2f%% (published 54.33)", pct(agent, n))
		if step <= one {
			t.Errorf("Who&When step accuracy %d of %d is not above the constant step-1 baseline (%d)", step, n, one)
		}
	})
	t.Run("taubench-airline", func(t *testing.T) {
		traces, locs := localizeAll(t, shareddata.Path(t, "tau-bench", "gpt-4o-airline.json"))
		var failed, localised, both, agree int
		byTask := map[string][]*probity.Trace{}
		for _, tr := range traces {
			byTask[tr.Meta["task_id"]] = append(byTask[tr.Meta["task_id"]], tr)
		}
		for i, tr := range traces {
			if f, _ := localize.Outcome(tr); !f {
				continue
			}
			failed++
			if locs[i] != nil {
				localised++
			}
			r := detect.Run(tr, nil, nil)
			a := localize.Run(localize.Input{Trace: tr, Report: &r, Methods: []string{localize.MethodActions}})
			s := localize.Run(localize.Input{Trace: tr, Report: &r, Siblings: byTask[tr.Meta["task_id"]], Methods: []string{localize.MethodSiblings}})
			if a != nil && s != nil {
				both++
				if a.Step == s.Step {
					agree++
				}
			}
		}
		t.Logf("τ-bench airline failed runs localised: %d of %d (%.1f%%)", localised, failed, pct(localised, failed))
		t.Logf("τ-bench airline expected-actions and siblings both localise %d failed runs; same step in %d (%.1f%%)", both, agree, pct(agree, both))
	})
}

// firstCodeStep is the trivial baseline: the first step with a code block.
func firstCodeStep(tr *probity.Trace) int {
	for _, s := range tr.Steps {
		if strings.Contains(s.Content, "```") {
			return s.Pos.Index
		}
	}
	return -1
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// BenchmarkAnalyzeLocalization measures `analyze` on the τ-bench airline
// file with and without localisation (the sibling pass over the input
// included) and reports their ratio from one run (goal ≤ 1.25):
// go test -run XXX -bench AnalyzeLocalization ./localize
func BenchmarkAnalyzeLocalization(b *testing.B) {
	path := shareddata.Path(b, "tau-bench", "gpt-4o-airline.json")
	ctx := context.Background()
	without := func() {
		_ = ingest.Each(ctx, []string{path}, ingest.Options{}, func(tr *probity.Trace) error {
			detect.Run(tr, nil, nil)
			return nil
		})
	}
	with := func() {
		sibs := analysis.NewSiblings()
		_ = ingest.Each(ctx, []string{path}, ingest.Options{}, func(tr *probity.Trace) error {
			sibs.Add(tr)
			return nil
		})
		a := analysis.New(analysis.Options{Siblings: sibs})
		_ = ingest.Each(ctx, []string{path}, ingest.Options{}, func(tr *probity.Trace) error {
			a.Run(tr)
			return nil
		})
	}
	var tWith, tWithout time.Duration
	for b.Loop() {
		s := time.Now()
		without()
		tWithout += time.Since(s)
		s = time.Now()
		with()
		tWith += time.Since(s)
	}
	b.ReportMetric(float64(tWith)/float64(tWithout), "with/without")
}

var _ = fmt.Sprint

// labelledRuns returns, for every labelled failed run of the shared data,
// the raw top share and whether the localised step is a labelled step.
func labelledRuns(t *testing.T) (raw []float64, hit []bool) {
	labels := agentRxLabels(t)
	files, _ := filepath.Glob(filepath.Join(shareddata.Path(t, "who-and-when", "algorithm-generated"), "*.json"))
	paths := append([]string{shareddata.Path(t, "agentrx-tau-retail", "trajectories.json")}, files...)
	for _, p := range paths {
		ts, err := ingest.ReadAll(context.Background(), p, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range ts {
			var steps []int
			if l, ok := labels[tr.Meta["task_id"]]; ok && tr.Format == "taubench" {
				steps = l.steps
			} else if tr.Labels.MistakeStep != nil {
				steps = []int{*tr.Labels.MistakeStep}
			} else {
				continue
			}
			r := detect.Run(tr, nil, nil)
			l := localize.Run(localize.Input{Trace: tr, Report: &r, Uncalibrated: true})
			if l == nil {
				raw, hit = append(raw, 0), append(hit, false)
				continue
			}
			raw, hit = append(raw, l.Confidence), append(hit, hitAny(l, steps))
		}
	}
	return raw, hit
}

// TestCalibrationFit fits Platt scaling of the localisation confidence on
// the shared labelled runs, reports ECE (equal-mass, 5 bins) and Brier
// before and after out of fold (5-fold cross-validation, folds by run
// order), prints the reliability diagram, and checks that the constants
// in calibration.go are this fit.
func TestCalibrationFit(t *testing.T) {
	if raceEnabled {
		t.Skip("a measurement: runs without -race in its own CI step")
	}
	raw, hit := labelledRuns(t)
	const folds = 5
	oof := make([]float64, len(raw))
	for f := 0; f < folds; f++ {
		var x []float64
		var y []bool
		for i := range raw {
			if i%folds != f {
				x, y = append(x, raw[i]), append(y, hit[i])
			}
		}
		p := localize.FitPlatt(x, y)
		for i := range raw {
			if i%folds == f {
				oof[i] = p.Apply(raw[i])
			}
		}
	}
	report := func(name string, probs []float64) {
		b := stats.Brier(probs, hit)
		d, err := stats.ReliabilityDiagram(probs, hit, stats.BinOptions{Bins: 5, Scheme: stats.EqualMass})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: Brier %.4f, ECE (equal-mass, 5 bins) %.4f", name, b.Score, d.ECE)
		for _, bin := range d.Bins {
			t.Logf("    forecast %.3f  observed %.3f  n=%d  95%% [%.2f, %.2f]", bin.MeanForecast, bin.Rate, bin.N, bin.Interval.Lo, bin.Interval.Hi)
		}
	}
	hits := 0
	for _, h := range hit {
		if h {
			hits++
		}
	}
	t.Logf("%d labelled failed runs, %d localised on a labelled step (base rate %.3f)", len(hit), hits, float64(hits)/float64(len(hit)))
	report("raw top share", raw)
	report("Platt, out of fold", oof)
	all := localize.FitPlatt(raw, hit)
	t.Logf("fit on all runs: Platt{A: %.4f, B: %.4f}", all.A, all.B)
	for _, x := range []float64{0.2, 0.5, 0.8} {
		if got, want := localize.Calibrate(x), all.Apply(x); math.Abs(got-want) > 0.005 {
			t.Errorf("Calibrate(%.1f) = %.4f, but the fit gives %.4f: update calibration in calibration.go to Platt{A: %.4f, B: %.4f}", x, got, want, all.A, all.B)
		}
	}
}
