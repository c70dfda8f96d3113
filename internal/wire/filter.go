package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/probity/probity"
)

// Call is a tool call found in a model response, given to a Decide.
type Call struct {
	ID, Name string
	// Args are the arguments as found: a JSON string holding JSON
	// (OpenAI), an object (Anthropic), or free text (custom tools).
	Args json.RawMessage
}

// ToolCall returns c in the trace model, its arguments decoded as the
// importers decode them.
func (c Call) ToolCall() probity.ToolCall {
	tc := probity.ToolCall{ID: c.ID, Name: c.Name}
	tc.Args, tc.RawArgs = DecodeArgs(c.Args)
	return tc
}

// Decide says whether the agent may receive a call; when not, refusal is
// the text the model's turn shows in its place.
type Decide func(Call) (allow bool, refusal string)

// UncheckedError says why a response could not be fully read and checked.
// A filter never passes such a response on: the caller refuses it.
type UncheckedError struct{ Reason string }

// Error returns the reason.
func (e *UncheckedError) Error() string { return e.Reason }

func unchecked(format string, args ...any) error {
	return &UncheckedError{Reason: fmt.Sprintf(format, args...)}
}

// FilterBody checks every tool call of a complete JSON response of API a
// (every choice, legacy function_call, Responses function, custom and
// local tool calls, Anthropic tool_use) and replaces the denied ones. It
// returns the rewritten body and true when something was denied, the body
// unchanged and false when not, and an *UncheckedError when the body is not
// a response it can read completely.
func FilterBody(a API, body []byte, decide Decide) ([]byte, bool, error) {
	m, err := decodeObject(body)
	if err != nil {
		return nil, false, unchecked("%s response is not a JSON object: %v", a, err)
	}
	var denied bool
	switch a {
	case APIChat:
		denied, err = filterChat(m, body, decide)
	case APIMessages:
		denied, err = filterMessages(m, body, decide)
	case APIResponses:
		var r struct {
			Output []ResponseItem `json:"output"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, false, unchecked("%s response: %v", a, err)
		}
		items, _ := m["output"].([]any)
		denied, err = filterItems(items, r.Output, decide, nil)
	default:
		return nil, false, unchecked("%v", ErrUnknownAPI)
	}
	if err != nil || !denied {
		return body, false, err
	}
	out, err := marshalNoEscape(m)
	if err != nil {
		return nil, false, unchecked("re-encode the response: %v", err)
	}
	return out, true, nil
}

func filterChat(m map[string]any, body []byte, decide Decide) (bool, error) {
	var r struct {
		Choices []struct {
			Message *struct {
				ToolCalls    []ToolCall `json:"tool_calls"`
				FunctionCall *Function  `json:"function_call"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return false, unchecked("%s response: %v", APIChat, err)
	}
	choices, _ := m["choices"].([]any)
	denied := false
	for i, c := range r.Choices {
		if c.Message == nil || (len(c.Message.ToolCalls) == 0 && c.Message.FunctionCall == nil) {
			continue
		}
		ch, _ := choices[i].(map[string]any)
		msg, _ := ch["message"].(map[string]any)
		raw, _ := msg["tool_calls"].([]any)
		var keep []any
		var refusals []string
		for j := range c.Message.ToolCalls {
			name, args := c.Message.ToolCalls[j].NameArgs()
			allow, why, err := ask(decide, Call{ID: c.Message.ToolCalls[j].ID, Name: name, Args: args})
			if err != nil {
				return false, err
			}
			if allow {
				keep = append(keep, raw[j])
			} else {
				refusals = append(refusals, why)
			}
		}
		legacy := false
		if fc := c.Message.FunctionCall; fc != nil {
			allow, why, err := ask(decide, Call{Name: fc.Name, Args: fc.Arguments})
			if err != nil {
				return false, err
			}
			if allow {
				legacy = true
			} else {
				delete(msg, "function_call")
				refusals = append(refusals, why)
			}
		}
		if len(refusals) == 0 {
			continue
		}
		denied = true
		text := strings.Join(refusals, "\n")
		if prev, _ := msg["content"].(string); prev != "" {
			text = prev + "\n" + text
		}
		msg["content"] = text
		switch {
		case len(keep) > 0:
			msg["tool_calls"] = keep
		case legacy:
			delete(msg, "tool_calls")
		default:
			delete(msg, "tool_calls")
			ch["finish_reason"] = "stop"
		}
	}
	return denied, nil
}

func filterMessages(m map[string]any, body []byte, decide Decide) (bool, error) {
	var r struct {
		Content []Block `json:"content"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return false, unchecked("%s response: %v", APIMessages, err)
	}
	blocks, _ := m["content"].([]any)
	denied, remaining := false, 0
	for i := range r.Content {
		b := &r.Content[i]
		if b.Type != "tool_use" {
			continue
		}
		allow, why, err := ask(decide, Call{ID: b.ID, Name: b.Name, Args: b.Input})
		if err != nil {
			return false, err
		}
		if allow {
			remaining++
			continue
		}
		blocks[i] = map[string]any{"type": "text", "text": why}
		denied = true
	}
	if denied && remaining == 0 && m["stop_reason"] == "tool_use" {
		m["stop_reason"] = "end_turn"
	}
	return denied, nil
}

// filterItems checks the calls among Responses output items; raw are the
// same items decoded generically, rewritten in place. Items whose id is in
// seen were decided already (a stream's final response repeats them).
func filterItems(raw []any, items []ResponseItem, decide Decide, seen map[string]string) (bool, error) {
	denied := false
	for i := range items {
		c, ok := itemCall(&items[i])
		if !ok {
			continue
		}
		key := itemKey(&items[i])
		why, decided := seen[key]
		if !decided {
			allow, w, err := ask(decide, c)
			if err != nil {
				return false, err
			}
			why = ""
			if !allow {
				why = w
			}
			if seen != nil {
				seen[key] = why
			}
		}
		if why != "" {
			raw[i] = refusalItem(items[i].ID, why)
			denied = true
		}
	}
	return denied, nil
}

func itemKey(it *ResponseItem) string { return it.ID + "\x00" + it.CallID }

// itemCall returns the call a Responses output item asks the agent to make.
func itemCall(it *ResponseItem) (Call, bool) {
	switch {
	case it.IsCall():
		return Call{ID: it.CallID, Name: it.Name, Args: it.CallArgs()}, true
	case localCalls[it.Type]:
		// The tool is built in: its name is the item type.
		return Call{ID: it.CallID, Name: strings.TrimSuffix(it.Type, "_call"), Args: it.Action}, true
	}
	return Call{}, false
}

// ask asks decide about c; a call without a tool name cannot be checked.
func ask(decide Decide, c Call) (bool, string, error) {
	if c.Name == "" {
		return false, "", unchecked("a tool call without a tool name")
	}
	allow, why := decide(c)
	return allow, why, nil
}

func refusalItem(id, text string) map[string]any {
	return map[string]any{"type": "message", "id": "msg_probity_" + id, "role": "assistant", "status": "completed",
		"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}
}

// StreamFilter checks the tool calls of an event stream. Events that carry
// no call are passed on as they arrive; a call's events are held until the
// call is complete, then passed on unchanged or replaced by its refusal.
// Any event it cannot read is an *UncheckedError: the caller stops the
// stream there (see ErrorEvent) and passes nothing it holds.
type StreamFilter struct {
	api    API
	decide Decide

	chat    map[int]*chatPending
	blocks  map[int]*blockPending
	allowed int
	denied  int
	items   map[int][][]byte
	seen    map[string]string // Responses: item key -> refusal ("" allowed)
}

type chatPending struct {
	events [][]byte
	calls  CallBuilder
}

type blockPending struct {
	events [][]byte
	call   Call
	args   strings.Builder
}

// NewStreamFilter returns a filter for a stream of API a.
func NewStreamFilter(a API, decide Decide) *StreamFilter {
	return &StreamFilter{api: a, decide: decide, chat: map[int]*chatPending{}, blocks: map[int]*blockPending{},
		items: map[int][][]byte{}, seen: map[string]string{}}
}

// Event takes one event's exact bytes (see ReadEvent) and returns what to
// send now.
func (f *StreamFilter) Event(raw []byte) ([][]byte, error) {
	ev, ok := ParseEvent(raw)
	if !ok {
		if !onlyMeta(raw) {
			return nil, unchecked("%s stream: %q is not a server-sent event", f.api, clip(raw))
		}
		return [][]byte{raw}, nil
	}
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return [][]byte{raw}, nil
	}
	switch f.api {
	case APIChat:
		return f.chatEvent(raw, ev)
	case APIMessages:
		return f.messagesEvent(raw, ev)
	case APIResponses:
		return f.responsesEvent(raw, ev)
	}
	return nil, unchecked("%v", ErrUnknownAPI)
}

// End is called when the stream ended cleanly. Chat calls still held (no
// finish_reason came) are decided now; an Anthropic block or Responses
// item that never completed cannot be checked.
func (f *StreamFilter) End() ([][]byte, error) {
	var out [][]byte
	for idx := range f.chat {
		events, _, _, err := f.release(idx, &ChatChunk{})
		if err != nil {
			return nil, err
		}
		out = append(out, events...)
	}
	if len(f.blocks) > 0 || len(f.items) > 0 {
		return nil, unchecked("%s stream ended inside a tool call", f.api)
	}
	return out, nil
}

// onlyMeta reports whether an event block holds only comments, ids and
// retry hints: lines that carry nothing to check.
func onlyMeta(raw []byte) bool {
	for _, line := range bytes.FieldsFunc(raw, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == ':' || bytes.HasPrefix(line, []byte("id:")) || bytes.HasPrefix(line, []byte("retry:")) {
			continue
		}
		return false
	}
	return true
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func (f *StreamFilter) chatEvent(raw []byte, ev Event) ([][]byte, error) {
	if isDone(ev.Data) {
		out, err := f.End()
		return append(out, raw), err
	}
	var c ChatChunk
	if err := json.Unmarshal(ev.Data, &c); err != nil {
		return nil, unchecked("%s stream chunk: %v", APIChat, err)
	}
	held := -1
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index < 0 || ch.Index >= maxIndex {
			return nil, unchecked("%s stream: choice index %d out of range", APIChat, ch.Index)
		}
		if !ch.Delta.HasCall() {
			continue
		}
		p := f.chat[ch.Index]
		if p == nil {
			p = &chatPending{}
			f.chat[ch.Index] = p
		}
		if err := p.calls.Add(&ch.Delta); err != nil {
			return nil, unchecked("%s stream: %v", APIChat, err)
		}
		if held < 0 {
			// One chunk may carry deltas for several choices; hold it
			// with the first (real streams send one choice per chunk).
			held = ch.Index
		}
	}
	if held >= 0 {
		f.chat[held].events = append(f.chat[held].events, raw)
	}
	var finished []int
	for _, ch := range c.Choices {
		if ch.FinishReason != nil && *ch.FinishReason != "" && f.chat[ch.Index] != nil {
			finished = append(finished, ch.Index)
		}
	}
	if len(finished) == 0 {
		if held >= 0 {
			return nil, nil
		}
		return [][]byte{raw}, nil
	}
	var out [][]byte
	stop := map[int]bool{} // choices whose every call was denied
	anyDenied := false
	for _, idx := range finished {
		events, allDenied, changed, err := f.release(idx, &c)
		if err != nil {
			return nil, err
		}
		out = append(out, events...)
		stop[idx] = allDenied
		anyDenied = anyDenied || changed
	}
	if held >= 0 {
		if !anyDenied {
			return out, nil
		}
		// The finishing chunk was held and replaced: finish the choices
		// here.
		for _, idx := range finished {
			reason := "tool_calls"
			if stop[idx] {
				reason = "stop"
			}
			out = append(out, chatChunkBytes(&c, idx, map[string]any{}, reason))
		}
		return out, nil
	}
	if anyStop(stop) {
		// Nothing left to call: the model's turn ends as a plain answer.
		m, err := decodeObject(ev.Data)
		if err != nil {
			return nil, unchecked("%s stream chunk: %v", APIChat, err)
		}
		choices, _ := m["choices"].([]any)
		for _, ch := range choices {
			cm, _ := ch.(map[string]any)
			num, _ := cm["index"].(json.Number)
			if idx, err := num.Int64(); err == nil && stop[int(idx)] {
				cm["finish_reason"] = "stop"
			}
		}
		b, _ := marshalNoEscape(m)
		return append(out, append(append([]byte("data: "), b...), '\n', '\n')), nil
	}
	return append(out, raw), nil
}

func anyStop(m map[int]bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

func chatChunkBytes(tmpl *ChatChunk, idx int, delta map[string]any, finish any) []byte {
	obj := tmpl.Object
	if obj == "" {
		obj = "chat.completion.chunk"
	}
	m := map[string]any{"id": tmpl.ID, "object": obj, "model": tmpl.Model,
		"choices": []any{map[string]any{"index": idx, "delta": delta, "finish_reason": finish}}}
	if len(tmpl.Created) > 0 {
		m["created"] = tmpl.Created
	}
	b, _ := marshalNoEscape(m)
	return append(append([]byte("data: "), b...), '\n', '\n')
}

// release decides on a choice's held calls and returns what to send in
// their place, whether every call was denied, and whether any was.
func (f *StreamFilter) release(idx int, tmpl *ChatChunk) (out [][]byte, allDenied, changed bool, err error) {
	p := f.chat[idx]
	delete(f.chat, idx)
	var keep []StreamCall
	var refusals []string
	for _, c := range p.calls.Calls {
		args, _ := json.Marshal(c.Args)
		allow, why, err := ask(f.decide, Call{ID: c.ID, Name: c.Name, Args: args})
		if err != nil {
			return nil, false, false, err
		}
		if allow {
			keep = append(keep, c)
		} else {
			refusals = append(refusals, why)
		}
	}
	if len(refusals) == 0 {
		return p.events, false, false, nil
	}
	out = [][]byte{chatChunkBytes(tmpl, idx, map[string]any{"role": "assistant", "content": strings.Join(refusals, "\n")}, nil)}
	var tcs []any
	for _, c := range keep {
		if c.Legacy {
			out = append(out, chatChunkBytes(tmpl, idx, map[string]any{"function_call": map[string]any{"name": c.Name, "arguments": c.Args}}, nil))
			continue
		}
		tcs = append(tcs, map[string]any{"index": len(tcs), "id": c.ID, "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": c.Args}})
	}
	if len(tcs) > 0 {
		out = append(out, chatChunkBytes(tmpl, idx, map[string]any{"tool_calls": tcs}, nil))
	}
	return out, len(keep) == 0, true, nil
}

func sseOut(name string, v any) []byte {
	b, _ := marshalNoEscape(v)
	return []byte("event: " + name + "\ndata: " + string(b) + "\n\n")
}

func (f *StreamFilter) messagesEvent(raw []byte, ev Event) ([][]byte, error) {
	var e MessagesEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		return nil, unchecked("%s stream event: %v", APIMessages, err)
	}
	if e.Index < 0 || e.Index >= maxIndex {
		return nil, unchecked("%s stream: block index %d out of range", APIMessages, e.Index)
	}
	switch e.Type {
	case "content_block_start":
		if e.ContentBlock != nil && e.ContentBlock.Type == "tool_use" {
			p := &blockPending{events: [][]byte{raw}, call: Call{ID: e.ContentBlock.ID, Name: e.ContentBlock.Name}}
			f.blocks[e.Index] = p
			return nil, nil
		}
	case "content_block_delta":
		if p := f.blocks[e.Index]; p != nil {
			p.events = append(p.events, raw)
			p.args.WriteString(e.Delta.PartialJSON)
			return nil, nil
		}
	case "content_block_stop":
		p := f.blocks[e.Index]
		if p == nil {
			break
		}
		delete(f.blocks, e.Index)
		p.call.Args = json.RawMessage(p.args.String())
		if len(bytes.TrimSpace(p.call.Args)) == 0 {
			p.call.Args = json.RawMessage("{}")
		}
		allow, why, err := ask(f.decide, p.call)
		if err != nil {
			return nil, err
		}
		if allow {
			f.allowed++
			return append(p.events, raw), nil
		}
		f.denied++
		return [][]byte{
			sseOut("content_block_start", map[string]any{"type": "content_block_start", "index": e.Index,
				"content_block": map[string]any{"type": "text", "text": ""}}),
			sseOut("content_block_delta", map[string]any{"type": "content_block_delta", "index": e.Index,
				"delta": map[string]any{"type": "text_delta", "text": why}}),
			raw,
		}, nil
	case "message_delta":
		if f.denied > 0 && f.allowed == 0 && e.Delta.StopReason == "tool_use" {
			m, err := decodeObject(ev.Data)
			if err != nil {
				return nil, unchecked("%s stream event: %v", APIMessages, err)
			}
			if d, _ := m["delta"].(map[string]any); d != nil {
				d["stop_reason"] = "end_turn"
			}
			name := ev.Name
			if name == "" {
				name = "message_delta"
			}
			return [][]byte{sseOut(name, m)}, nil
		}
	}
	return [][]byte{raw}, nil
}

func (f *StreamFilter) responsesEvent(raw []byte, ev Event) ([][]byte, error) {
	var e ResponsesEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		return nil, unchecked("%s stream event: %v", APIResponses, err)
	}
	if e.OutputIndex != nil {
		idx := *e.OutputIndex
		if idx < 0 || idx >= maxIndex {
			return nil, unchecked("%s stream: output index %d out of range", APIResponses, idx)
		}
		if e.Type == "response.output_item.added" && e.Item != nil {
			if _, ok := itemCall(e.Item); ok {
				f.items[idx] = [][]byte{raw}
				return nil, nil
			}
		}
		if held := f.items[idx]; held != nil {
			if e.Type != "response.output_item.done" {
				f.items[idx] = append(held, raw)
				return nil, nil
			}
			delete(f.items, idx)
			if e.Item == nil {
				return nil, unchecked("%s stream: output_item.done without its item", APIResponses)
			}
			c, ok := itemCall(e.Item)
			if !ok {
				return nil, unchecked("%s stream: output item %d changed type", APIResponses, idx)
			}
			allow, why, err := ask(f.decide, c)
			if err != nil {
				return nil, err
			}
			if allow {
				f.seen[itemKey(e.Item)] = ""
				return append(held, raw), nil
			}
			f.seen[itemKey(e.Item)] = why
			item := refusalItem(e.Item.ID, why)
			return [][]byte{
				sseOut("response.output_item.added", map[string]any{"type": "response.output_item.added", "output_index": idx, "item": item}),
				sseOut("response.output_item.done", map[string]any{"type": "response.output_item.done", "output_index": idx, "item": item}),
			}, nil
		}
	}
	if e.Response != nil && len(e.Response.Output) > 0 {
		// The final response repeats the output: every call in it is
		// checked, including any the stream never announced.
		m, err := decodeObject(ev.Data)
		if err != nil {
			return nil, unchecked("%s stream event: %v", APIResponses, err)
		}
		r, _ := m["response"].(map[string]any)
		items, _ := r["output"].([]any)
		denied, err := filterItems(items, e.Response.Output, f.decide, f.seen)
		if err != nil {
			return nil, err
		}
		if denied {
			name := ev.Name
			if name == "" {
				name = e.Type
			}
			return [][]byte{sseOut(name, m)}, nil
		}
	}
	return [][]byte{raw}, nil
}

// ErrorEvent returns the event that ends a stream with an error the API's
// clients raise: code names the cause, message says it to a person.
func ErrorEvent(a API, code, message string) []byte {
	switch a {
	case APIMessages:
		return sseOut("error", map[string]any{"type": "error", "error": map[string]any{"type": code, "message": message}})
	case APIResponses:
		return sseOut("error", map[string]any{"type": "error", "code": code, "message": message})
	}
	b, _ := marshalNoEscape(map[string]any{"error": map[string]any{"type": code, "code": code, "message": message}})
	return append(append([]byte("data: "), b...), '\n', '\n')
}

// decodeObject decodes a JSON object keeping numbers exact, so a
// rewritten response says what the upstream said.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null")
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return m, nil
}

// marshalNoEscape encodes v without HTML escaping, as the APIs do.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
