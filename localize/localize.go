// Package localize says where a failed run went wrong: the step and agent
// where the failure began, with ranked alternatives, each with a score and
// a reason a person can check.
//
// Most real failures are intent failures: the agent did something other
// than what was wanted with every value well grounded, so no detector
// fires. They are visible against a reference, which this package compares
// with the run:
//
//   - reference:actions: the expected tool calls (τ-bench
//     info.task.actions, a reference file). The first missing, wrong or extra
//     side-effecting call, then the provenance of its wrong argument back to
//     where it entered: the agent's message that proposed it, or the tool
//     result it was misread from.
//   - reference:answer: the expected final answer (Who&When ground_truth)
//     or the values the agent should have told the user (τ-bench outputs).
//     Backward provenance from the final answer: the steps whose values the
//     answer rests on, transitively; the team's first action (its first
//     turn with code), which the later turns build on; the earliest team
//     turn in that chain. The agent named is that step's.
//     An expected value the agent never states was dropped by its first
//     message to the user after the value came into view.
//   - siblings: passing runs of the same task. The first side-effecting call
//     at which the failing run departs from every passing run.
//   - findings: the detectors' root cause and strong findings (policy
//     violations among them), for runs with no reference.
//
// Scores combine by method weight (a reference outranks a finding) and add
// up where methods agree on a step; they are normalised to sum to one.
// Confidence is the top score mapped through a calibration fitted on
// labelled runs (see Calibrate and docs/localization.md).
//
// Labels that say where a run failed (mistake_step, mistake_agent,
// mistake_reason, label files) never reach this package: Run reads only the
// trace's steps, its outcome (reward, verdict, correctness), its reference
// (expected actions, ground truth) and the detectors' report. Input.Trace
// is copied with the attribution labels cleared before any method sees it.
package localize

import (
	"cmp"
	"slices"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
)

// Method names, as Localization.Method reports them.
const (
	MethodActions  = "reference:actions"
	MethodAnswer   = "reference:answer"
	MethodSiblings = "siblings"
	MethodFindings = "findings"
)

// weights rank the methods: a reference says what should have happened; a
// sibling only what happened when it went right once; a finding is about a
// symptom, not the intent.
var weights = map[string]float64{
	MethodActions:  1.0,
	MethodSiblings: 0.8,
	MethodAnswer:   0.8,
	MethodFindings: 0.5,
}

// Reference is what should have happened in a run, kept apart from labels
// about what went wrong.
type Reference struct {
	// Actions are the expected tool calls, in order.
	Actions []probity.ToolCall
	// Answer is the expected final answer.
	Answer string
	// Outputs are values the agent was expected to tell the user.
	Outputs []string
}

// Classifier says which tools change the world. *detect.Config is one
// (a nil *detect.Config classifies by tool name).
type Classifier interface {
	SideEffecting(tool string) bool
}

// Input is everything the localiser may use.
type Input struct {
	// Trace is the run.
	Trace *probity.Trace
	// Report is the detectors' report on Trace.
	Report *detect.Report
	// Tools classifies tools; nil classifies by name.
	Tools Classifier
	// Reference, when set, replaces the reference the trace carries
	// (Trace.Expected, Labels.GroundTruth).
	Reference *Reference
	// Siblings are other runs of the same task; those that passed are
	// compared with Trace.
	Siblings []*probity.Trace
	// Methods, when set, limits which methods vote (to compare them);
	// nil means all.
	Methods []string
	// Uncalibrated reports the top candidate's raw share of the votes as
	// Confidence, for fitting the calibration.
	Uncalibrated bool
}

// ReferenceOf returns the reference a trace carries: its expected actions
// and ground truth. nil when it has neither.
func ReferenceOf(t *probity.Trace) *Reference {
	if len(t.Expected) == 0 && t.Labels.GroundTruth == "" && len(t.ExpectedOutputs) == 0 {
		return nil
	}
	return &Reference{Actions: t.Expected, Answer: t.Labels.GroundTruth, Outputs: t.ExpectedOutputs}
}

// Outcome reports whether the run is known to have failed and whether it is
// known to have passed, from its outcome labels only (reward, resolved,
// is_correct), never from attribution.
func Outcome(t *probity.Trace) (failed, passed bool) {
	l := t.Labels
	switch {
	case l.Reward != nil:
		return *l.Reward < 1, *l.Reward >= 1
	case l.IsCorrect != nil:
		return !*l.IsCorrect, *l.IsCorrect
	case l.Resolved != nil:
		return !*l.Resolved, *l.Resolved
	}
	return false, false
}

// withoutAttribution returns a shallow copy of t whose attribution labels
// are cleared, so no method can read them.
func withoutAttribution(t *probity.Trace) *probity.Trace {
	c := *t
	c.Labels.MistakeAgent = ""
	c.Labels.MistakeStep = nil
	c.Labels.MistakeReason = ""
	return &c
}

// scored is one method's vote for a step (an index into Trace.Steps).
type scored struct {
	step   int
	score  float64 // within the method, in (0, 1]
	reason string
	method string
}

// Run localises the failure of in.Trace. It returns nil when the run did
// not fail: its outcome says it passed, no reference disagrees and the
// verdict is not fail.
func Run(in Input) *probity.Localization {
	if in.Trace == nil || len(in.Trace.Steps) == 0 {
		return nil
	}
	t := withoutAttribution(in.Trace)
	tools := in.Tools
	if tools == nil {
		tools = (*detect.Config)(nil)
	}
	ref := in.Reference
	if ref == nil {
		ref = ReferenceOf(t)
	}
	failed, passed := Outcome(t)
	verdictFail := in.Report != nil && in.Report.Verdict == probity.VerdictFail

	use := func(m string) bool { return in.Methods == nil || slices.Contains(in.Methods, m) }
	var votes []scored
	actionVotes, disagree := byActions(t, ref, tools)
	if passed && !verdictFail {
		return nil
	}
	if !failed && !verdictFail && !disagree {
		return nil
	}
	if use(MethodActions) {
		votes = append(votes, actionVotes...)
	}
	if use(MethodSiblings) {
		votes = append(votes, bySiblings(t, in.Siblings, tools)...)
	}
	if use(MethodAnswer) && ref != nil {
		if ref.Answer != "" {
			votes = append(votes, byAnswer(t, ref.Answer)...)
		}
		votes = append(votes, byOutputs(t, ref.Outputs)...)
	}
	if use(MethodFindings) {
		votes = append(votes, byFindings(t, in.Report)...)
	}
	if len(votes) == 0 && in.Methods == nil {
		votes = fallback(t)
	}
	return combine(t, votes, in.Uncalibrated)
}

// combine adds the weighted votes per source position, ranks the positions
// and keeps the reason of each position's strongest vote.
func combine(t *probity.Trace, votes []scored, raw bool) *probity.Localization {
	type agg struct {
		pos          int
		step         int // first step index at pos, for the agent
		total, best  float64
		reason, meth string
	}
	byPos := map[int]*agg{}
	var order []*agg
	sum := 0.0
	for _, v := range votes {
		w := weights[v.method] * v.score
		if w <= 0 {
			continue
		}
		pos := t.Steps[v.step].Pos.Index
		a := byPos[pos]
		if a == nil {
			a = &agg{pos: pos, step: v.step}
			byPos[pos] = a
			order = append(order, a)
		}
		a.total += w
		sum += w
		if w > a.best {
			a.best, a.reason, a.meth = w, v.reason, v.method
		}
		if v.step < a.step {
			a.step = v.step
		}
	}
	if len(order) == 0 {
		return nil
	}
	slices.SortStableFunc(order, func(x, y *agg) int {
		if c := cmp.Compare(y.total, x.total); c != 0 {
			return c
		}
		return cmp.Compare(x.pos, y.pos)
	})
	loc := &probity.Localization{}
	for _, a := range order {
		loc.Candidates = append(loc.Candidates, probity.LocalizationCandidate{
			Step:   a.pos,
			Agent:  agentOf(t, a.step),
			Score:  round(a.total / sum),
			Reason: a.reason,
		})
	}
	top := order[0]
	loc.Step, loc.Agent, loc.Method = top.pos, loc.Candidates[0].Agent, top.meth
	loc.Confidence = round(top.total / sum)
	if !raw {
		loc.Confidence = round(Calibrate(top.total / sum))
	}
	return loc
}

// agentOf names the agent of step i: its actor, or for a tool result the
// actor of the call it answers.
func agentOf(t *probity.Trace, i int) string {
	s := t.Steps[i]
	if s.Kind == probity.KindToolResult || s.Kind == probity.KindUser || s.Kind == probity.KindSystem {
		// The agent that acted on this input is the next model step's.
		for j := i + 1; j < len(t.Steps); j++ {
			if k := t.Steps[j].Kind; !k.IsInput() {
				return t.Steps[j].Actor
			}
		}
	}
	return s.Actor
}

func round(x float64) float64 {
	return float64(int64(x*1000+0.5)) / 1000
}

// fallback names the first model step when nothing else speaks: a run that
// failed with no reference and no finding still gets a (weak) answer.
func fallback(t *probity.Trace) []scored {
	for i, s := range t.Steps {
		if !s.Kind.IsInput() {
			return []scored{{step: i, score: 0.1, reason: "no reference, sibling or finding: the first step the agent took", method: MethodFindings}}
		}
	}
	return nil
}
