package blindinject

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"

	"github.com/probity/probity"
)

// role marks what a message is to the planted fault.
type role uint8

const (
	roleStep  role = 1 << iota // where the fault begins (exactly one message)
	roleAt                     // a finding here also counts
	roleReach                  // a later step the fault reaches
)

// msg is one source record: the steps that share a Position.Index. Planting
// edits whole records, so positions stay consistent: after the edit every
// record is renumbered in order.
type msg struct {
	origin int // position in the base trace, or -1 for a written record
	steps  []probity.Step
	role   role
}

// planter holds a working copy of a trace while one variant plants a fault.
type planter struct {
	base  *probity.Trace
	rng   *rand.Rand
	ms    []*msg
	orig  map[int][]probity.Step // the base records by position, to see what changed
	first int                    // position of the first record, kept on renumbering
	// phrasing names the wording of an injected instruction, for Truth.
	phrasing string
}

func newPlanter(base *probity.Trace, rng *rand.Rand) *planter {
	p := &planter{base: base, rng: rng, first: base.Steps[0].Pos.Index, orig: map[int][]probity.Step{}}
	for _, s := range base.Steps {
		p.orig[s.Pos.Index] = append(p.orig[s.Pos.Index], s)
		s = cloneStep(s)
		if n := len(p.ms); n > 0 && p.ms[n-1].steps[0].Pos.Index == s.Pos.Index {
			p.ms[n-1].steps = append(p.ms[n-1].steps, s)
			continue
		}
		p.ms = append(p.ms, &msg{origin: s.Pos.Index, steps: []probity.Step{s}})
	}
	return p
}

func cloneStep(s probity.Step) probity.Step {
	if s.Tool != nil {
		c := *s.Tool
		c.Args = bytes.Clone(s.Tool.Args)
		s.Tool = &c
	}
	if s.Error != nil {
		e := *s.Error
		s.Error = &e
	}
	if s.Model != nil {
		m := *s.Model
		s.Model = &m
	}
	return s
}

// finish renumbers the records and builds the planted trace and the
// positions of the truth.
func (p *planter) finish() (*probity.Trace, Truth) {
	t := *p.base
	t.Meta = maps.Clone(p.base.Meta)
	t.Expected = slices.Clone(p.base.Expected)
	t.Labels = p.base.Labels
	t.Steps = nil
	var truth Truth
	pos := p.first
	for _, m := range p.ms {
		if m.origin < 0 || !reflect.DeepEqual(m.steps, p.orig[m.origin]) {
			truth.Edited = append(truth.Edited, pos)
		}
		for _, s := range m.steps {
			s.Pos.Index = pos
			if m.origin < 0 {
				s.Pos.SpanID, s.Pos.Line = "", 0
			}
			t.Steps = append(t.Steps, s)
		}
		truth.Origin = append(truth.Origin, m.origin)
		if m.role&roleStep != 0 {
			truth.Step = pos
			truth.At = append(truth.At, pos)
		}
		if m.role&roleAt != 0 {
			truth.At = append(truth.At, pos)
		}
		if m.role&roleReach != 0 {
			truth.Reaches = append(truth.Reaches, pos)
		}
		pos++
	}
	slices.Sort(truth.At)
	truth.At = slices.Compact(truth.At)
	return &t, truth
}

// insert puts records before index i of p.ms.
func (p *planter) insert(i int, ms ...*msg) { p.ms = slices.Insert(p.ms, i, ms...) }

// remove deletes the records i..j-1.
func (p *planter) remove(i, j int) { p.ms = slices.Delete(p.ms, i, j) }

// Record classification. A record's kind is that of its first step, except
// that an assistant record holding tool calls is a call record.

func (m *msg) kind() probity.Kind {
	for _, s := range m.steps {
		if s.Kind == probity.KindToolCall {
			return probity.KindToolCall
		}
	}
	return m.steps[0].Kind
}

// call returns the first tool call of the record, or nil.
func (m *msg) call() *probity.Step {
	for i := range m.steps {
		if m.steps[i].Kind == probity.KindToolCall && m.steps[i].Tool != nil {
			return &m.steps[i]
		}
	}
	return nil
}

// calls counts the tool calls of the record.
func (m *msg) calls() int {
	n := 0
	for _, s := range m.steps {
		if s.Kind == probity.KindToolCall {
			n++
		}
	}
	return n
}

// text returns the record's prose: the content of its message steps.
func (m *msg) text() string {
	var b strings.Builder
	for _, s := range m.steps {
		if s.Kind != probity.KindToolCall {
			b.WriteString(s.Content)
		}
	}
	return b.String()
}

// textStep returns the step holding the record's prose, or nil.
func (m *msg) textStep() *probity.Step {
	for i := range m.steps {
		if m.steps[i].Kind != probity.KindToolCall && m.steps[i].Content != "" {
			return &m.steps[i]
		}
	}
	return nil
}

func (m *msg) isUser() bool      { return m.kind() == probity.KindUser }
func (m *msg) isResult() bool    { return m.kind() == probity.KindToolResult }
func (m *msg) isCall() bool      { return m.kind() == probity.KindToolCall }
func (m *msg) isAssistant() bool { return m.kind() == probity.KindAssistant }

// isAgent reports whether the record is something the agent produced.
func (m *msg) isAgent() bool {
	switch m.kind() {
	case probity.KindAssistant, probity.KindToolCall, probity.KindFinal:
		return true
	}
	return false
}

// toolName returns the tool of a call or result record, or "".
func (m *msg) toolName() string {
	for _, s := range m.steps {
		if s.Tool != nil {
			return s.Tool.Name
		}
	}
	return ""
}

// resultOf returns the index of the record answering the single call of
// record i, or -1: matched by call id, else the next result of the same tool
// before any other call.
func (p *planter) resultOf(i int) int {
	c := p.ms[i].call()
	if c == nil || p.ms[i].calls() != 1 {
		return -1
	}
	for j := i + 1; j < len(p.ms); j++ {
		m := p.ms[j]
		if m.isCall() && c.Tool.ID == "" {
			return -1
		}
		if !m.isResult() {
			continue
		}
		r := m.steps[0].Tool
		if r == nil {
			continue
		}
		if c.Tool.ID != "" && r.ID != "" {
			if r.ID == c.Tool.ID {
				return j
			}
			continue
		}
		if r.Name == c.Tool.Name || r.Name == "" {
			return j
		}
	}
	return -1
}

// prevUser returns the index of the last user record before i, or -1.
func (p *planter) prevUser(i int) int {
	for j := i - 1; j >= 0; j-- {
		if p.ms[j].isUser() {
			return j
		}
	}
	return -1
}

// nextAssistant returns the index of the first assistant prose record after
// i and before the next user record, or -1.
func (p *planter) nextAssistant(i int) int {
	for j := i + 1; j < len(p.ms); j++ {
		m := p.ms[j]
		if m.isUser() {
			return -1
		}
		if m.isAssistant() && strings.TrimSpace(m.text()) != "" {
			return j
		}
		// A call record with prose (mini-swe-agent's THOUGHT before the
		// command) speaks as well.
		if m.isCall() && strings.TrimSpace(m.text()) != "" {
			return j
		}
	}
	return -1
}

// inputsBefore returns the concatenated text of every input record (user,
// system, tool result, retrieval) before index i, the evidence the agent had.
func (p *planter) inputsBefore(i int) string {
	var b strings.Builder
	for _, m := range p.ms[:i] {
		for _, s := range m.steps {
			if s.Kind.IsInput() {
				b.WriteString(s.Content)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// allText returns every content and argument of the trace, to check that a
// written value appears nowhere else.
func (p *planter) allText() string {
	var b strings.Builder
	for _, m := range p.ms {
		for _, s := range m.steps {
			b.WriteString(s.Content)
			b.WriteByte('\n')
			if s.Tool != nil {
				b.Write(s.Tool.Args)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// toolsCalled returns the set of tool names called in the trace.
func (p *planter) toolsCalled() map[string]bool {
	out := map[string]bool{}
	for _, m := range p.ms {
		for _, s := range m.steps {
			if s.Kind == probity.KindToolCall && s.Tool != nil {
				out[s.Tool.Name] = true
			}
		}
	}
	return out
}

// Writing records in the style of the base trace.

// style describes how the base trace writes tool calls, so written records
// look like the ones around them.
type style struct {
	idPrefix  string // "call_", "toolu_", or "" when calls carry no id
	idLen     int    // length of the id after the prefix
	callPart  int    // Part of a tool call in a record with no prose
	proseCall bool   // calls always come with prose (mini-swe-agent)
	compact   bool   // arguments are written without spaces
	escHTML   bool   // arguments escape <, > and & as Go's encoder does
	toolActor string
	bash      bool // the agent's only tool is a shell
}

func (p *planter) style() style {
	st := style{callPart: 1, toolActor: "tool"}
	calls, prose, names := 0, 0, map[string]bool{}
	for _, m := range p.ms {
		if c := m.call(); c != nil {
			calls++
			names[c.Tool.Name] = true
			if m.textStep() != nil {
				prose++
			} else {
				st.callPart = c.Pos.Part
			}
			st.escHTML = st.escHTML || bytes.Contains(c.Tool.Args, []byte(`\u0026`)) || bytes.Contains(c.Tool.Args, []byte(`\u003c`)) || bytes.Contains(c.Tool.Args, []byte(`\u003e`))
			st.compact = !bytes.Contains(c.Tool.Args, []byte(`": `)) && !bytes.Contains(c.Tool.Args, []byte(`", "`))
			if id := c.Tool.ID; id != "" && st.idPrefix == "" {
				if k := strings.LastIndexAny(id, "_-"); k >= 0 {
					st.idPrefix, st.idLen = id[:k+1], len(id)-k-1
				} else {
					st.idPrefix, st.idLen = "call_", len(id)
				}
			}
		}
		if m.isResult() && m.steps[0].Actor != "" {
			st.toolActor = m.steps[0].Actor
		}
	}
	st.proseCall = calls > 0 && prose == calls
	st.bash = len(names) == 1 && (names["bash"] || names["shell"] || names["execute_bash"])
	return st
}

// args writes arguments the way the base trace writes them.
func (st style) args(args json.RawMessage) json.RawMessage {
	if st.compact {
		var b bytes.Buffer
		if json.Compact(&b, args) == nil {
			args = b.Bytes()
		}
	}
	if st.escHTML {
		var b bytes.Buffer
		json.HTMLEscape(&b, args)
		args = b.Bytes()
	}
	return args
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newCallID returns a call id in the base trace's style, or "".
func (p *planter) newCallID(st style) string {
	if st.idPrefix == "" {
		return ""
	}
	n := st.idLen
	if n <= 0 {
		n = 24
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = idChars[p.rng.IntN(len(idChars))]
	}
	return st.idPrefix + string(b)
}

// lastAssistantBefore returns the last assistant step (prose) before record
// i, to copy its model and time onto written records.
func (p *planter) lastAssistantBefore(i int) *probity.Step {
	for j := min(i, len(p.ms)) - 1; j >= 0; j-- {
		for k := range p.ms[j].steps {
			s := &p.ms[j].steps[k]
			if s.Kind == probity.KindAssistant && s.Model != nil {
				return s
			}
		}
	}
	return nil
}

// callMsg writes an agent record calling name with args, with optional
// prose, to be inserted at index at.
func (p *planter) callMsg(at int, st style, name string, args json.RawMessage, prose string) (*msg, string) {
	id := p.newCallID(st)
	args = st.args(args)
	m := &msg{origin: -1}
	if prose != "" {
		s := probity.Step{Kind: probity.KindAssistant, Actor: "assistant", Content: prose}
		if prev := p.lastAssistantBefore(at); prev != nil {
			mod := *prev.Model
			s.Model, s.Start = &mod, prev.Start
		}
		m.steps = append(m.steps, s)
	}
	part := st.callPart
	if prose != "" {
		part = len(m.steps)
	}
	m.steps = append(m.steps, probity.Step{Pos: probity.Position{Part: part}, Kind: probity.KindToolCall,
		Actor: "assistant", Tool: &probity.ToolCall{ID: id, Name: name, Args: args}})
	return m, id
}

// resultMsg writes a tool result record.
func resultMsg(st style, name, id, content string) *msg {
	return &msg{origin: -1, steps: []probity.Step{{Kind: probity.KindToolResult, Actor: st.toolActor,
		Content: content, Tool: &probity.ToolCall{ID: id, Name: name}}}}
}

// cloneMsg copies a record as a written one (for repetitions).
func cloneMsg(m *msg) *msg {
	c := &msg{origin: -1}
	for _, s := range m.steps {
		c.steps = append(c.steps, cloneStep(s))
	}
	return c
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
