package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/proxy/cassette"
)

// RefusalText is what the agent's model reads in place of a tool call the
// guard denied.
func RefusalText(tool, message string) string {
	if message == "" {
		message = "not allowed by policy"
	}
	return fmt.Sprintf("[probity guard] The call to tool %q was blocked: %s", tool, message)
}

// guarded copies a 200 response through the guard: tool calls are checked
// before the agent sees them, denied ones replaced by a refusal.
func (p *Proxy) guarded(ctx context.Context, w http.ResponseWriter, resp *http.Response, body io.Reader, ex *exchange, a api, rec *capBuffer) {
	g := &guardState{ctx: ctx, run: ex.run, guard: p.opts.Guard}
	if ex.stream {
		enc := strings.ToLower(resp.Header.Get("Content-Encoding"))
		if enc != "" && enc != "identity" {
			// A compressed stream cannot be inspected event by event without
			// decoding it; pass it through unguarded and say so.
			ex.err = "guard skipped: compressed event stream"
			copyHeader(w.Header(), resp.Header)
			w.WriteHeader(resp.StatusCode)
			n, err := pump(w, body, rec)
			ex.respSize = n
			if err != nil {
				ex.err = describeCopyError(err, ctx, n)
			}
			return
		}
		copyHeader(w.Header(), resp.Header)
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		n, err := g.stream(w, body, a, rec)
		ex.respSize = n
		if err != nil {
			ex.err = describeCopyError(err, ctx, n)
		}
		ex.guard = g.decisions
		return
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		ex.err = describeCopyError(err, ctx, int64(len(raw)))
		writeError(w, http.StatusBadGateway, "probity_upstream_body", "probity proxy: the upstream response was cut short")
		ex.status = http.StatusBadGateway
		return
	}
	plain := raw
	enc := strings.ToLower(resp.Header.Get("Content-Encoding"))
	if enc != "" && enc != "identity" {
		if plain, err = decodeBody(enc, raw); err != nil {
			plain = nil
		}
	}
	out := raw
	if plain != nil {
		if changed, ok := g.body(a, plain); ok {
			out = changed
			resp.Header.Del("Content-Encoding")
			ex.respHeader.Del("Content-Encoding")
		}
	}
	copyHeader(w.Header(), resp.Header)
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	if rec != nil {
		rec.Write(out)
	}
	n, werr := w.Write(out)
	ex.respSize = int64(n)
	if werr != nil {
		ex.err = describeCopyError(&writeErr{werr}, ctx, int64(n))
	}
	ex.guard = g.decisions
}

type guardState struct {
	ctx       context.Context
	run       string
	guard     GuardFunc
	decisions []cassette.GuardDecision
}

// check asks the guard about one call and records the decision.
func (g *guardState) check(id, name, args string) (bool, string) {
	tc := probity.ToolCall{ID: id, Name: name}
	if json.Valid([]byte(args)) {
		tc.Args = json.RawMessage(args)
	} else {
		tc.RawArgs = args
	}
	allow, msg := g.guard(g.ctx, g.run, tc)
	g.decisions = append(g.decisions, cassette.GuardDecision{Tool: name, CallID: id, Allow: allow, Message: msg})
	return allow, msg
}

func decodeObject(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

func asString(v any) string { s, _ := v.(string); return s }

// argsString returns tool arguments as text whether given as a JSON string
// (OpenAI) or an object (Anthropic).
func argsString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := marshalNoEscape(v)
	return string(b)
}

// body applies the guard to a complete JSON response; ok is true when
// something was denied and out is the rewritten body.
func (g *guardState) body(a api, b []byte) (out []byte, ok bool) {
	m, valid := decodeObject(b)
	if !valid {
		return nil, false
	}
	denied := false
	switch a {
	case apiChat:
		choices, _ := m["choices"].([]any)
		for _, c := range choices {
			ch, _ := c.(map[string]any)
			msg, _ := ch["message"].(map[string]any)
			calls, _ := msg["tool_calls"].([]any)
			if len(calls) == 0 {
				continue
			}
			var keep []any
			var refusals []string
			for _, c := range calls {
				call, _ := c.(map[string]any)
				fn, _ := call["function"].(map[string]any)
				name := asString(fn["name"])
				if allow, why := g.check(asString(call["id"]), name, argsString(fn["arguments"])); allow {
					keep = append(keep, c)
				} else {
					refusals = append(refusals, RefusalText(name, why))
				}
			}
			if len(refusals) == 0 {
				continue
			}
			denied = true
			text := strings.Join(refusals, "\n")
			if prev := asString(msg["content"]); prev != "" {
				text = prev + "\n" + text
			}
			msg["content"] = text
			if len(keep) == 0 {
				delete(msg, "tool_calls")
				ch["finish_reason"] = "stop"
			} else {
				msg["tool_calls"] = keep
			}
		}
	case apiMessages:
		blocks, _ := m["content"].([]any)
		remaining := 0
		for i, b := range blocks {
			blk, _ := b.(map[string]any)
			if asString(blk["type"]) != "tool_use" {
				continue
			}
			name := asString(blk["name"])
			if allow, why := g.check(asString(blk["id"]), name, argsString(blk["input"])); allow {
				remaining++
			} else {
				blocks[i] = map[string]any{"type": "text", "text": RefusalText(name, why)}
				denied = true
			}
		}
		if denied && remaining == 0 && asString(m["stop_reason"]) == "tool_use" {
			m["stop_reason"] = "end_turn"
		}
	case apiResponses:
		denied = g.responseOutput(m)
	}
	if !denied {
		return nil, false
	}
	nb, err := marshalNoEscape(m)
	if err != nil {
		return nil, false
	}
	return nb, true
}

// responseOutput guards the function calls in a Responses API response
// object, replacing denied ones with assistant messages.
func (g *guardState) responseOutput(m map[string]any) bool {
	items, _ := m["output"].([]any)
	denied := false
	for i, it := range items {
		item, _ := it.(map[string]any)
		if asString(item["type"]) != "function_call" {
			continue
		}
		name := asString(item["name"])
		if allow, why := g.check(asString(item["call_id"]), name, asString(item["arguments"])); !allow {
			items[i] = refusalItem(asString(item["id"]), RefusalText(name, why))
			denied = true
		}
	}
	return denied
}

func refusalItem(id, text string) map[string]any {
	return map[string]any{"type": "message", "id": "msg_probity_" + id, "role": "assistant", "status": "completed",
		"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}
}

// readEvent returns the next server-sent event's exact bytes, blank-line
// terminator included.
func readEvent(br *bufio.Reader) ([]byte, error) {
	var ev []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			ev = append(ev, line...)
			continue
		}
		ev = append(ev, line...)
		if err != nil {
			return ev, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return ev, nil
		}
	}
}

// stream copies an event stream through the guard. Events unrelated to
// tool calls are sent as they arrive; a tool call's events are held until
// the call is complete and then sent unchanged or replaced by a refusal.
func (g *guardState) stream(w http.ResponseWriter, body io.Reader, a api, rec *capBuffer) (int64, error) {
	rc := http.NewResponseController(w)
	var n int64
	emit := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		if rec != nil {
			rec.Write(b)
		}
		k, err := w.Write(b)
		n += int64(k)
		if err != nil {
			return &writeErr{err}
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return &writeErr{err}
		}
		return nil
	}
	var f eventFilter
	switch a {
	case apiChat:
		f = &chatFilter{g: g, pending: map[int]*chatPending{}}
	case apiMessages:
		f = &anthropicFilter{g: g, pending: map[int][][]byte{}}
	default:
		f = &responsesFilter{g: g, pending: map[int][][]byte{}}
	}
	br := bufio.NewReaderSize(body, 64<<10)
	for {
		raw, err := readEvent(br)
		if len(raw) > 0 {
			ev, _ := parseEvent(raw)
			for _, out := range f.event(raw, ev) {
				if werr := emit(out); werr != nil {
					return n, werr
				}
			}
		}
		if err == io.EOF {
			for _, out := range f.flush() {
				if werr := emit(out); werr != nil {
					return n, werr
				}
			}
			return n, nil
		}
		if err != nil {
			// Cut off: release what is held so the agent sees the partial
			// stream as the upstream sent it.
			for _, out := range f.flush() {
				emit(out)
			}
			return n, err
		}
	}
}

// eventFilter decides, event by event, what the agent gets.
type eventFilter interface {
	event(raw []byte, ev sseEvent) [][]byte
	flush() [][]byte
}

type chatPending struct {
	events [][]byte
	calls  []chatToolCall
}

// chatFilter holds the tool-call deltas of each choice until its
// finish_reason arrives.
type chatFilter struct {
	g       *guardState
	pending map[int]*chatPending
}

type chatChunk struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created json.RawMessage `json:"created"`
	Model   string          `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

func (f *chatFilter) event(raw []byte, ev sseEvent) [][]byte {
	var c chatChunk
	if json.Unmarshal(ev.Data, &c) != nil {
		if bytes.Equal(bytes.TrimSpace(ev.Data), []byte("[DONE]")) {
			return append(f.flush(), raw)
		}
		return [][]byte{raw}
	}
	held := false
	for _, ch := range c.Choices {
		if len(ch.Delta.ToolCalls) == 0 {
			continue
		}
		p := f.pending[ch.Index]
		if p == nil {
			p = &chatPending{}
			f.pending[ch.Index] = p
		}
		for _, tc := range ch.Delta.ToolCalls {
			if !sane(tc.Index) {
				continue
			}
			for len(p.calls) <= tc.Index {
				p.calls = append(p.calls, newCall("", "", ""))
			}
			call := &p.calls[tc.Index]
			if tc.ID != "" {
				call.ID = tc.ID
			}
			call.Function.Name += tc.Function.Name
			call.Function.Arguments += tc.Function.Arguments
		}
		held = true
	}
	var finished []int
	for _, ch := range c.Choices {
		if ch.FinishReason != nil && *ch.FinishReason != "" && f.pending[ch.Index] != nil {
			finished = append(finished, ch.Index)
		}
	}
	if held {
		// One chunk may carry deltas for several choices; hold it with the
		// first (real streams send one choice per chunk).
		first := c.Choices[0].Index
		for _, ch := range c.Choices {
			if len(ch.Delta.ToolCalls) > 0 {
				first = ch.Index
				break
			}
		}
		f.pending[first].events = append(f.pending[first].events, raw)
	}
	if len(finished) == 0 {
		if held {
			return nil
		}
		return [][]byte{raw}
	}
	var out [][]byte
	var stop []int // choices whose every call was denied
	for _, idx := range finished {
		events, allDenied := f.release(idx, &c)
		out = append(out, events...)
		if allDenied {
			stop = append(stop, idx)
		}
	}
	if held {
		// The finishing chunk was held (and replaced): finish the choices
		// ourselves.
		for _, idx := range finished {
			reason := "tool_calls"
			if slices.Contains(stop, idx) {
				reason = "stop"
			}
			out = append(out, chatChunkBytes(&c, idx, map[string]any{}, reason))
		}
		return out
	}
	if len(stop) > 0 {
		// Nothing left to call: the model's turn ends as a plain answer.
		if m, ok := decodeObject(ev.Data); ok {
			choices, _ := m["choices"].([]any)
			for _, ch := range choices {
				cm, _ := ch.(map[string]any)
				num, _ := cm["index"].(json.Number)
				if idx, err := num.Int64(); err == nil && slices.Contains(stop, int(idx)) {
					cm["finish_reason"] = "stop"
				}
			}
			b, _ := marshalNoEscape(m)
			return append(out, append(append([]byte("data: "), b...), '\n', '\n'))
		}
	}
	return append(out, raw)
}

func chatChunkBytes(tmpl *chatChunk, idx int, delta map[string]any, finish any) []byte {
	m := map[string]any{"id": tmpl.ID, "object": firstNonEmpty(tmpl.Object, "chat.completion.chunk"), "model": tmpl.Model,
		"choices": []any{map[string]any{"index": idx, "delta": delta, "finish_reason": finish}}}
	if len(tmpl.Created) > 0 {
		m["created"] = tmpl.Created
	}
	b, _ := marshalNoEscape(m)
	return append(append([]byte("data: "), b...), '\n', '\n')
}

// release decides on a choice's held calls and returns what to send in
// their place, and whether every call was denied.
func (f *chatFilter) release(idx int, tmpl *chatChunk) ([][]byte, bool) {
	p := f.pending[idx]
	delete(f.pending, idx)
	var keep []chatToolCall
	var refusals []string
	for _, c := range p.calls {
		if allow, why := f.g.check(c.ID, c.Function.Name, c.Function.Arguments); allow {
			keep = append(keep, c)
		} else {
			refusals = append(refusals, RefusalText(c.Function.Name, why))
		}
	}
	if len(refusals) == 0 {
		return p.events, false
	}
	out := [][]byte{chatChunkBytes(tmpl, idx, map[string]any{"role": "assistant", "content": strings.Join(refusals, "\n")}, nil)}
	if len(keep) > 0 {
		var tcs []any
		for i, c := range keep {
			tcs = append(tcs, map[string]any{"index": i, "id": c.ID, "type": "function",
				"function": map[string]any{"name": c.Function.Name, "arguments": c.Function.Arguments}})
		}
		out = append(out, chatChunkBytes(tmpl, idx, map[string]any{"tool_calls": tcs}, nil))
	}
	return out, len(keep) == 0
}

func (f *chatFilter) flush() [][]byte {
	var out [][]byte
	for idx := range f.pending {
		events, _ := f.release(idx, &chatChunk{})
		out = append(out, events...)
	}
	return out
}

// anthropicFilter holds each tool_use content block from its start to its
// stop event.
type anthropicFilter struct {
	g       *guardState
	pending map[int][][]byte
	blocks  map[int]*chatToolCall
	allowed int
	denied  int
}

func sseOut(name string, v any) []byte {
	b, _ := marshalNoEscape(v)
	return []byte("event: " + name + "\ndata: " + string(b) + "\n\n")
}

func (f *anthropicFilter) event(raw []byte, ev sseEvent) [][]byte {
	if f.blocks == nil {
		f.blocks = map[int]*chatToolCall{}
	}
	var e struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock struct {
			Type  string          `json:"type"`
			ID    string          `json:"id"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		} `json:"content_block"`
		Delta struct {
			Type        string `json:"type"`
			PartialJSON string `json:"partial_json"`
			StopReason  string `json:"stop_reason"`
		} `json:"delta"`
	}
	if json.Unmarshal(ev.Data, &e) != nil {
		return [][]byte{raw}
	}
	switch e.Type {
	case "content_block_start":
		if e.ContentBlock.Type == "tool_use" {
			c := newCall(e.ContentBlock.ID, e.ContentBlock.Name, "")
			f.blocks[e.Index] = &c
			f.pending[e.Index] = [][]byte{raw}
			return nil
		}
	case "content_block_delta":
		if f.pending[e.Index] != nil {
			f.pending[e.Index] = append(f.pending[e.Index], raw)
			f.blocks[e.Index].Function.Arguments += e.Delta.PartialJSON
			return nil
		}
	case "content_block_stop":
		if held := f.pending[e.Index]; held != nil {
			c := f.blocks[e.Index]
			delete(f.pending, e.Index)
			delete(f.blocks, e.Index)
			args := c.Function.Arguments
			if args == "" {
				args = "{}"
			}
			if allow, why := f.g.check(c.ID, c.Function.Name, args); allow {
				f.allowed++
				return append(held, raw)
			} else {
				f.denied++
				t := RefusalText(c.Function.Name, why)
				return [][]byte{
					sseOut("content_block_start", map[string]any{"type": "content_block_start", "index": e.Index,
						"content_block": map[string]any{"type": "text", "text": ""}}),
					sseOut("content_block_delta", map[string]any{"type": "content_block_delta", "index": e.Index,
						"delta": map[string]any{"type": "text_delta", "text": t}}),
					raw,
				}
			}
		}
	case "message_delta":
		if f.denied > 0 && f.allowed == 0 && e.Delta.StopReason == "tool_use" {
			m, ok := decodeObject(ev.Data)
			if ok {
				if d, _ := m["delta"].(map[string]any); d != nil {
					d["stop_reason"] = "end_turn"
				}
				return [][]byte{sseOut(firstNonEmpty(ev.Name, "message_delta"), m)}
			}
		}
	}
	return [][]byte{raw}
}

func (f *anthropicFilter) flush() [][]byte {
	var out [][]byte
	for _, held := range f.pending {
		out = append(out, held...)
	}
	f.pending = map[int][][]byte{}
	return out
}

// responsesFilter holds each function_call output item of a Responses API
// stream from output_item.added to output_item.done, and rewrites the
// final response object to match.
type responsesFilter struct {
	g       *guardState
	pending map[int][][]byte
	denied  map[string]string // item id -> refusal text
}

func (f *responsesFilter) event(raw []byte, ev sseEvent) [][]byte {
	if f.denied == nil {
		f.denied = map[string]string{}
	}
	var e struct {
		Type        string         `json:"type"`
		OutputIndex *int           `json:"output_index"`
		Item        map[string]any `json:"item"`
	}
	if json.Unmarshal(ev.Data, &e) != nil {
		return [][]byte{raw}
	}
	if e.OutputIndex != nil {
		idx := *e.OutputIndex
		if e.Type == "response.output_item.added" && asString(e.Item["type"]) == "function_call" {
			f.pending[idx] = [][]byte{raw}
			return nil
		}
		if held := f.pending[idx]; held != nil {
			if e.Type != "response.output_item.done" {
				f.pending[idx] = append(held, raw)
				return nil
			}
			delete(f.pending, idx)
			name := asString(e.Item["name"])
			if allow, why := f.g.check(asString(e.Item["call_id"]), name, asString(e.Item["arguments"])); allow {
				return append(held, raw)
			} else {
				t := RefusalText(name, why)
				id := asString(e.Item["id"])
				f.denied[id] = t
				item := refusalItem(id, t)
				return [][]byte{
					sseOut("response.output_item.added", map[string]any{"type": "response.output_item.added", "output_index": idx, "item": item}),
					sseOut("response.output_item.done", map[string]any{"type": "response.output_item.done", "output_index": idx, "item": item}),
				}
			}
		}
	}
	if len(f.denied) > 0 && (e.Type == "response.completed" || e.Type == "response.incomplete") {
		if m, ok := decodeObject(ev.Data); ok {
			if r, _ := m["response"].(map[string]any); r != nil {
				items, _ := r["output"].([]any)
				for i, it := range items {
					item, _ := it.(map[string]any)
					if t, ok := f.denied[asString(item["id"])]; ok && asString(item["type"]) == "function_call" {
						items[i] = refusalItem(asString(item["id"]), t)
					}
				}
				return [][]byte{sseOut(firstNonEmpty(ev.Name, e.Type), m)}
			}
		}
	}
	return [][]byte{raw}
}

func (f *responsesFilter) flush() [][]byte {
	var out [][]byte
	for _, held := range f.pending {
		out = append(out, held...)
	}
	f.pending = map[int][][]byte{}
	return out
}
