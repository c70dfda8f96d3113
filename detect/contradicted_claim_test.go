package detect

import (
	"strings"
	"testing"

	"github.com/probity/probity"
)

func TestContradictedClaim(t *testing.T) {
	tests := []struct {
		name    string
		say     string
		want    probity.Severity // SeverityNone: no finding
		wantMsg string
	}{
		{"faithful summary", "Order #W2378156 is pending; the keyboard cost $272.33 and will be refunded to credit_card_9513926.",
			probity.SeverityNone, ""},
		{"amount one digit off", "I'll refund $272.38 for the keyboard.",
			probity.SeverityHigh, `the agent states money "$272.38" but the evidence says "$272.33" at step 0 (one digit changed`},
		{"amount digits swapped", "I'll refund $227.33 for the keyboard.",
			probity.SeverityHigh, `"$227.33" but the evidence says`},
		{"amount far off with a visible amount near", "I'll refund $300.00.",
			probity.SeverityHigh, `"$300.00" but the evidence says "272.33"`},
		{"order id one digit off", "Your order #W2378157 is pending.",
			probity.SeverityHigh, `the agent states id "#W2378157" but the evidence says "#W2378156"`},
		{"invented id with nothing near", "Your tracking number is TRK9912345.",
			probity.SeverityMedium, `the agent states id "TRK9912345" that nothing it saw supports`},
		{"small numbers and years are not claims", "You have 2 items from 2024; step 3 of 5.",
			probity.SeverityNone, ""},
		{"numbers in code are not claims", "Run:\n```\nrefund(999.99)\n```",
			probity.SeverityNone, ""},
		{"a computed total", "The total is $544.66 (2 × $272.33).",
			probity.SeverityNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &probity.Trace{Steps: append(provRetailHistory(), provMsg(5, probity.KindAssistant, "assistant", tt.say))}
			fs := provRun(tr, ContradictedClaim{})
			if tt.want == probity.SeverityNone {
				if len(fs) != 0 {
					t.Errorf("findings = %+v, want none", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("findings = %+v, want one", fs)
			}
			if f := fs[0]; f.Severity != tt.want || f.Step != 5 || !strings.Contains(f.Message, tt.wantMsg) {
				t.Errorf("finding = %v %q at %d, want %v containing %q at 5", f.Severity, f.Message, f.Step, tt.want, tt.wantMsg)
			}
		})
	}
}

func TestContradictedClaimOnlyMessages(t *testing.T) {
	// A tool call with a wrong amount is ungrounded-argument's business.
	tr := &probity.Trace{Steps: append(provRetailHistory(), provCall(5, "refund", `{"amount":272.38}`))}
	if fs := provRun(tr, ContradictedClaim{}); len(fs) != 0 {
		t.Errorf("findings on a tool call = %+v, want none", fs)
	}
}

func FuzzContradictedClaim(f *testing.F) {
	provFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, user, out, args, say string) {
		tr := provFuzzTrace(user, out, args, say)
		provCheckFindings(t, tr, provRun(tr, ContradictedClaim{}))
	})
}

func TestContradictedStatus(t *testing.T) {
	history := []probity.Step{
		provMsg(0, probity.KindUser, "user", "What about my orders #W4967593 and #W5733668?"),
		provCall(1, "get_order_details", `{"order_id":"#W4967593"}`),
		provResult(2, "get_order_details", `{"order_id": "#W4967593", "status": "processed", "items": [{"item_id": "8323284863", "available": false}]}`),
		provCall(3, "get_order_details", `{"order_id":"#W5733668"}`),
		provResult(4, "get_order_details", `{"order_id": "#W5733668", "status": "delivered"}`),
	}
	tests := []struct {
		say  string
		want bool
	}{
		{"Your order #W4967593 has been delivered.", true},
		{"1. **Delivered Orders (#W4967593 and #W5733668)**: these can be exchanged.", true},
		{"Order #W4967593: Pending.", true},
		{"Item 8323284863 is available in blue.", true},
		{"Order #W4967593 is processed and #W5733668 is delivered.", false},
		{"Order #W4967593 will be delivered soon.", false},
		{"Order #W4967593 is not delivered yet.", false},
		{"Your order #W4967593 has been cancelled.", true}, // nothing cancelled it
		{"The delivered order #W5733668 can be returned.", false},
		{"Item 8323284863 is out of stock.", false},
	}
	for _, tt := range tests {
		tr := &probity.Trace{Steps: append(append([]probity.Step{}, history...), provMsg(5, probity.KindAssistant, "assistant", tt.say))}
		fs := provRun(tr, ContradictedClaim{})
		got := len(fs) == 1 && fs[0].Severity == probity.SeverityHigh && strings.Contains(fs[0].Message, "status the evidence contradicts")
		if got != tt.want {
			t.Errorf("ContradictedClaim on %q: status finding = %v, want %v (findings %+v)", tt.say, got, tt.want, fs)
		}
	}
}

func TestContradictedStatusFollowsActions(t *testing.T) {
	tr := &probity.Trace{Steps: []probity.Step{
		provResult(0, "get_order_details", `{"order_id": "#W4967593", "status": "pending"}`),
		provCall(1, "cancel_pending_order", `{"order_id":"#W4967593","reason":"ordered by mistake"}`),
		provResult(2, "cancel_pending_order", `{"order_id": "#W4967593", "status": "cancelled"}`),
		provMsg(3, probity.KindAssistant, "assistant", "Your pending order (#W4967593) has been canceled."),
		provMsg(4, probity.KindAssistant, "assistant", "Order #W4967593 is still pending."),
	}}
	fs := provRun(tr, ContradictedClaim{})
	if len(fs) != 1 || fs[0].Step != 4 {
		t.Fatalf("findings = %+v, want one, on step 4 (the status changed at step 2)", fs)
	}
	if got, want := fs[0].Evidence[0].Source, `#W4967593: "cancelled"`; got != want || fs[0].Evidence[0].SourceStep != 2 {
		t.Errorf("evidence source = %q at %d, want %q at 2", got, fs[0].Evidence[0].SourceStep, want)
	}
}

func TestContradictedStatusPartOfRecorded(t *testing.T) {
	tr := &probity.Trace{Steps: []probity.Step{
		provResult(0, "refund_order", `{"order_id": "#W5533091", "status": "refund_pending", "amount": 129.99}`),
		provMsg(1, probity.KindAssistant, "assistant", "The refund for order #W5533091 is pending."),
		provMsg(2, probity.KindAssistant, "assistant", "Order #W5533091 is delivered."),
	}}
	fs := provRun(tr, ContradictedClaim{})
	if len(fs) != 1 || fs[0].Step != 2 {
		t.Errorf("findings = %+v, want one on step 2 (pending agrees with refund_pending)", fs)
	}
}
