package otlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/otlp"
)

// Write a trace as OTLP/JSON and read it back: the steps, with their
// original source positions, survive the trip.
func ExampleWrite() {
	t := &probity.Trace{ID: "run-1", Source: "chat.json", Format: "chatlog", Steps: []probity.Step{
		{Pos: probity.Position{Index: 0}, Kind: probity.KindUser, Actor: "user", Content: "Refund order #W42"},
		{Pos: probity.Position{Index: 1}, Kind: probity.KindToolCall, Actor: "assistant",
			Tool: &probity.ToolCall{ID: "c1", Name: "refund_order", Args: json.RawMessage(`{"order_id": "#W42"}`)}},
		{Pos: probity.Position{Index: 2}, Kind: probity.KindToolResult, Actor: "tool", Content: "timeout",
			Tool: &probity.ToolCall{ID: "c1", Name: "refund_order"}, Error: &probity.ToolError{Code: "504"}},
	}}
	var buf bytes.Buffer
	if err := otlp.Write(&buf, t); err != nil {
		panic(err)
	}
	_ = otlp.Read(context.Background(), "run-1.otlp.json", &buf, func(back *probity.Trace) error {
		fmt.Println(back.ID, back.Source, back.Format, "converted from", back.Meta[otlp.MetaOriginalSource])
		for _, s := range back.Steps {
			fmt.Println(s.Pos.Index, s.Kind, s.Actor, s.Content, s.Tool != nil, s.Error != nil)
		}
		return nil
	})
	// Output:
	// run-1 run-1.otlp.json otlp converted from chat.json
	// 0 user user Refund order #W42 false false
	// 1 tool_call assistant  true false
	// 2 tool_result tool timeout true true
}

// Read GenAI spans: a chat span that asks for a tool and the tool's
// execution become a tool call and its result.
func ExampleRead() {
	const file = `{"resourceSpans":[{"scopeSpans":[{"spans":[
 {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"chat gpt-4o","startTimeUnixNano":"1000","endTimeUnixNano":"2000",
  "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
   {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
   {"key":"gen_ai.input.messages","value":{"stringValue":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Weather in Paris?\"}]}]"}},
   {"key":"gen_ai.output.messages","value":{"stringValue":"[{\"role\":\"assistant\",\"parts\":[{\"type\":\"tool_call\",\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":{\"location\":\"Paris\"}}]}]"}}]},
 {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b8","name":"execute_tool get_weather","startTimeUnixNano":"3000","endTimeUnixNano":"4000",
  "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},
   {"key":"gen_ai.tool.name","value":{"stringValue":"get_weather"}},
   {"key":"gen_ai.tool.call.id","value":{"stringValue":"call_1"}},
   {"key":"gen_ai.tool.call.result","value":{"stringValue":"rainy, 57°F"}}]}]}]}]}`
	_ = otlp.Read(context.Background(), "weather.json", strings.NewReader(file), func(t *probity.Trace) error {
		for _, s := range t.Steps {
			fmt.Printf("%d.%d %s %s %q", s.Pos.Index, s.Pos.Part, s.Kind, s.Pos.SpanID, s.Content)
			if s.Tool != nil {
				fmt.Printf(" %s(%s)", s.Tool.Name, s.Tool.Args)
			}
			fmt.Println()
		}
		return nil
	})
	// Output:
	// 0.0 user 00f067aa0ba902b7 "Weather in Paris?"
	// 0.1 tool_call 00f067aa0ba902b7 "" get_weather({"location":"Paris"})
	// 1.0 tool_result 00f067aa0ba902b8 "rainy, 57°F" get_weather()
}
