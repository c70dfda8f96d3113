package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// Session is the history of one run as the policy sees it: the steps so far
// and counters kept up to date as steps arrive, so that a decision costs the
// same at step 5 and at step 500. A Session is not safe for concurrent use;
// package guard serialises the calls of one run.
type Session struct {
	// ID names the run.
	ID string

	p      *Policy
	ledger *Ledger
	steps  []probity.Step
	act    activation

	// Counters per rule, indexed by Rule.index; only executed calls count.
	runCount  []int
	turnCount []int
	msgCount  []int
	msgIndex  []int // Position.Index of the message msgCount counts

	called    map[string]int // tool -> first step index in steps
	succeeded map[string]int // tool -> executed calls not known to have failed
	calls     []callRec      // executed and blocked calls, in order
	untrusted *probity.Evidence
	prov      *provenance.Index // built only when a rule uses grounded, provenance or tainted_by_untrusted
	clock     time.Time

	// CEL view of the run, kept only when some expression reads run.
	runCalls []ref.Val
	runMsgs  []ref.Val
	runVal   ref.Val

	limits HistoryLimits
	kept   int // payload bytes kept in steps
}

// HistoryLimits bound what a Session keeps of a run, for a guard that holds
// the histories of many runs in memory on behalf of clients it does not
// trust. Counters (require_before, max_per_*, budgets) stay exact; what is
// cut is the text of steps, and a rule that reads text that was cut cannot
// be evaluated, so it fails closed rather than deciding on half a history.
// The zero value keeps everything (offline analysis of a recorded trace).
type HistoryLimits struct {
	// StepBytes caps the text kept of one step (a call's arguments, a
	// result's or message's content). A longer step keeps its first
	// StepBytes of content and none of its arguments; run.calls[].args,
	// .result and .output and run.messages[].content of a cut step are CEL
	// errors; a cut tool result counts as untrusted input with
	// instructions, since it was not read whole; grounded() and
	// provenance() refuse arguments longer than StepBytes.
	StepBytes int
	// RunBytes caps the text kept over the whole run; steps past it keep
	// no text at all (and read as cut).
	RunBytes int
	// Steps caps the number of steps; Full reports a run that reached it.
	Steps int
}

// DefaultHistoryLimits are what package guard applies: the step limit is
// the analyzer's default max_step_bytes; no real agent run we know comes
// near the others.
var DefaultHistoryLimits = HistoryLimits{StepBytes: 256 << 10, RunBytes: 16 << 20, Steps: 10_000}

// SetLimits bounds what s keeps of its run from now on (and what Fresh
// sessions made from it keep).
func (s *Session) SetLimits(l HistoryLimits) { s.limits = l }

// Full reports whether the run has as many steps as the limits allow: a
// guard should refuse further calls in it rather than lose count.
func (s *Session) Full() bool { return s.limits.Steps > 0 && len(s.steps) >= s.limits.Steps }

type callRec struct {
	step    int // index into steps
	tool    string
	id      string
	blocked bool
	done    bool // a result arrived
	failed  bool
	cel     map[ref.Val]ref.Val
}

// NewSession starts the history of run id. Budgets are kept in ledger, which
// may be shared by many sessions (per-hour and per-day budgets span runs);
// nil gives the session a ledger of its own.
func (p *Policy) NewSession(id string, ledger *Ledger) *Session {
	if ledger == nil {
		ledger = NewLedger()
	}
	n := len(p.Rules)
	s := &Session{
		ID:        id,
		p:         p,
		ledger:    ledger,
		runCount:  make([]int, n),
		turnCount: make([]int, n),
		msgCount:  make([]int, n),
		msgIndex:  make([]int, n),
		called:    map[string]int{},
		succeeded: map[string]int{},
	}
	for i := range s.msgIndex {
		s.msgIndex[i] = -1
	}
	return s
}

// Fresh returns an empty session for the same run, policy and ledger: the
// history starts again, budget usage does not.
func (s *Session) Fresh() *Session {
	f := s.p.NewSession(s.ID, s.ledger)
	f.limits = s.limits
	return f
}

// SetClock sets the run's "current time" (probity.Trace.Clock), which
// provenance uses to resolve relative dates ("tomorrow"). Call it before the
// first Append.
func (s *Session) SetClock(t time.Time) { s.clock = t }

// Ledger returns the budget ledger the session charges.
func (s *Session) Ledger() *Ledger { return s.ledger }

// Steps returns the history so far. The caller must not modify it.
func (s *Session) Steps() []probity.Step { return s.steps }

// Append adds a step that happened: a message, an executed tool call, or a
// tool result (matched to its call by id, else to the oldest open call of
// the same tool).
func (s *Session) Append(step probity.Step) { s.append(step, false) }

// AppendBlocked records a tool call that a decision stopped: it appears in
// run.calls (blocked: true) but counts toward no limit and satisfies no
// require_before.
func (s *Session) AppendBlocked(step probity.Step) { s.append(step, true) }

func (s *Session) append(step probity.Step, blocked bool) {
	i := len(s.steps)
	var cut string
	step, cut = s.bound(step)
	s.steps = append(s.steps, step)
	s.runVal = nil
	if s.p.usesProv && !blocked {
		if s.prov == nil {
			s.prov = provenance.NewIndex(provenance.WithClock(s.clock))
		}
		s.prov.Add(step, step.Pos.Index)
	}
	switch step.Kind {
	case probity.KindToolCall:
		if step.Tool == nil {
			return
		}
		s.addCall(i, step, blocked, cut)
	case probity.KindToolResult:
		s.addResult(i, step, cut)
		s.noteUntrusted(i, step, cut)
	case probity.KindRetrieval:
		s.noteUntrusted(i, step, cut)
	case probity.KindUser:
		clear(s.turnCount)
		s.addMessage(i, step, cut)
	case probity.KindAssistant, probity.KindSystem, probity.KindFinal:
		s.addMessage(i, step, cut)
	}
}

// bound applies the history limits to a step about to be kept. It returns
// the step as kept and, when text was cut, why (else "").
func (s *Session) bound(step probity.Step) (probity.Step, string) {
	l := s.limits
	if l.StepBytes <= 0 && l.RunBytes <= 0 {
		return step, ""
	}
	n := len(step.Content)
	if step.Tool != nil {
		n += len(step.Tool.Args)
	}
	if n == 0 {
		return step, ""
	}
	var cut string
	keep := n
	switch {
	case l.RunBytes > 0 && s.kept >= l.RunBytes:
		keep, cut = 0, fmt.Sprintf("the run's history is over the guard's limit of %d bytes, so the text of step %d was not kept", l.RunBytes, step.Pos.Index)
	case l.StepBytes > 0 && n > l.StepBytes:
		keep, cut = l.StepBytes, fmt.Sprintf("step %d is %d bytes, over the guard's limit of %d per step, so it was kept only in part", step.Pos.Index, n, l.StepBytes)
	}
	if cut == "" {
		s.kept += n
		return step, ""
	}
	if step.Tool != nil {
		t := *step.Tool
		t.Args = nil // half a JSON object is no object
		step.Tool = &t
	}
	step.Content = headUTF8(step.Content, keep)
	s.kept += len(step.Content)
	return step, cut
}

// headUTF8 returns at most n bytes of s, not splitting a character.
func headUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Session) addCall(i int, step probity.Step, blocked bool, cut string) {
	tool := step.Tool.Name
	rec := callRec{step: i, tool: tool, id: step.Tool.ID, blocked: blocked}
	if !blocked {
		if _, ok := s.called[tool]; !ok {
			s.called[tool] = i
		}
		s.succeeded[tool]++
		for _, r := range s.p.planFor(tool).rules {
			s.runCount[r.index]++
			s.turnCount[r.index]++
			if s.msgIndex[r.index] != step.Pos.Index {
				s.msgIndex[r.index], s.msgCount[r.index] = step.Pos.Index, 0
			}
			s.msgCount[r.index]++
		}
	}
	if s.p.usesRun {
		rec.cel = map[ref.Val]ref.Val{
			kTool: types.String(tool), kArgs: cutOr(cut, func() ref.Val { return toVal(decodeArgs(step.Tool.Args)) }), kOK: types.Bool(!blocked),
			kFailed: types.False, kBlocked: types.Bool(blocked), kResult: types.String(""),
			kOutput: emptyMap, kStep: types.Int(step.Pos.Index),
		}
		s.runCalls = append(s.runCalls, types.NewRefValMap(types.DefaultTypeAdapter, rec.cel))
	}
	s.calls = append(s.calls, rec)
}

func (s *Session) addResult(i int, step probity.Step, cut string) {
	c := s.openCall(step.Tool)
	if c == nil {
		return
	}
	c.done = true
	c.failed = c.blocked || failedResult(step)
	if c.failed && !c.blocked {
		s.succeeded[c.tool]--
	}
	if c.cel != nil {
		c.cel[kOK] = types.Bool(!c.failed)
		c.cel[kFailed] = types.Bool(c.failed)
		c.cel[kResult] = cutOr(cut, func() ref.Val { return types.String(step.Content) })
		c.cel[kOutput] = cutOr(cut, func() ref.Val { return toVal(decodeOutput(step.Content)) })
	}
}

// openCall finds the call a result answers: by id, else the oldest call of
// the same tool without a result, else the latest call without one.
func (s *Session) openCall(t *probity.ToolCall) *callRec {
	if t != nil && t.ID != "" {
		for j := len(s.calls) - 1; j >= 0; j-- {
			if s.calls[j].id == t.ID && !s.calls[j].done {
				return &s.calls[j]
			}
		}
	}
	if t != nil && t.Name != "" {
		for j := range s.calls {
			if !s.calls[j].done && s.calls[j].tool == t.Name {
				return &s.calls[j]
			}
		}
	}
	for j := len(s.calls) - 1; j >= 0; j-- {
		if !s.calls[j].done {
			return &s.calls[j]
		}
	}
	return nil
}

// failedResult reports whether a tool result says the call failed: the
// source marked it, or its text starts with "Error" (the τ-bench and many
// agent frameworks' convention for tool exceptions).
func failedResult(step probity.Step) bool {
	if step.Error != nil {
		return true
	}
	c := strings.TrimSpace(step.Content)
	return strings.HasPrefix(c, "Error:") || strings.HasPrefix(c, "Error ") || strings.HasPrefix(c, "ERROR:")
}

func (s *Session) addMessage(i int, step probity.Step, cut string) {
	if !s.p.usesRun {
		return
	}
	s.runMsgs = append(s.runMsgs, types.NewRefValMap(types.DefaultTypeAdapter, map[ref.Val]ref.Val{
		kRole: types.String(step.Kind), kContent: cutOr(cut, func() ref.Val { return types.String(step.Content) }), kStep: types.Int(step.Pos.Index),
	}))
}

// cutOr is the CEL value of a field of a step: an error saying why when
// the step's text was cut, so that a rule reading it fails closed.
func cutOr(cut string, v func() ref.Val) ref.Val {
	if cut != "" {
		return types.NewErr("%s", cut)
	}
	return v()
}

func (s *Session) noteUntrusted(i int, step probity.Step, cut string) {
	if s.untrusted != nil {
		return
	}
	if cut != "" {
		// Instructions may hide past what was kept: when in doubt, the
		// input counts as carrying them.
		s.untrusted = &probity.Evidence{
			Kind: "instruction", SourceStep: step.Pos.Index, Source: provenance.Excerpt(step.Content, 0, min(len(step.Content), 120)),
			Note: "untrusted input (" + string(step.Kind) + ") not read whole: " + cut,
		}
		return
	}
	if quote, ok := InstructionLike(step.Content); ok {
		s.untrusted = &probity.Evidence{
			Kind: "instruction", Value: quote, Source: quote, SourceStep: step.Pos.Index,
			Note: "instruction-like text in untrusted input (" + string(step.Kind) + ")",
		}
	}
}

// Keys of the run's CEL maps, allocated once.
var (
	kTool, kArgs, kOK, kFailed        = types.String("tool"), types.String("args"), types.String("ok"), types.String("failed")
	kBlocked, kResult, kOutput, kStep = types.String("blocked"), types.String("result"), types.String("output"), types.String("step")
	kRole, kContent, kID, kCalls      = types.String("role"), types.String("content"), types.String("id"), types.String("calls")
	kMessages                         = types.String("messages")
	emptyMap                          = types.NewRefValMap(types.DefaultTypeAdapter, map[ref.Val]ref.Val{})
)

// runValue returns the CEL value of the run, built once per history length.
func (s *Session) runValue() ref.Val {
	if s.runVal == nil {
		s.runVal = types.NewRefValMap(types.DefaultTypeAdapter, map[ref.Val]ref.Val{
			kID:       types.String(s.ID),
			kCalls:    types.NewRefValList(types.DefaultTypeAdapter, s.runCalls),
			kMessages: types.NewRefValList(types.DefaultTypeAdapter, s.runMsgs),
		})
	}
	return s.runVal
}

// provenanceOf classifies the atoms of v (a CEL value: the arguments, or a
// field of them) as if the calling agent passed them now. Under history
// limits, a value longer than a step may be is refused: classifying it
// would take time no decision has.
func (s *Session) provenanceOf(v ref.Val, actor string) ([]provenance.Result, error) {
	if s.prov == nil {
		s.prov = provenance.NewIndex(provenance.WithClock(s.clock))
	}
	b, err := json.Marshal(celJSON(v))
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	if l := s.limits.StepBytes; l > 0 && len(b) > l {
		return nil, fmt.Errorf("provenance: the value is %d bytes, over the guard's limit of %d", len(b), l)
	}
	return s.prov.ClassifyJSON(b, actor), nil
}

// celJSON converts a CEL value to plain Go values that encoding/json writes.
func celJSON(v ref.Val) any {
	switch x := v.(type) {
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			out[fmt.Sprint(k.Value())] = celJSON(x.Get(k))
		}
		return out
	case traits.Lister:
		var out []any
		for it := x.Iterator(); it.HasNext() == types.True; {
			out = append(out, celJSON(it.Next()))
		}
		return out
	case types.Null:
		return nil
	}
	return v.Value()
}

func collectAtoms(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		if len(strings.TrimSpace(x)) >= 3 {
			*out = append(*out, x)
		}
	case float64:
		*out = append(*out, strconv.FormatFloat(x, 'f', -1, 64))
	case int64:
		*out = append(*out, strconv.FormatInt(x, 10))
	case json.Number:
		*out = append(*out, x.String())
	case map[string]any:
		for _, e := range x {
			collectAtoms(e, out)
		}
	case []any:
		for _, e := range x {
			collectAtoms(e, out)
		}
	case ref.Val:
		collectAtoms(x.Value(), out)
	case map[ref.Val]ref.Val:
		for _, e := range x {
			collectAtoms(e.Value(), out)
		}
	case []ref.Val:
		for _, e := range x {
			collectAtoms(e.Value(), out)
		}
	}
}
