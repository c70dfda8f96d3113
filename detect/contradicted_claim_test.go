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
			tr := &probity.Trace{Steps: append(retailHistory(), msg(5, probity.KindAssistant, "assistant", tt.say))}
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
	tr := &probity.Trace{Steps: append(retailHistory(), call(5, "refund", `{"amount":272.38}`))}
	if fs := provRun(tr, ContradictedClaim{}); len(fs) != 0 {
		t.Errorf("findings on a tool call = %+v, want none", fs)
	}
}

func FuzzContradictedClaim(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, user, out, args, say string) {
		tr := fuzzTrace(user, out, args, say)
		checkFindings(t, tr, provRun(tr, ContradictedClaim{}))
	})
}
