package detect

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/probity/probity"
)

func provRetailHistory() []probity.Step {
	return []probity.Step{
		provMsg(0, probity.KindUser, "user", "Hi, I'm yusuf.rossi7301@example.com. Please cancel order #W2378156, the keyboard is $272.33."),
		provCall(1, "find_user_id_by_email", `{"email":"yusuf.rossi7301@example.com"}`),
		provResult(2, "find_user_id_by_email", "yusuf_rossi_9620"),
		provCall(3, "get_order_details", `{"order_id":"#W2378156"}`),
		provResult(4, "get_order_details", `{"order_id": "#W2378156", "status": "pending", "items": [{"item_id": "1151293680", "price": 272.33}], "payment_history": [{"payment_method_id": "credit_card_9513926", "amount": 272.33}]}`),
	}
}

func TestUngroundedArgument(t *testing.T) {
	tests := []struct {
		name    string
		last    probity.Step
		want    probity.Severity // SeverityNone: no finding
		wantMsg string
		wantEv  probity.Evidence
	}{
		{"grounded call", provCall(5, "cancel_pending_order", `{"order_id":"#W2378156","reason":"no longer needed"}`),
			probity.SeverityNone, "", probity.Evidence{}},
		{"near-miss id in a side-effecting call", provCall(5, "cancel_pending_order", `{"order_id":"#W2378165","reason":"no longer needed"}`),
			probity.SeverityHigh, `side-effecting call to cancel_pending_order: order_id "#W2378165" is a near-miss of "#W2378156" at step 0`,
			probity.Evidence{Value: "#W2378165", Kind: "order-id", Class: "near-miss", SourceStep: 0, Note: "two adjacent digits swapped: w2378165 vs w2378156"}},
		{"invented id in a side-effecting call", provCall(5, "cancel_pending_order", `{"order_id":"#W5555555"}`),
			probity.SeverityHigh, `side-effecting call to cancel_pending_order: order_id "#W5555555" appears in nothing the agent saw`,
			probity.Evidence{Value: "#W5555555", Kind: "order-id", Class: "ungrounded", SourceStep: -1, Note: "no visible source"}},
		{"invented id in a read-only call", provCall(5, "get_order_details", `{"order_id":"#W5555555"}`),
			probity.SeverityMedium, `call to get_order_details: order_id "#W5555555"`,
			probity.Evidence{Value: "#W5555555", Kind: "order-id", Class: "ungrounded", SourceStep: -1, Note: "no visible source"}},
		{"near-miss in a read-only call is still high", provCall(5, "get_order_details", `{"order_id":"#W2378157"}`),
			probity.SeverityHigh, `near-miss of "#W2378156"`,
			probity.Evidence{Value: "#W2378157", Kind: "order-id", Class: "near-miss", SourceStep: 0, Note: "one digit changed: w2378157 vs w2378156"}},
		{"small counts are not evidence", provCall(5, "update_reservation_baggages", `{"reservation_id":"#W2378156","total_baggages":3,"nonfree_baggages":1}`),
			probity.SeverityNone, "", probity.Evidence{}},
		{"numbers inside a command are code", provCall(5, "bash", `{"command":"sed -n 1200,1260p src/app.py"}`),
			probity.SeverityNone, "", probity.Evidence{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &probity.Trace{Steps: append(provRetailHistory(), tt.last)}
			fs := provRun(tr, UngroundedArgument{})
			if tt.want == probity.SeverityNone {
				if len(fs) != 0 {
					t.Errorf("findings = %+v, want none", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("findings = %+v, want one", fs)
			}
			f := fs[0]
			if f.Severity != tt.want || f.Step != 5 || f.StepIndex != 5 || f.Detector != "ungrounded-argument" {
				t.Errorf("finding = %+v, want %v at step 5", f, tt.want)
			}
			if !strings.Contains(f.Message, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", f.Message, tt.wantMsg)
			}
			got := f.Evidence[0]
			got.Source = ""
			if got != tt.wantEv {
				t.Errorf("evidence = %+v, want %+v", got, tt.wantEv)
			}
		})
	}
}

func TestUngroundedArgumentRejectedCall(t *testing.T) {
	steps := append(provRetailHistory(),
		provCall(5, "modify_pending_order_payment", `{"order_id":"#W2378156","payment_method_id":"credit_card_2478"}`),
		probity.Step{Pos: probity.Position{Index: 6}, Kind: probity.KindToolResult, Actor: "tool",
			Tool: &probity.ToolCall{Name: "modify_pending_order_payment"}, Content: "Error: payment method not found",
			Error: &probity.ToolError{}})
	fs := provRun(&probity.Trace{Steps: steps}, UngroundedArgument{})
	if len(fs) != 1 || fs[0].Severity != probity.SeverityMedium || !strings.Contains(fs[0].Message, "the tool rejected the call") {
		t.Errorf("findings = %+v, want one medium finding saying the tool rejected the call", fs)
	}
}

// provCheckFindings asserts the invariants every finding of every detector keeps.
func provCheckFindings(t *testing.T, tr *probity.Trace, fs []probity.Finding) {
	t.Helper()
	for _, f := range fs {
		if f.StepIndex < 0 || f.StepIndex >= len(tr.Steps) || f.Step != tr.Steps[f.StepIndex].Pos.Index {
			t.Fatalf("finding %+v points outside the trace or disagrees with its step", f)
		}
		if f.Severity < probity.SeverityLow || f.Severity > probity.SeverityHigh || f.Confidence <= 0 || f.Confidence > 1 {
			t.Fatalf("finding %+v has a bad severity or confidence", f)
		}
		if f.Message == "" || f.Evidence == nil || f.BlastRadius == nil {
			t.Fatalf("finding %+v lacks a message, evidence or blast radius", f)
		}
		for _, p := range f.BlastRadius {
			if p < f.Step {
				t.Fatalf("finding %+v: blast radius reaches back before its step", f)
			}
		}
		if _, err := json.Marshal(f); err != nil {
			t.Fatalf("finding does not marshal: %v", err)
		}
	}
}

// provFuzzTrace builds a small trace around fuzzed texts: what the user says,
// what a tool returns, the arguments of a side-effecting call and what the
// agent then says.
func provFuzzTrace(user, toolOut, args, say string) *probity.Trace {
	return &probity.Trace{Steps: []probity.Step{
		provMsg(0, probity.KindUser, "user", user),
		provCall(1, "get_order_details", `{"order_id":"#W2378156"}`),
		provResult(2, "get_order_details", toolOut),
		provMsg(3, probity.KindAssistant, "assistant", say),
		{Pos: probity.Position{Index: 4, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant",
			Tool: &probity.ToolCall{Name: "cancel_pending_order", Args: json.RawMessage(args)}},
		provResult(5, "cancel_pending_order", toolOut),
		provMsg(6, probity.KindAssistant, "assistant", say),
	}}
}

// provFuzzSeeds adds real texts from the shared data as seeds, when present.
func provFuzzSeeds(f *testing.F) {
	f.Add("cancel #W2378156 please", `{"order_id": "#W2378156", "price": 54.04}`, `{"order_id":"#W2378165"}`, "Refunded $54.40 for #W2378165.")
	if testing.Short() {
		return
	}
	ts := provLoadTau(f, "agentrx-tau-retail", "trajectories.json")
	for _, tr := range ts[:4] {
		var user, out, args, say string
		for _, s := range tr.Steps {
			switch {
			case s.Kind == probity.KindUser && user == "":
				user = s.Content
			case s.Kind == probity.KindToolResult && out == "" && len(s.Content) < 3000:
				out = s.Content
			case s.Kind == probity.KindToolCall && args == "":
				args = string(s.Tool.Args)
			case s.Kind == probity.KindAssistant && say == "":
				say = s.Content
			}
		}
		f.Add(user, out, args, say)
	}
}

func FuzzUngroundedArgument(f *testing.F) {
	provFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, user, out, args, say string) {
		tr := provFuzzTrace(user, out, args, say)
		provCheckFindings(t, tr, provRun(tr, UngroundedArgument{}))
	})
}
