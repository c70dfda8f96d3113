package chatlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/probity/probity"
	"github.com/probity/probity/chatlog"
	"github.com/probity/probity/internal/shareddata"
)

func readAll(t *testing.T, path string, r io.Reader) ([]*probity.Trace, error) {
	t.Helper()
	var out []*probity.Trace
	err := chatlog.Read(context.Background(), path, r, func(tr *probity.Trace) error {
		out = append(out, tr)
		return nil
	})
	return out, err
}

func step(idx, part int, kind probity.Kind, actor, content string) probity.Step {
	return probity.Step{Pos: probity.Position{Index: idx, Part: part}, Kind: kind, Actor: actor, Content: content}
}

func withTool(s probity.Step, id, name, args string) probity.Step {
	s.Tool = &probity.ToolCall{ID: id, Name: name}
	if args != "" {
		s.Tool.Args = json.RawMessage(args)
	}
	return s
}

func TestDecodeConversation(t *testing.T) {
	zero, seed := 0.0, int64(7)
	_ = zero
	_ = seed
	for _, tc := range []struct {
		name string
		in   string
		want *probity.Trace
	}{
		{
			name: "openai request with tools",
			in: `{"model": "gpt-4o", "temperature": 0.2, "seed": 7, "tools": [{"type": "function", "function": {"name": "lookup"}}],
			  "messages": [
			    {"role": "system", "content": "be brief"},
			    {"role": "user", "content": [{"type": "text", "text": "find order 12"}]},
			    {"role": "assistant", "content": null, "tool_calls": [
			      {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"order\": 12}"}},
			      {"id": "c2", "type": "function", "function": {"name": "lookup", "arguments": "{\"order\": 13}"}}]},
			    {"role": "tool", "tool_call_id": "c1", "content": "shipped"},
			    {"role": "assistant", "content": "", "function_call": {"name": "legacy", "arguments": "oops"}},
			    {"role": "function", "name": "legacy", "content": "ok"}
			  ]}`,
			want: &probity.Trace{
				Format: "chatlog", Task: "find order 12",
				Meta: map[string]string{"model": "gpt-4o", "temperature": "0.2", "seed": "7", "tools": "lookup"},
				Steps: []probity.Step{
					step(0, 0, probity.KindSystem, "system", "be brief"),
					step(1, 0, probity.KindUser, "user", "find order 12"),
					withTool(step(2, 1, probity.KindToolCall, "assistant", ""), "c1", "lookup", `{"order":12}`),
					withTool(step(2, 2, probity.KindToolCall, "assistant", ""), "c2", "lookup", `{"order":13}`),
					withTool(step(3, 0, probity.KindToolResult, "tool", "shipped"), "c1", "lookup", ""),
					{Pos: probity.Position{Index: 4, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{Name: "legacy", RawArgs: "oops"}},
					withTool(step(5, 0, probity.KindToolResult, "tool", "ok"), "", "legacy", ""),
				},
			},
		},
		{
			name: "anthropic request",
			in: `{"model": "claude", "system": [{"type": "text", "text": "policy"}], "messages": [
			    {"role": "user", "content": "weather?"},
			    {"role": "assistant", "content": [{"type": "text", "text": "checking"}, {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "SF"}}]},
			    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "boom"}], "is_error": true}]}
			  ]}`,
			want: &probity.Trace{
				Format: "chatlog", Task: "weather?",
				Meta: map[string]string{"model": "claude"},
				Steps: []probity.Step{
					step(-1, 0, probity.KindSystem, "system", "policy"),
					step(0, 0, probity.KindUser, "user", "weather?"),
					step(1, 0, probity.KindAssistant, "assistant", "checking"),
					withTool(step(1, 1, probity.KindToolCall, "assistant", ""), "t1", "get_weather", `{"city":"SF"}`),
					func() probity.Step {
						s := withTool(step(2, 0, probity.KindToolResult, "tool", "boom"), "t1", "get_weather", "")
						s.Error = &probity.ToolError{}
						return s
					}(),
				},
			},
		},
		{
			name: "openai response",
			in:   `{"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}], "usage": {"prompt_tokens": 11, "completion_tokens": 5}}`,
			want: &probity.Trace{
				Format: "chatlog", Meta: map[string]string{"model": "gpt-4o-mini"},
				Steps: []probity.Step{
					func() probity.Step {
						s := step(0, 0, probity.KindAssistant, "assistant", "hi")
						s.Model = &probity.Model{Provider: "openai", Name: "gpt-4o-mini", InputTokens: 11, OutputTokens: 5}
						s.Start = time.Unix(1700000000, 0).UTC()
						return s
					}(),
					func() probity.Step {
						s := withTool(step(0, 1, probity.KindToolCall, "assistant", ""), "c9", "f", `{}`)
						s.Model = &probity.Model{Provider: "openai", Name: "gpt-4o-mini", InputTokens: 11, OutputTokens: 5}
						s.Start = time.Unix(1700000000, 0).UTC()
						return s
					}(),
				},
			},
		},
		{
			name: "anthropic response",
			in:   `{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3", "content": [{"type": "tool_use", "id": "tu", "name": "g", "input": {}}], "usage": {"input_tokens": 3, "output_tokens": 4}}`,
			want: &probity.Trace{
				Format: "chatlog", Meta: map[string]string{"model": "claude-3"},
				Steps: []probity.Step{func() probity.Step {
					s := withTool(step(0, 0, probity.KindToolCall, "assistant", ""), "tu", "g", `{}`)
					s.Model = &probity.Model{Provider: "anthropic", Name: "claude-3", InputTokens: 3, OutputTokens: 4}
					return s
				}()},
			},
		},
		{
			name: "bare message list",
			in:   `[{"role": "user", "content": "a"}, {"role": "assistant", "name": "planner", "content": "b"}]`,
			want: &probity.Trace{
				Format: "chatlog", Task: "a", Meta: map[string]string{},
				Steps: []probity.Step{step(0, 0, probity.KindUser, "user", "a"), step(1, 0, probity.KindAssistant, "planner", "b")},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chatlog.DecodeConversation([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("DecodeConversation differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeConversationErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"messages": [{"role": "user", "content": true}]}`, "line 1, column 1: messages.content: want a string, got boolean"},
		{"{\"messages\": [\n  {\"role\": 5}]}", "line 2, column 12: messages.role: want a string, got number"},
		{`{"foo": 1}`, `line 1, column 1: not a chat conversation`},
		{`{"messages": [{"content": "x"}]}`, "line 1, column 1: message 0 has no role"},
		{`{"choices": []}`, "line 1, column 1: OpenAI response without choices[0].message"},
	} {
		_, err := chatlog.DecodeConversation([]byte(tc.in))
		var pe *probity.Error
		if !errors.As(err, &pe) || pe.Code != probity.EINVALID || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("DecodeConversation(%q) = %v, want prefix %q", tc.in, err, tc.want)
		}
	}
}

func TestReadShapes(t *testing.T) {
	for _, tc := range []struct {
		name, path, in string
		ids            []string
		steps          []int
		lines          []int // Pos.Line of the first step of each trace
	}{
		{"single object", "conv.json", `{"messages": [{"role": "user", "content": "a"}]}`, []string{"conv"}, []int{1}, []int{0}},
		{"list of conversations", "many.json", `[{"messages": [{"role": "user", "content": "a"}]}, [{"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]]`,
			[]string{"many/0", "many/1"}, []int{1, 2}, []int{0, 0}},
		{"jsonl conversations", "runs.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n\n{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": \"b\"}}]}\n",
			[]string{"runs/line-1", "runs/line-3"}, []int{1, 1}, []int{1, 3}},
		{"jsonl messages", "msgs.jsonl", "{\"role\": \"user\", \"content\": \"a\"}\n{\"role\": \"assistant\", \"content\": \"b\"}\n{\"role\": \"user\", \"content\": \"c\"}",
			[]string{"msgs"}, []int{3}, []int{1}},
		{"pretty objects", "p.json", "{\n \"role\": \"user\",\n \"content\": \"a\"\n}\n{\n \"role\": \"assistant\", \"content\": \"b\"}\n", []string{"p"}, []int{2}, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.path, strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			var steps, lines []int
			for _, tr := range got {
				ids = append(ids, tr.ID)
				steps = append(steps, len(tr.Steps))
				lines = append(lines, tr.Steps[0].Pos.Line)
				if tr.Source != tc.path || tr.Format != "chatlog" {
					t.Errorf("%s: Source %q Format %q", tr.ID, tr.Source, tr.Format)
				}
			}
			if diff := cmp.Diff([]any{tc.ids, tc.steps, tc.lines}, []any{ids, steps, lines}); diff != "" {
				t.Errorf("ids, step counts, lines differ (-want +got):\n%s", diff)
			}
		})
	}
	// Message-per-line: positions are ordinals, lines are lines.
	got, err := readAll(t, "m.jsonl", strings.NewReader("{\"role\": \"user\", \"content\": \"a\"}\n\n{\"role\": \"assistant\", \"content\": \"b\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []probity.Position{{Index: 0, Line: 1}, {Index: 1, Line: 3}}
	var pos []probity.Position
	for _, s := range got[0].Steps {
		pos = append(pos, s.Pos)
	}
	if diff := cmp.Diff(want, pos); diff != "" {
		t.Errorf("positions differ (-want +got):\n%s", diff)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"jsonl bad line", "{\"role\": \"user\", \"content\": \"a\"}\n{\"role\": \"user\", \"content\": x}\n", "c.jsonl: line 2, column 29: malformed JSON"},
		{"jsonl wrong type", "{\"role\": \"user\", \"content\": \"a\"}\n  {\"role\": [], \"content\": \"b\"}\n", "c.jsonl: line 2, column 12: role: want a string, got array"},
		{"jsonl mixed", "{\"role\": \"user\", \"content\": \"a\"}\n{\"messages\": []}\n", "c.jsonl: line 2, column 1: mixes single messages"},
		{"jsonl other", "{\"messages\": []}\n{\"x\": 1}\n", "c.jsonl: line 2, column 1: not a chat message or conversation"},
		{"truncated", "[{\"role\": \"user\", \"content\": \"a\"},\n {\"role\": ", "c.jsonl: record 1, line 2, column 11: unexpected end of input"},
		{"list element", `[{"role": "user", "content": "a"}, 3]`, "c.jsonl: record 1, line 1, column 36: not a chat message or conversation"},
		{"empty", "", "c.jsonl: empty input"},
		{"whitespace", "  \n ", "c.jsonl: line 2, column 2: unexpected end of input"},
		{"stray close", `{"role": "user", "content": "a"}]`, `c.jsonl: line 1, column 33: "]" after the end of the JSON value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, "c.jsonl", strings.NewReader(tc.in))
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Read = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head string
		want bool
	}{
		{`[{"role": "user", "content": "x"}]`, true},
		{`{"model": "m", "messages": []}`, true},
		{`{"choices": []}`, true},
		{`{"role": "user"}` + "\n", true},
		{`{"resourceSpans": []}`, false},
		{`"role"`, false},
	} {
		if got := chatlog.Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c", "content": "r"}]}`))
	f.Add([]byte("{\"role\": \"user\", \"content\": \"a\"}\n{\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", \"id\": \"t\", \"name\": \"g\", \"input\": {}}]}\n"))
	f.Add([]byte(`{"type": "message", "content": [{"type": "text", "text": "x"}], "usage": {"input_tokens": 1}}`))
	if dir, err := shareddata.Find(); err == nil {
		// Real OpenAI-shaped messages: the first τ-bench run's traj.
		if b, err := os.ReadFile(filepath.Join(dir, "tau-bench", "gpt-4o-airline.json")); err == nil {
			var runs []struct {
				Traj json.RawMessage `json:"traj"`
			}
			if json.Unmarshal(b, &runs) == nil && len(runs) > 0 {
				f.Add([]byte(runs[0].Traj))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := chatlog.Read(context.Background(), "fuzz.jsonl", bytes.NewReader(data), func(tr *probity.Trace) error {
			for _, s := range tr.Steps {
				if s.Pos.Index < chatlog.SystemIndex || !s.Kind.Valid() {
					t.Fatalf("bad step %+v", s)
				}
			}
			return nil
		})
		var pe *probity.Error
		if err != nil && (!errors.As(err, &pe) || pe.File != "fuzz.jsonl") {
			t.Fatalf("error %v is not a *probity.Error naming the file", err)
		}
		_, _ = chatlog.DecodeConversation(data)
	})
}
