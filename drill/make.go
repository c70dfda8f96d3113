package drill

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/inject"
	"github.com/probity/probity/policy"
)

//go:embed policy.yaml
var defaultPolicy []byte

// DefaultPolicy returns the policy "which rule would have stopped it?" is
// answered against when Options.Policy is nil: confirm before an action,
// act only on grounded ids, act on no instruction a tool result gave.
func DefaultPolicy() (*policy.Policy, error) { return policy.Parse(defaultPolicy) }

// Options configure Make.
type Options struct {
	// Count is how many drills to make.
	Count int
	// Seed makes the set: the same seed and inputs give the same set.
	Seed uint64
	// Kinds restricts the origins (planted, labelled, clean,
	// probability) or, naming fault classes (inject.AllFaults), the
	// classes planted; nil means all.
	Kinds []string
	// Difficulty, when set, keeps only drills of that level.
	Difficulty string
	// Policy answers the containment question; nil means DefaultPolicy.
	Policy *policy.Policy
	// Config classifies tools for the detectors; nil means defaults.
	Config *detect.Config
}

// Make builds a drill set from traces. Successful runs (labelled so, or
// unlabelled with no finding) become planted and clean drills; labelled
// failures become labelled drills; probability drills need no trace. It
// makes fewer than Count drills only when the inputs run out, and says so
// in the error-free Set it returns (len(Set.Drills) < Count).
func Make(ctx context.Context, traces []*probity.Trace, o Options) (*Set, error) {
	if o.Count <= 0 {
		return nil, &probity.Error{Code: probity.EINVALID, Message: "--count must be at least 1"}
	}
	if o.Difficulty != "" && difficultyRank(o.Difficulty) == len(Difficulties) {
		return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("unknown difficulty %q (want easy, medium or hard)", o.Difficulty)}
	}
	// A kind is an origin, or a fault class (which implies planted and
	// plants only the classes named).
	var kinds, classes []string
	for _, k := range o.Kinds {
		switch {
		case contains(Origins, k):
			if !contains(kinds, k) {
				kinds = append(kinds, k)
			}
		case contains(inject.AllFaults(), k):
			classes = append(classes, k)
			if !contains(kinds, OriginPlanted) {
				kinds = append(kinds, OriginPlanted)
			}
		default:
			return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("unknown kind %q (want %s, or a fault class: %s)",
				k, strings.Join(Origins, ", "), strings.Join(inject.AllFaults(), ", "))}
		}
	}
	if len(kinds) == 0 {
		kinds = Origins
	}
	if len(classes) == 0 {
		classes = inject.AllFaults()
	}
	pol := o.Policy
	if pol == nil {
		var err error
		if pol, err = DefaultPolicy(); err != nil {
			return nil, fmt.Errorf("default policy: %w", err)
		}
	}
	m := &maker{
		o:       o,
		rng:     rand.New(rand.NewPCG(o.Seed, 0xd711d711)),
		an:      analysis.New(analysis.Options{Config: o.Config}),
		pol:     pol,
		used:    map[string]bool{},
		classes: classes,
	}
	for _, r := range pol.Rules {
		m.rules = append(m.rules, r.Name)
	}
	m.rules = append(m.rules, None)
	for _, t := range traces {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep := m.an.Run(t)
		switch ok, known := outcome(t); {
		case known && ok, !known && rep.Verdict == probity.VerdictOK:
			m.succ = append(m.succ, &run{t, rep})
		case known && !ok:
			m.fail = append(m.fail, &run{t, rep})
		}
	}
	m.plantOrder = m.rng.Perm(len(m.succ))
	m.cleanOrder = m.rng.Perm(len(m.succ))
	m.failOrder = m.rng.Perm(len(m.fail))

	type made struct {
		d *Drill
		k KeyEntry
	}
	var out []made
	live := append([]string(nil), kinds...)
	weight := map[string]int{OriginPlanted: 5, OriginLabelled: 2, OriginClean: 2, OriginProbability: 2}
	// A difficulty filter discards drills; bound the work it may cost.
	for tries := 0; len(out) < o.Count && len(live) > 0 && tries < 40*o.Count+100; tries++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var origin string
		if len(out) < len(live) && tries < len(live) {
			origin = live[tries] // one of each first, so every enabled kind shows up
		} else {
			total := 0
			for _, k := range live {
				total += weight[k]
			}
			x := m.rng.IntN(total)
			for _, k := range live {
				if x -= weight[k]; x < 0 {
					origin = k
					break
				}
			}
		}
		d, k, ok := m.make(origin)
		if !ok {
			live = remove(live, origin)
			continue
		}
		if o.Difficulty != "" && k.Difficulty != o.Difficulty {
			continue
		}
		out = append(out, made{d, k})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return difficultyRank(out[i].k.Difficulty) < difficultyRank(out[j].k.Difficulty)
	})
	set := &Set{Key: &Key{Seed: o.Seed}}
	width := len(fmt.Sprint(len(out)))
	if width < 2 {
		width = 2
	}
	for i, x := range out {
		id := fmt.Sprintf("d%0*d", width, i+1)
		x.d.ID, x.k.ID = id, id
		if x.d.Trace != nil {
			x.d.Trace.ID, x.d.Trace.Source = id, id+".json"
		}
		set.Drills = append(set.Drills, x.d)
		set.Key.Drills = append(set.Key.Drills, x.k)
	}
	return set, nil
}

type run struct {
	t   *probity.Trace
	rep analysis.Report
}

type maker struct {
	o     Options
	rng   *rand.Rand
	an    *analysis.Analyzer
	pol   *policy.Policy
	rules []string
	succ  []*run
	fail  []*run
	used  map[string]bool
	// classes are the fault classes planted drills rotate through.
	classes []string

	plantOrder, cleanOrder, failOrder []int
	nPlant, nClean, nFail, nProb      int
	plantCursor                       int
}

// outcome reads a run's outcome from its labels: ok, and whether the
// source said at all.
func outcome(t *probity.Trace) (ok, known bool) {
	l := t.Labels
	switch {
	case l.Reward != nil:
		return *l.Reward >= 1, true
	case l.Resolved != nil:
		return *l.Resolved, true
	case l.IsCorrect != nil:
		return *l.IsCorrect, true
	case l.MistakeStep != nil:
		return false, true
	}
	return false, false
}

func (m *maker) make(origin string) (*Drill, KeyEntry, bool) {
	switch origin {
	case OriginPlanted:
		return m.planted()
	case OriginClean:
		return m.clean()
	case OriginLabelled:
		return m.labelled()
	}
	return m.probability()
}

// planted plants the next fault class (rotating, so a set covers them
// all) into the next successful run that has a place for it.
func (m *maker) planted() (*Drill, KeyEntry, bool) {
	classes := m.classes
	for c := range classes {
		class := classes[(m.nPlant+c)%len(classes)]
		// Start after the run planted last, so a set spreads over runs.
		for j := range m.plantOrder {
			r := m.succ[m.plantOrder[(m.plantCursor+j)%len(m.plantOrder)]]
			key := "plant\x00" + r.t.ID + "\x00" + r.t.Source + "\x00" + class
			if m.used[key] {
				continue
			}
			m.used[key] = true
			p, ok := inject.InjectSeeded(r.t, class, m.o.Seed)
			if !ok {
				continue
			}
			m.nPlant++
			m.plantCursor = (m.plantCursor + j + 1) % len(m.plantOrder)
			d, k := m.plantedDrill(r, p)
			return d, k, true
		}
	}
	return nil, KeyEntry{}, false
}

var faultText = map[string]string{
	inject.FaultNearMiss:            "a digit of an id the agent passed to a side-effecting tool was changed; the real id is in an earlier message",
	inject.FaultContradicted:        "an amount the agent told the user was changed; the tool result it came from says otherwise",
	inject.FaultErrorAsSuccess:      "the tool result was replaced by an error, and the agent's next message still claims success",
	inject.FaultRepeatedCall:        "a tool call and its result were duplicated: the agent did the same thing twice",
	inject.FaultInjection:           "a tool result was given an instruction addressed to the agent, before an action",
	inject.FaultCascade:             "an id from a tool result was corrupted where the agent first used it, and every later use carries the corrupted copy",
	inject.FaultWrongOrder:          "the action was pointed at another of the user's real ids, not the one the conversation was about; every value is still grounded",
	inject.FaultSkippedConfirmation: "the user's confirmation was replaced by a message that does not confirm, and the agent acted anyway",
}

func (m *maker) plantedDrill(r *run, p *inject.Planted) (*Drill, KeyEntry) {
	rep := m.an.Run(p.Trace)
	// Which steps the fault reached: those it changed or that carry it,
	// after the planted step; the result of a planted call carries it too.
	reach := map[int]bool{}
	for pos := range p.Touched {
		if pos > p.Pos {
			reach[pos] = true
		}
	}
	if s := p.Trace.Steps[p.Step]; s.Kind == probity.KindToolCall {
		if ri := p.Trace.ResultFor(p.Step); ri >= 0 {
			reach[p.Trace.Steps[ri].Pos.Index] = true
		}
	}
	reached := sortedKeys(reach)
	onFault := map[int]bool{p.Pos: true}
	for _, x := range reached {
		onFault[x] = true
	}

	// Difficulty is what Probity's own detectors make of the fault.
	old := map[string]bool{}
	for _, f := range r.rep.Findings {
		old[f.Detector+"@"+fmt.Sprint(p.Shift(f.Step))] = true
	}
	level, seen := Hard, "Probity's detectors do not flag the planted step or any step it reached: a fault only a careful reader finds."
	for _, f := range rep.Findings {
		if f.Severity < probity.SeverityMedium || old[f.Detector+"@"+fmt.Sprint(f.Step)] || !onFault[f.Step] {
			continue
		}
		if f.Step == p.Pos && f.Detector == inject.ExpectedDetector[p.Class] {
			level, seen = Easy, fmt.Sprintf("Probity's %s detector flags the planted step.", f.Detector)
			break
		}
		if level == Hard {
			level, seen = Medium, fmt.Sprintf("Probity flags it indirectly: %s at step %d.", f.Detector, f.Step)
		}
	}

	rule := m.stoppingRule(r.t, p, onFault)
	failed := true
	ans := Answer{Failed: &failed, Step: ptr(p.Pos), Class: ptr(p.Class), Reached: &reached, Rule: &rule}
	ruleText := "No rule of the policy would have stopped it: containment needs a check the policy does not have."
	if rule != None {
		ruleText = fmt.Sprintf("The policy rule %s would have stopped it.", rule)
	}
	reachText := "It reached no later step."
	if len(reached) > 0 {
		reachText = "It reached steps " + describe(QReached, ans) + "."
	}
	k := KeyEntry{
		Origin:     OriginPlanted,
		Difficulty: level,
		From:       from(r.t),
		Answer:     ans,
		Explanation: fmt.Sprintf("Planted %s at step %d: %s. %s %s %s",
			p.Class, p.Pos, faultText[p.Class], reachText, ruleText, seen),
		Findings: findingLines(rep),
		Diff:     stepDiff(r.t, p.Trace),
	}
	return m.traceDrill(p.Trace, level), k
}

// stoppingRule is the rule whose violation the fault added on the planted
// step or a step it reached (the earliest), or None.
func (m *maker) stoppingRule(clean *probity.Trace, p *inject.Planted, onFault map[int]bool) string {
	old := map[string]bool{}
	for _, f := range m.pol.Findings(clean) {
		old[f.Detector+"@"+fmt.Sprint(p.Shift(f.Step))] = true
	}
	best, at := None, -1
	for _, f := range m.pol.Findings(p.Trace) {
		if old[f.Detector+"@"+fmt.Sprint(f.Step)] || !onFault[f.Step] {
			continue
		}
		if at < 0 || f.Step < at {
			best, at = strings.TrimPrefix(f.Detector, "policy:"), f.Step
		}
	}
	return best
}

func (m *maker) clean() (*Drill, KeyEntry, bool) {
	if m.nClean >= len(m.cleanOrder) {
		return nil, KeyEntry{}, false
	}
	r := m.succ[m.cleanOrder[m.nClean]]
	m.nClean++
	failed := false
	level, note := Easy, "Probity finds nothing either."
	switch r.rep.Verdict {
	case probity.VerdictSuspect:
		level, note = Medium, "Probity raises a medium finding on it anyway: read the evidence and see why it does not hold."
	case probity.VerdictFail:
		level, note = Hard, "Probity flags it high anyway (a false alarm to resist): read the evidence and see why it does not hold."
	}
	k := KeyEntry{
		Origin:      OriginClean,
		Difficulty:  level,
		From:        from(r.t),
		Answer:      Answer{Failed: &failed},
		Explanation: fmt.Sprintf("A real run that succeeded (%s). Nothing is wrong here. %s", labelText(r.t), note),
		Findings:    findingLines(r.rep),
	}
	return m.traceDrill(inject.Clone(r.t), level), k, true
}

func (m *maker) labelled() (*Drill, KeyEntry, bool) {
	if m.nFail >= len(m.failOrder) {
		return nil, KeyEntry{}, false
	}
	r := m.fail[m.failOrder[m.nFail]]
	m.nFail++
	failed := true
	ans := Answer{Failed: &failed}
	l := r.t.Labels
	text := fmt.Sprintf("A real run that failed (%s).", labelText(r.t))
	level := Hard
	if l.MistakeStep != nil {
		ans.Step = ptr(*l.MistakeStep)
		text += fmt.Sprintf(" The labellers put the decisive mistake at step %d", *l.MistakeStep)
		if l.MistakeAgent != "" {
			text += " by " + l.MistakeAgent
		}
		text += "."
		if l.MistakeReason != "" {
			text += " Their reason: " + oneLine(l.MistakeReason, 400)
		}
		if r.rep.RootCauseStep != nil && *r.rep.RootCauseStep == *l.MistakeStep {
			level = Medium
			text += " Probity's root cause is the same step."
		} else {
			text += " Probity's root cause is elsewhere or absent: the labelled step is for a reader to find."
		}
	} else {
		text += " The source labels only the outcome, so only \"did it fail?\" is scored."
		if r.rep.Verdict != probity.VerdictOK {
			level = Medium
			text += " Probity flags something in it; check whether its findings explain the failure."
		} else {
			text += " Probity finds nothing: the failure is in what the agent chose, not in any value it invented."
		}
	}
	k := KeyEntry{Origin: OriginLabelled, Difficulty: level, From: from(r.t), Answer: ans, Explanation: text, Findings: findingLines(r.rep)}
	return m.traceDrill(inject.Clone(r.t), level), k, true
}

func (m *maker) probability() (*Drill, KeyEntry, bool) {
	p := probKinds[m.nProb%len(probKinds)](m.rng)
	m.nProb++
	d := &Drill{Difficulty: p.difficulty, Prompt: p.prompt, Questions: []Question{{
		ID: QValue, Skill: SkillReason, Text: "Your answer, as a number:",
	}}}
	k := KeyEntry{Origin: OriginProbability, Difficulty: p.difficulty, From: p.from, Answer: Answer{Value: ptr(round4(p.value))},
		Tolerance: p.tolerance, Explanation: p.explanation}
	return d, k, true
}

// traceDrill wraps a trace as a drill: the labels, expected actions and
// source attributes that would give the answer away are removed.
func (m *maker) traceDrill(t *probity.Trace, level string) *Drill {
	t.Labels, t.Expected, t.Meta = probity.Labels{}, nil, nil
	return &Drill{
		Difficulty: level,
		Prompt:     "Read the run (probity show shows it the same way). Positions are the numbers at the left.",
		Questions:  m.traceQuestions(),
		Trace:      t,
	}
}

func (m *maker) traceQuestions() []Question {
	classes := append(inject.AllFaults(), None)
	return []Question{
		{ID: QFailed, Skill: SkillDetect, Text: "Did this run fail? (yes/no)"},
		{ID: QStep, Skill: SkillLocalize, Text: "At which step (position) did the failure begin?"},
		{ID: QClass, Skill: SkillDetect, Text: "Which failure class is it?", Choices: classes},
		{ID: QReached, Skill: SkillLocalize, Text: "Which later steps did it reach? (positions, or none)"},
		{ID: QRule, Skill: SkillContain, Text: "Which policy rule would have stopped it?", Choices: m.rules},
	}
}

func findingLines(rep analysis.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Severity < probity.SeverityMedium {
			continue
		}
		if len(out) == 10 {
			out = append(out, "…")
			break
		}
		out = append(out, fmt.Sprintf("step %d  %s (%s): %s", f.Step, f.Detector, f.Severity, oneLine(f.Message, 240)))
	}
	return out
}

func labelText(t *probity.Trace) string {
	l := t.Labels
	switch {
	case l.Reward != nil:
		return fmt.Sprintf("source label: reward %g", *l.Reward)
	case l.Resolved != nil && *l.Resolved:
		return "source label: tests resolved"
	case l.Resolved != nil:
		return "source label: tests not resolved, although the agent submitted"
	case l.IsCorrect != nil && *l.IsCorrect:
		return "source label: answer correct"
	case l.IsCorrect != nil || l.MistakeStep != nil:
		return "source label: answer wrong"
	}
	return "no outcome label; Probity finds nothing in it, and it is treated as a success"
}

func from(t *probity.Trace) string { return t.Source + "#" + t.ID }

func ptr[T any](v T) *T { return &v }

// round4 keeps four decimals: the key is for people, and the tolerance is
// far wider.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func remove(xs []string, x string) []string {
	var out []string
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// oneLine squeezes whitespace and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
