package provenance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
)

func step(kind probity.Kind, actor, content string) probity.Step {
	return probity.Step{Kind: kind, Actor: actor, Content: content}
}

func toolResult(name, content string) probity.Step {
	return probity.Step{Kind: probity.KindToolResult, Actor: "tool", Tool: &probity.ToolCall{Name: name}, Content: content}
}

func toolCall(name, args string) probity.Step {
	return probity.Step{Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{Name: name, Args: json.RawMessage(args)}}
}

// classOf adds history to a fresh index, then classifies the atoms of the
// last step and returns the result for the atom whose Raw is raw.
func classOf(t *testing.T, history []probity.Step, last probity.Step, raw string) Result {
	t.Helper()
	x := NewIndex(WithClock(time.Date(2024, 5, 15, 15, 0, 0, 0, time.UTC)))
	for i, s := range history {
		s.Pos.Index = i
		x.Add(s, i)
	}
	last.Pos.Index = len(history)
	for _, r := range x.Add(last, len(history)) {
		if r.Atom.Raw == raw {
			return r
		}
	}
	t.Fatalf("no atom %q in %+v", raw, last)
	return Result{}
}

func TestClassify(t *testing.T) {
	orders := toolResult("get_user_details", `{"orders": ["#W2378156", "#W6247578"], "payment_methods": {"credit_card_9513926": {"last_four": "2478"}}, "email": "yusuf.rossi7301@example.com"}`)
	items := toolResult("get_order_details", `{"items": [{"item_id": "1151293680", "price": 272.33}, {"item_id": "4983901480", "price": 262.47}]}`)
	tests := []struct {
		name      string
		history   []probity.Step
		last      probity.Step
		raw       string
		wantClass Class
		wantNote  string // substring
		wantSrc   int    // source step, -1 for none
	}{
		{"id from a tool result", []probity.Step{orders}, toolCall("get_order_details", `{"order_id":"#W2378156"}`),
			"#W2378156", Grounded, "", 0},
		{"id the user dictated without #W", []probity.Step{step(probity.KindUser, "user", "my order is 2378156")},
			toolCall("get_order_details", `{"order_id":"#W2378156"}`), "#W2378156", Grounded, "", 0},
		{"one digit changed", []probity.Step{orders}, toolCall("cancel_pending_order", `{"order_id":"#W2378157"}`),
			"#W2378157", NearMiss, "one digit changed", 0},
		{"two digits swapped", []probity.Step{orders}, toolCall("cancel_pending_order", `{"order_id":"#W2378165"}`),
			"#W2378165", NearMiss, "two adjacent digits swapped: w2378165 vs w2378156", 0},
		{"digit dropped from a long id", []probity.Step{orders}, toolCall("cancel_pending_order", `{"order_id":"#W237856"}`),
			"#W237856", NearMiss, "missing", 0},
		{"invented id", []probity.Step{orders}, toolCall("cancel_pending_order", `{"order_id":"#W9999999"}`),
			"#W9999999", Ungrounded, "", -1},
		{"own message is not evidence", []probity.Step{step(probity.KindAssistant, "assistant", "Your order #W1111111")},
			toolCall("cancel_pending_order", `{"order_id":"#W1111111"}`), "#W1111111", Ungrounded, "repeats an unsupported value first stated at step 0", -1},
		{"another agent's message is evidence", []probity.Step{step(probity.KindAssistant, "planner", "Use order #W1111111")},
			probity.Step{Kind: probity.KindToolCall, Actor: "executor", Tool: &probity.ToolCall{Name: "cancel", Args: json.RawMessage(`{"order_id":"#W1111111"}`)}},
			"#W1111111", Grounded, "", 0},
		{"money from a JSON number", []probity.Step{items}, step(probity.KindAssistant, "assistant", "The keyboard costs $272.33."),
			"$272.33", Grounded, "", 0},
		{"sum of two prices", []probity.Step{items}, step(probity.KindAssistant, "assistant", "Your refund is $534.80."),
			"$534.80", Derived, "sum of", 0},
		{"difference of two prices", []probity.Step{items}, step(probity.KindAssistant, "assistant", "You get $9.86 back."),
			"$9.86", Derived, "difference", 0},
		{"calculator output", []probity.Step{toolResult("calculate", "1234.5")},
			step(probity.KindAssistant, "assistant", "That is $1,234.50."), "$1,234.50", Derived, "computed by tool calculate", 0},
		{"amount one digit off", []probity.Step{items}, step(probity.KindAssistant, "assistant", "The keyboard costs $272.38."),
			"$272.38", NearMiss, "one digit changed", 0},
		{"card ending in", []probity.Step{orders}, step(probity.KindAssistant, "assistant", "I'll use the card ending in 2478."),
			"2478", Grounded, "", 0},
		{"partial reference to a longer id", []probity.Step{orders}, step(probity.KindAssistant, "assistant", "the card ending in 3926"),
			"3926", Grounded, "ends in 3926", 0},
		{"user id from email", []probity.Step{step(probity.KindUser, "user", "I'm yara_garcia_1905@gmail.com")},
			toolCall("get_user_details", `{"user_id":"yara_garcia_1905"}`), "yara_garcia_1905", Grounded, "", 0},
		{"date the user wrote in words", []probity.Step{step(probity.KindUser, "user", "I fly on May 20th")},
			toolCall("search_direct_flight", `{"date":"2024-05-20"}`), "2024-05-20", Grounded, "", 0},
		{"tomorrow from the clock", []probity.Step{step(probity.KindUser, "user", "I want to fly tomorrow")},
			toolCall("search_direct_flight", `{"date":"2024-05-16"}`), "2024-05-16", Grounded, "", 0},
		{"date offset by a visible number of days", []probity.Step{toolResult("get_order", `{"delivered": "2024-05-01"}`), step(probity.KindSystem, "system", "returns within 30 days")},
			step(probity.KindAssistant, "assistant", "You can return it until 2024-05-31."), "2024-05-31", Derived, "moved by 30 days", -2},
		{"amount with no source near", []probity.Step{items}, step(probity.KindAssistant, "assistant", "That costs $12,345."),
			"$12,345", Ungrounded, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := classOf(t, tt.history, tt.last, tt.raw)
			if r.Class != tt.wantClass {
				t.Errorf("class of %q = %s (%s), want %s", tt.raw, r.Class, r.Note, tt.wantClass)
			}
			if !strings.Contains(r.Note, tt.wantNote) {
				t.Errorf("note of %q = %q, want it to contain %q", tt.raw, r.Note, tt.wantNote)
			}
			switch {
			case tt.wantSrc == -1 && r.Source != nil:
				t.Errorf("source of %q = step %d, want none", tt.raw, r.Source.Step)
			case tt.wantSrc >= 0 && (r.Source == nil || r.Source.Step != tt.wantSrc):
				t.Errorf("source of %q = %+v, want step %d", tt.raw, r.Source, tt.wantSrc)
			}
		})
	}
}

func TestClassifyCallBeforeItRuns(t *testing.T) {
	x := NewIndex()
	x.Add(step(probity.KindUser, "user", "Cancel order #W2378156 please"), 0)
	x.Add(toolResult("get_order_details", `{"order_id": "#W2378156", "status": "pending"}`), 1)
	rs := x.ClassifyCall(probity.ToolCall{Name: "cancel_pending_order", Args: json.RawMessage(`{"order_id":"#W2378165","reason":"no longer needed"}`)}, "assistant")
	if len(rs) != 1 || rs[0].Class != NearMiss || rs[0].Step != -1 {
		t.Fatalf("ClassifyCall = %+v, want one near-miss at step -1", rs)
	}
	if rs[0].Source.Kind != probity.KindUser {
		t.Errorf("source kind = %s, want user (the first, trusted, source)", rs[0].Source.Kind)
	}
	// Classify does not record: the same question gives the same answer.
	if again := x.ClassifyCall(probity.ToolCall{Name: "cancel_pending_order", Args: json.RawMessage(`{"order_id":"#W2378165"}`)}, "assistant"); again[0].Class != NearMiss {
		t.Errorf("second ClassifyCall = %s, want near-miss (nothing recorded)", again[0].Class)
	}
}

func TestAnalysisOccurrences(t *testing.T) {
	tr := &probity.Trace{Steps: []probity.Step{
		step(probity.KindUser, "user", "order #W2378156"),
		step(probity.KindAssistant, "assistant", "I see #W2378165."),
		toolCall("cancel_pending_order", `{"order_id":"#W2378165"}`),
		toolResult("cancel_pending_order", `{"order_id": "#W2378165", "status": "cancelled"}`),
	}}
	for i := range tr.Steps {
		tr.Steps[i].Pos.Index = i
	}
	a := Analyze(tr)
	vs := a.Values(1)
	if len(vs) != 1 || vs[0].Class != NearMiss || vs[0].Origin != 1 {
		t.Fatalf("Values(1) = %+v, want a near-miss born at step 1", vs)
	}
	if got, want := a.Consumers(vs[0].Atom.Key(), 1), []int{2, 3}; !equalInts(got, want) {
		t.Errorf("Consumers = %v, want %v", got, want)
	}
	if got := a.FirstSeen(vs[0].Atom.Key()); got != 1 {
		t.Errorf("FirstSeen = %d, want 1", got)
	}
	var nilA *Analysis
	if nilA.Values(0) != nil || nilA.FirstSeen("x") != -1 {
		t.Errorf("nil Analysis should have no values")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNestedAgentsSeeOnlyTheirToolResults(t *testing.T) {
	steps := func(returned string) []probity.Step {
		return []probity.Step{
			step(probity.KindUser, "user", "Why was I charged more this month?"),
			{Kind: probity.KindToolCall, Actor: "support", Tool: &probity.ToolCall{ID: "c1", Name: "get_customer", Args: json.RawMessage(`{}`)}},
			{Kind: probity.KindToolResult, Actor: "tool", Tool: &probity.ToolCall{ID: "c1", Name: "get_customer"}, Content: `{"customer_id": "C-20931"}`},
			{Kind: probity.KindHandoff, Actor: "support", Content: "Billing question for C-20931."},
			{Kind: probity.KindToolCall, Actor: "billing", Tool: &probity.ToolCall{ID: "c2", Name: "get_invoice", Args: json.RawMessage(`{"customer_id":"C-20931"}`)}},
			{Kind: probity.KindToolResult, Actor: "tool", Tool: &probity.ToolCall{ID: "c2", Name: "get_invoice"}, Content: `{"invoice_id": "INV-2025-03-20931", "total": 58.2}`},
			{Kind: probity.KindReturn, Actor: "billing", Content: returned},
		}
	}
	tests := []struct {
		returned string
		want     Class
	}{
		{"The invoice INV-2025-03-20931 totals $58.20.", Grounded},
		{"The invoice totals $58.20.", Ungrounded}, // the id stayed inside the billing agent
	}
	for _, tt := range tests {
		x := NewIndex()
		for i, s := range steps(tt.returned) {
			s.Pos.Index = i
			x.Add(s, i)
		}
		r := x.Add(probity.Step{Kind: probity.KindAssistant, Actor: "support", Content: "See invoice INV-2025-03-20931."}, 7)
		if len(r) != 1 || r[0].Class != tt.want {
			t.Errorf("support agent citing the invoice after return %q: %+v, want %s", tt.returned, r, tt.want)
		}
		// The billing agent itself saw the invoice.
		if got := x.Classify(r[0].Atom, "billing").Class; got != Grounded {
			t.Errorf("billing agent citing its own tool result: %s, want grounded", got)
		}
	}
}
