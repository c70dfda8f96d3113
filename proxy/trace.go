package proxy

import (
	"encoding/json"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/proxy/cassette"
)

// TraceFormat is the Trace.Format of traces rebuilt by the proxy.
const TraceFormat = "probity-proxy"

// TraceFile is what the recorder writes to DIR/traces/<run>.json: an
// OpenAI Chat Completions conversation ({"model", "messages"}), the shape
// `probity analyze` reads, whatever API the agent spoke. Probity holds
// where it came from.
type TraceFile struct {
	Model    string    `json:"model,omitempty"`
	Messages []Message `json:"messages"`
	Probity  struct {
		Run      string `json:"run"`
		Cassette string `json:"cassette"`
		Calls    int    `json:"calls"`
	} `json:"probity"`
}

// Conversation rebuilds the agent's conversation from a run's cassette.
// Each request repeats the history (tool results included), so the request
// with the longest history plus the response to it holds the whole run;
// Responses API chains (previous_response_id) that do not repeat history
// are concatenated instead.
func Conversation(c *cassette.Cassette) (model string, msgs []Message) {
	var b convBuilder
	for _, in := range c.Interactions {
		b.add(in)
	}
	return b.result()
}

// convBuilder is Conversation one interaction at a time, so the recorder
// can keep a run's conversation without keeping its interactions: it
// holds the longest request-plus-response seen, and, for Responses API
// chains, the concatenation.
type convBuilder struct {
	seen    bool
	chained bool
	model   string
	msgs    []Message
	chain   []Message
}

func (b *convBuilder) add(in cassette.Interaction) {
	a := apiOf(in.Request.Path)
	body, _ := in.Request.Body.Bytes()
	m, req, ok := requestConversation(a, body)
	if !ok {
		return
	}
	var resp []Message
	if in.Response != nil && in.Response.Status/100 == 2 {
		rb, _ := in.Response.Body.Bytes()
		resp = responseMessages(a, rb, in.Response.Stream)
	}
	if a == apiResponses && strings.Contains(string(body), `"previous_response_id"`) {
		b.chained = true
	}
	if a == apiResponses {
		// Only Responses API runs can be chains; keeping every other
		// run's history here would hold all of it in memory.
		b.chain = append(b.chain, req...)
		b.chain = append(b.chain, resp...)
	}
	if !b.seen || len(req)+len(resp) >= len(b.msgs) {
		b.seen, b.model = true, m
		b.msgs = append(append([]Message{}, req...), resp...)
	}
}

func (b *convBuilder) result() (string, []Message) {
	if b.chained {
		return b.model, b.chain
	}
	return b.model, b.msgs
}

// TraceOf converts a conversation to Probity's trace model: one step per
// message, plus one step per tool call (sharing the message's Index, with
// Part counting the calls).
func TraceOf(id, source, model string, msgs []Message) *probity.Trace {
	t := &probity.Trace{ID: id, Source: source, Format: TraceFormat, Meta: map[string]string{"run": id}, Steps: []probity.Step{}}
	if model != "" {
		t.Meta["model"] = model
	}
	callName := map[string]string{}
	lastAssistant := -1
	for i, m := range msgs {
		content := ""
		if m.Content != nil {
			content = *m.Content
		}
		pos := probity.Position{Index: i}
		switch m.Role {
		case "system":
			t.Steps = append(t.Steps, probity.Step{Pos: pos, Kind: probity.KindSystem, Actor: "system", Content: content})
		case "user":
			t.Steps = append(t.Steps, probity.Step{Pos: pos, Kind: probity.KindUser, Actor: "user", Content: content})
			if t.Task == "" {
				t.Task = content
			}
		case "assistant":
			part := 0
			if m.Content != nil && content != "" {
				lastAssistant = len(t.Steps)
				t.Steps = append(t.Steps, probity.Step{Pos: pos, Kind: probity.KindAssistant, Actor: "assistant", Content: content,
					Model: modelOf(model)})
				part++
			}
			for _, c := range m.ToolCalls {
				callName[c.ID] = c.Function.Name
				tc := &probity.ToolCall{ID: c.ID, Name: c.Function.Name}
				if json.Valid([]byte(c.Function.Arguments)) {
					tc.Args = json.RawMessage(c.Function.Arguments)
				} else if c.Function.Arguments != "" {
					tc.RawArgs = c.Function.Arguments
				}
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i, Part: part}, Kind: probity.KindToolCall,
					Actor: "assistant", Tool: tc, Model: modelOf(model)})
				part++
			}
		case "tool", "function":
			t.Steps = append(t.Steps, probity.Step{Pos: pos, Kind: probity.KindToolResult, Actor: "tool", Content: content,
				Tool: &probity.ToolCall{ID: m.ToolCallID, Name: firstNonEmpty(callName[m.ToolCallID], m.Name)}})
		}
	}
	// The run's last word, when it is the model's text, is its final answer.
	if lastAssistant >= 0 && lastAssistant == len(t.Steps)-1 {
		t.Steps[lastAssistant].Kind = probity.KindFinal
	}
	return t
}

func modelOf(name string) *probity.Model {
	if name == "" {
		return nil
	}
	return &probity.Model{Name: name}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
