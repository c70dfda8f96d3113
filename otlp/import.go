package otlp

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/wire"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Actors the importer assigns when the source names none.
const (
	actorUser      = "user"
	actorSystem    = "system"
	actorTool      = "tool"
	actorAssistant = "assistant"
	actorRetriever = "retriever"
)

// spanClass is what a span means under the conventions.
type spanClass int

const (
	classOther spanClass = iota
	classModel
	classTool
	classAgent
	classRetrieval
	classChain
	classSkip
)

func classify(s *spanRec) spanClass {
	a := s.attrs
	if a.str(attrSpan) == "trace" {
		return classSkip
	}
	op := strings.ToLower(a.str("gen_ai.operation.name"))
	oi := strings.ToUpper(a.str("openinference.span.kind"))
	tl := strings.ToLower(a.str("traceloop.span.kind"))
	switch {
	case op == "execute_tool" || oi == "TOOL" || tl == "tool":
		return classTool
	case op == "invoke_agent" || op == "create_agent" || oi == "AGENT" || tl == "agent":
		return classAgent
	case op == "retrieval" || op == "retrieve" || oi == "RETRIEVER" || oi == "RERANKER":
		return classRetrieval
	case op == "chat" || op == "text_completion" || op == "generate_content" || op == "completion" || oi == "LLM":
		return classModel
	case op != "" || oi != "":
		if oi == "CHAIN" {
			return classChain
		}
		return classOther
	}
	if a.has("llm.request.type") || a.has("gen_ai.input.messages") || a.has("gen_ai.output.messages") ||
		hasPrefix(a, "gen_ai.prompt.") || hasPrefix(a, "gen_ai.completion.") ||
		hasPrefix(a, "llm.input_messages.") || hasPrefix(a, "llm.output_messages.") || hasMessageEvents(s.sp) {
		return classModel
	}
	if a.has("gen_ai.retrieval.documents") || hasPrefix(a, "retrieval.documents.") {
		return classRetrieval
	}
	if tl == "workflow" {
		return classChain
	}
	return classOther
}

func hasPrefix(a attrs, p string) bool {
	for k := range a {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func hasMessageEvents(sp *tracepb.Span) bool {
	for _, ev := range sp.GetEvents() {
		switch n := ev.GetName(); n {
		case "gen_ai.choice", "gen_ai.content.prompt", "gen_ai.content.completion", "gen_ai.client.inference.operation.details":
			return true
		default:
			if strings.HasPrefix(n, "gen_ai.") && strings.HasSuffix(n, ".message") {
				return true
			}
		}
	}
	return false
}

// pstep is a step with the time it sorts by.
type pstep struct {
	s  probity.Step
	at time.Time
	// fill marks a return whose span recorded no output: it gets the
	// sub-agent's last message, which is what the caller received.
	fill bool
	span int // index of the span it came from
}

// builder turns one trace's spans into a probity.Trace.
type builder struct {
	path  string
	spans []*spanRec
	// per span, by index in spans:
	parent    []int    // parent's index, -1 for a root or a parent outside the file
	agentName []string // name of an agent span, "" for other spans
	actor     []string // nearest agent name, self or ancestor
	outer     []int    // nearest agent span strictly above, -1
	part      []int    // steps emitted so far

	steps  []pstep
	finals []pstep
	// what has been emitted, so repeated chat history is not emitted twice
	seen      map[string]int
	callIDs   map[string]bool
	resultIDs map[string]bool
	callNames map[string]string
	pending   map[string][]string // tool name -> ids of calls not yet run, in order
}

func buildTrace(path string, ts *traceSpans) (*probity.Trace, error) {
	n := len(ts.spans)
	b := &builder{
		path: path, spans: ts.spans,
		parent: make([]int, n), agentName: make([]string, n), actor: make([]string, n), outer: make([]int, n), part: make([]int, n),
		seen: map[string]int{}, callIDs: map[string]bool{}, resultIDs: map[string]bool{}, callNames: map[string]string{}, pending: map[string][]string{},
	}
	byID := make(map[string]int, n)
	for i, s := range ts.spans {
		if _, dup := byID[s.id]; !dup {
			byID[s.id] = i
		}
	}
	classes := make([]spanClass, n)
	for i, s := range ts.spans {
		b.parent[i] = -1
		if s.parent != "" {
			if p, ok := byID[s.parent]; ok {
				b.parent[i] = p
			}
		}
		classes[i] = classify(s)
		if classes[i] == classAgent {
			b.agentName[i] = agentNameOf(s)
		}
	}
	if err := b.resolveAncestry(); err != nil {
		return nil, err
	}

	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		return ts.spans[order[x]].sp.GetStartTimeUnixNano() < ts.spans[order[y]].sp.GetStartTimeUnixNano()
	})
	for _, i := range order {
		s := ts.spans[i]
		if s.attrs.has(attrKind) {
			st, err := exactStep(s)
			if err != nil {
				return nil, invalid(path, fmt.Sprintf("span %d (%s)", s.ord, s.id), "bad probity step", err)
			}
			b.register(st)
			b.steps = append(b.steps, pstep{s: st, at: s.start()})
			continue
		}
		switch classes[i] {
		case classModel:
			b.modelSpan(i)
		case classTool:
			b.toolSpan(i)
		case classAgent:
			b.agentSpan(i)
		case classRetrieval:
			b.retrievalSpan(i)
		case classChain:
			if b.parent[i] < 0 {
				b.rootIO(i, b.actorOf(i))
			}
		}
	}
	sort.SliceStable(b.steps, func(x, y int) bool { return b.steps[x].at.Before(b.steps[y].at) })
	b.fillReturns()
	b.addFinals()

	t := &probity.Trace{ID: ts.id, Source: path, Format: Format}
	if len(b.steps) > 0 {
		t.Steps = make([]probity.Step, len(b.steps))
	}
	for i, p := range b.steps {
		t.Steps[i] = p.s
	}
	res := ts.spans[0].res
	if res.has(attrTraceID) {
		if err := restoreTrace(t, res); err != nil {
			return nil, invalid(path, fmt.Sprintf("trace %s", ts.id), "bad probity trace attributes", err)
		}
		return t, nil
	}
	for _, s := range t.Steps {
		if s.Kind == probity.KindUser {
			t.Task = s.Content
			break
		}
	}
	meta := map[string]string{}
	if svc := res.str("service.name"); svc != "" {
		meta["service.name"] = svc
	}
	// A conversation or session id groups runs of the same conversation.
	for _, k := range []string{"gen_ai.conversation.id", "session.id"} {
		for _, s := range ts.spans {
			if v := s.attrs.str(k); v != "" {
				meta[k] = v
				break
			}
		}
	}
	if len(meta) > 0 {
		t.Meta = meta
	}
	return t, nil
}

// resolveAncestry fills actor and outer for every span, walking parent
// chains once. A cycle in the parent links (A → B → A) is malformed input:
// it is reported, never followed forever.
func (b *builder) resolveAncestry() error {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]uint8, len(b.spans))
	var path []int
	for i := range b.spans {
		path = path[:0]
		j := i
		for j >= 0 && state[j] == unvisited {
			state[j] = visiting
			path = append(path, j)
			j = b.parent[j]
		}
		if j >= 0 && state[j] == visiting {
			var ids []string
			for _, k := range path {
				ids = append(ids, b.spans[k].id)
			}
			ids = append(ids, b.spans[j].id)
			s := b.spans[j]
			return invalid(b.path, fmt.Sprintf("span %d", s.ord), fmt.Sprintf("cyclic span parents in trace %s: %s", s.trace, strings.Join(ids, " → ")), nil)
		}
		// Resolve from the top of the chain down.
		for k := len(path) - 1; k >= 0; k-- {
			x := path[k]
			p := b.parent[x]
			b.outer[x], b.actor[x] = -1, ""
			if p >= 0 {
				b.actor[x] = b.actor[p]
				if b.agentName[p] != "" {
					b.outer[x] = p
				} else {
					b.outer[x] = b.outer[p]
				}
			}
			if b.agentName[x] != "" {
				b.actor[x] = b.agentName[x]
			}
			state[x] = done
		}
	}
	return nil
}

func agentNameOf(s *spanRec) string {
	if n := s.attrs.first("gen_ai.agent.name", "agent.name", "graph.node.name", "traceloop.entity.name"); n != "" {
		return n
	}
	name := s.sp.GetName()
	for _, p := range []string{"invoke_agent ", "create_agent "} {
		name = strings.TrimPrefix(name, p)
	}
	if name = strings.TrimSpace(name); name == "" || name == "invoke_agent" || name == "create_agent" {
		return "agent"
	}
	return name
}

// actorOf names the agent a span acts for: the nearest enclosing agent, else
// the span's own gen_ai.agent.name, else "assistant".
func (b *builder) actorOf(i int) string {
	if a := b.actor[i]; a != "" {
		return a
	}
	if a := b.spans[i].attrs.first("gen_ai.agent.name", "agent.name"); a != "" {
		return a
	}
	return actorAssistant
}

func (b *builder) add(i int, at time.Time, s probity.Step) {
	sp := b.spans[i]
	s.Pos = probity.Position{Index: sp.ord, Part: b.part[i], SpanID: sp.id, Line: sp.line}
	b.part[i]++
	if s.ID == "" {
		s.ID = sp.id
	}
	if s.ParentID == "" {
		s.ParentID = sp.parent
	}
	b.steps = append(b.steps, pstep{s: s, at: at, span: i})
}

// key identifies a message for deduplication of repeated history. User
// messages are keyed for the whole trace (there is one user); the others per
// agent, since each agent keeps its own history.
func key(actor string, m message) string {
	role := normRole(m.role)
	if role == "user" {
		actor = ""
	}
	var sb strings.Builder
	sb.WriteString(actor)
	sb.WriteByte(0)
	sb.WriteString(role)
	sb.WriteByte(0)
	sb.WriteString(m.text)
	for _, c := range m.calls {
		sb.WriteByte(1)
		sb.WriteString(c.ID)
		sb.WriteByte(2)
		sb.WriteString(c.Name)
	}
	if role == "tool" {
		sb.WriteByte(3)
		sb.WriteString(m.callID)
	}
	return sb.String()
}

func normRole(r string) string {
	switch strings.ToLower(r) {
	case "system", "developer":
		return "system"
	case "assistant", "model", "ai", "bot":
		return "assistant"
	case "tool", "function", "ipython":
		return "tool"
	}
	return "user"
}

// register records what an exactly restored step says was emitted.
func (b *builder) register(s probity.Step) {
	switch s.Kind {
	case probity.KindToolCall:
		if s.Tool != nil {
			b.noteCall(*s.Tool)
		}
	case probity.KindToolResult:
		if s.Tool != nil && s.Tool.ID != "" {
			b.resultIDs[s.Tool.ID] = true
		}
	}
}

func (b *builder) noteCall(c probity.ToolCall) {
	if c.ID != "" {
		b.callIDs[c.ID] = true
		b.callNames[c.ID] = c.Name
	}
	b.pending[c.Name] = append(b.pending[c.Name], c.ID)
}

// takePending consumes a call of name the model already requested; it
// reports whether there was one and its id.
func (b *builder) takePending(name, id string) (string, bool) {
	q := b.pending[name]
	for k, x := range q {
		if id == "" || x == id {
			b.pending[name] = append(q[:k:k], q[k+1:]...)
			return x, true
		}
	}
	if id != "" && b.callIDs[id] {
		return id, true
	}
	return "", false
}

func (b *builder) inputs(s *spanRec) []message {
	a := s.attrs
	in := systemInstructions(a)
	switch {
	case a.has("gen_ai.input.messages"):
		in = append(in, messagesAttr(a, "gen_ai.input.messages", "user")...)
	case hasPrefix(a, "gen_ai.prompt."):
		in = append(in, flatMessages(a, "gen_ai.prompt", "", "user")...)
	case hasPrefix(a, "llm.input_messages."):
		in = append(in, flatMessages(a, "llm.input_messages", "message.", "user")...)
	case hasPrefix(a, "llm.prompts."):
		for _, g := range a.indexed("llm.prompts") {
			in = append(in, message{role: "user", text: g.first("prompt.text")})
		}
	case a.has("gen_ai.prompt"):
		in = append(in, messagesAttr(a, "gen_ai.prompt", "user")...)
	default:
		ev, _ := eventMessages(s.sp.GetEvents())
		in = append(in, ev...)
	}
	return in
}

func (b *builder) outputs(s *spanRec) []message {
	a := s.attrs
	var out []message
	switch {
	case a.has("gen_ai.output.messages"):
		out = messagesAttr(a, "gen_ai.output.messages", "assistant")
	case hasPrefix(a, "gen_ai.completion."):
		out = flatMessages(a, "gen_ai.completion", "", "assistant")
	case hasPrefix(a, "llm.output_messages."):
		out = flatMessages(a, "llm.output_messages", "message.", "assistant")
	case hasPrefix(a, "llm.choices."):
		for _, g := range a.indexed("llm.choices") {
			out = append(out, message{role: "assistant", text: g.first("completion.text")})
		}
	case a.has("gen_ai.completion"):
		out = messagesAttr(a, "gen_ai.completion", "assistant")
	default:
		_, out = eventMessages(s.sp.GetEvents())
	}
	return out
}

// modelSpan maps a model call: new input messages, then the first output
// message (the first choice; the run continued with it).
func (b *builder) modelSpan(i int) {
	s := b.spans[i]
	actor := b.actorOf(i)
	start, end := s.start(), s.end()
	b.emitHistory(i, actor, b.inputs(s), start)
	out := b.outputs(s)
	if len(out) == 0 {
		return
	}
	m := out[0]
	model := modelOf(s.attrs)
	if m.text != "" || len(m.calls) == 0 {
		b.add(i, start, probity.Step{Kind: probity.KindAssistant, Actor: actor, Content: m.text, Model: model, Start: start, End: end})
		model = nil
	}
	for _, c := range m.calls {
		c := c
		b.add(i, start, probity.Step{Kind: probity.KindToolCall, Actor: actor, Tool: &c, Model: model, Start: start, End: end})
		model = nil
		b.noteCall(c)
	}
	b.seen[key(actor, message{role: "assistant", text: m.text, calls: m.calls})]++
}

// emitHistory emits the input messages not seen before. A model call
// repeats the whole conversation; an occurrence is new when this input holds
// more copies of the message than were already emitted.
func (b *builder) emitHistory(i int, actor string, msgs []message, at time.Time) {
	counts := map[string]int{}
	for _, m := range msgs {
		k := key(actor, m)
		counts[k]++
		if counts[k] <= b.seen[k] {
			continue
		}
		switch normRole(m.role) {
		case "tool":
			if m.callID != "" && b.resultIDs[m.callID] {
				continue
			}
			name := m.name
			if name == "" {
				name = b.callNames[m.callID]
			}
			if m.callID != "" {
				b.resultIDs[m.callID] = true
			}
			b.add(i, at, probity.Step{Kind: probity.KindToolResult, Actor: actorTool, Content: m.text, Tool: &probity.ToolCall{ID: m.callID, Name: name}, Start: at})
		case "system":
			b.add(i, at, probity.Step{Kind: probity.KindSystem, Actor: actorSystem, Content: m.text, Start: at})
		case "assistant":
			if m.text != "" || len(m.calls) == 0 {
				b.add(i, at, probity.Step{Kind: probity.KindAssistant, Actor: actor, Content: m.text, Start: at})
			}
			for _, c := range m.calls {
				if c.ID != "" && b.callIDs[c.ID] {
					continue
				}
				c := c
				b.add(i, at, probity.Step{Kind: probity.KindToolCall, Actor: actor, Tool: &c, Start: at})
				b.noteCall(c)
			}
		default:
			b.add(i, at, probity.Step{Kind: probity.KindUser, Actor: actorUser, Content: m.text, Start: at})
		}
		b.seen[k]++
	}
}

// toolSpan maps a tool execution: the call (unless a model call already
// requested it) and the result at the span's end.
func (b *builder) toolSpan(i int) {
	s := b.spans[i]
	a := s.attrs
	actor := b.actorOf(i)
	name := a.first("gen_ai.tool.name", "tool.name", "traceloop.entity.name")
	if name == "" {
		name = strings.TrimSpace(strings.TrimPrefix(s.sp.GetName(), "execute_tool"))
	}
	id := a.first("gen_ai.tool.call.id", "tool.id", "tool_call.id")
	var call probity.ToolCall
	call.ID, call.Name = id, name
	for _, k := range []string{"gen_ai.tool.call.arguments", "input.value", "traceloop.entity.input", "tool.parameters"} {
		if !a.has(k) {
			continue
		}
		if raw, ok := a.json(k); ok {
			call.Args, call.RawArgs = wire.DecodeArgs(raw)
		} else {
			call.Args, call.RawArgs = wire.ArgsFromText(a.str(k))
		}
		break
	}
	start, end := s.start(), s.end()
	if got, ok := b.takePending(name, id); ok {
		if id == "" {
			id = got
		}
	} else {
		c := call
		b.add(i, start, probity.Step{Kind: probity.KindToolCall, Actor: actor, Tool: &c, Start: start, End: end})
		if id != "" {
			b.callIDs[id] = true
		}
	}
	if id != "" {
		b.resultIDs[id] = true
		b.callNames[id] = name
	}
	result := a.first("gen_ai.tool.call.result", "output.value", "traceloop.entity.output")
	b.add(i, end, probity.Step{Kind: probity.KindToolResult, Actor: actorTool, Content: result,
		Tool: &probity.ToolCall{ID: id, Name: name}, Error: errorOf(s), Start: end, End: end})
	b.seen[key(actor, message{role: "tool", text: result, callID: id})]++
}

// errorOf reports a failed span: status ERROR or an error.type attribute.
func errorOf(s *spanRec) *probity.ToolError {
	st := s.sp.GetStatus()
	code := s.attrs.str("error.type")
	if st.GetCode() != tracepb.Status_STATUS_CODE_ERROR && code == "" {
		return nil
	}
	if code == "_OTHER" {
		code = ""
	}
	msg := st.GetMessage()
	if msg == "" {
		for _, ev := range s.sp.GetEvents() {
			if ev.GetName() == "exception" {
				msg = attrMap(ev.GetAttributes()).first("exception.message", "exception.type")
				break
			}
		}
	}
	return &probity.ToolError{Message: msg, Code: code}
}

// agentSpan maps an agent invocation. Nested in another agent, it is a
// hand-off and a return; at the top it carries the run's input and answer.
func (b *builder) agentSpan(i int) {
	s := b.spans[i]
	if strings.EqualFold(s.attrs.str("gen_ai.operation.name"), "create_agent") {
		return // creating an agent hands nothing over
	}
	o := b.outer[i]
	if o < 0 {
		b.rootIO(i, b.agentName[i])
		return
	}
	in, out := spanInput(s), spanOutput(s)
	start, end := s.start(), s.end()
	b.add(i, start, probity.Step{Kind: probity.KindHandoff, Actor: b.agentName[o], Content: in, Start: start})
	if in != "" {
		b.seen[key("", message{role: "user", text: in})]++
	}
	b.add(i, end, probity.Step{Kind: probity.KindReturn, Actor: b.agentName[i], Content: out, Start: end, End: end})
	b.steps[len(b.steps)-1].fill = out == ""
}

// fillReturns gives a return without recorded output the last message its
// agent wrote before it.
func (b *builder) fillReturns() {
	last := map[string]string{}
	for k := range b.steps {
		r := &b.steps[k]
		switch {
		case r.s.Kind == probity.KindAssistant:
			last[r.s.Actor] = r.s.Content
		case r.fill:
			r.s.Content = last[r.s.Actor]
		}
	}
}

// spanInput is the text an agent or chain span received.
func spanInput(s *spanRec) string {
	for _, m := range messagesAttr(s.attrs, "gen_ai.input.messages", "user") {
		if normRole(m.role) == "user" && m.text != "" {
			return m.text
		}
	}
	return s.attrs.first("input.value", "traceloop.entity.input")
}

// spanOutput is the text an agent or chain span returned.
func spanOutput(s *spanRec) string {
	if out := messagesAttr(s.attrs, "gen_ai.output.messages", "assistant"); len(out) > 0 && out[0].text != "" {
		return out[0].text
	}
	return s.attrs.first("output.value", "traceloop.entity.output")
}

// rootIO maps a top-level agent or chain: its input is the user's request,
// its output the final answer (emitted after all spans are read, and only if
// it does not repeat the last assistant message).
func (b *builder) rootIO(i int, actor string) {
	s := b.spans[i]
	if in := spanInput(s); in != "" {
		b.emitHistory(i, actor, []message{{role: "user", text: in}}, s.start())
	}
	if out := spanOutput(s); out != "" {
		end := s.end()
		sp := b.spans[i]
		st := probity.Step{Kind: probity.KindFinal, Actor: actor, Content: out, Start: end, End: end,
			ID: sp.id, ParentID: sp.parent}
		st.Pos = probity.Position{Index: sp.ord, SpanID: sp.id, Line: sp.line}
		b.finals = append(b.finals, pstep{s: st, at: end, span: i})
	}
}

func (b *builder) addFinals() {
	if len(b.finals) == 0 {
		return
	}
	sort.SliceStable(b.finals, func(x, y int) bool { return b.finals[x].at.Before(b.finals[y].at) })
	merged := make([]pstep, 0, len(b.steps)+len(b.finals))
	said := map[string]bool{}
	last, j := "", 0
	for _, f := range b.finals {
		for ; j < len(b.steps) && !b.steps[j].at.After(f.at); j++ {
			if k := b.steps[j].s.Kind; k == probity.KindAssistant || k == probity.KindFinal {
				last = b.steps[j].s.Content
			}
			merged = append(merged, b.steps[j])
		}
		if last == f.s.Content || said[f.s.Content] {
			continue
		}
		said[f.s.Content] = true
		f.s.Pos.Part = b.part[f.span]
		b.part[f.span]++
		merged = append(merged, f)
		last = f.s.Content
	}
	b.steps = append(merged, b.steps[j:]...)
}

// retrievalSpan maps fetched documents, one retrieval step each.
func (b *builder) retrievalSpan(i int) {
	s := b.spans[i]
	a := s.attrs
	actor := a.first("gen_ai.data_source.id")
	if actor == "" {
		actor = actorRetriever
	}
	end := s.end()
	var docs []string
	if raw, ok := a.json("gen_ai.retrieval.documents"); ok {
		docs = append(docs, parseDocs(raw)...)
	}
	if len(docs) == 0 {
		for _, g := range a.indexed("retrieval.documents") {
			docs = append(docs, g.first("document.content", "document.id"))
		}
	}
	if len(docs) == 0 {
		for _, g := range a.indexed("reranker.output_documents") {
			docs = append(docs, g.first("document.content", "document.id"))
		}
	}
	for _, d := range docs {
		b.add(i, end, probity.Step{Kind: probity.KindRetrieval, Actor: actor, Content: d, Start: end, End: end})
	}
}

func modelOf(a attrs) *probity.Model {
	m := &probity.Model{
		Provider: a.first("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
		Name:     a.first("gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "llm.request.model_name"),
	}
	if v, ok := a.float("gen_ai.request.temperature"); ok {
		m.Temperature = &v
	}
	if v, ok := a.int("gen_ai.request.seed"); ok {
		m.Seed = &v
	}
	if raw, ok := a.json("llm.invocation_parameters"); ok {
		p := invocationParams(raw)
		if m.Temperature == nil {
			m.Temperature = p.temperature
		}
		if m.Seed == nil {
			m.Seed = p.seed
		}
		if m.Name == "" {
			m.Name = p.model
		}
	}
	m.InputTokens, _ = firstInt(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
	m.OutputTokens, _ = firstInt(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
	if v, ok := a.float("llm.cost.total"); ok {
		m.CostUSD = v
	}
	if *m == (probity.Model{}) {
		return nil
	}
	return m
}

func firstInt(a attrs, keys ...string) (int64, bool) {
	for _, k := range keys {
		if v, ok := a.int(k); ok {
			return v, true
		}
	}
	return 0, false
}
