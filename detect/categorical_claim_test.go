package detect

import (
	"strings"
	"testing"
)

// TestCategoricalClaim checks categorical values and yes/no facts stated to
// the user against the record the agent read.
func TestCategoricalClaim(t *testing.T) {
	const res = `{"reservation_id": "ZFA04Y", "cabin": "economy", "insurance": "no", "flight_type": "round_trip",` +
		` "items": [{"item_id": "9612497925", "options": {"color": "blue", "size": "M"}}]}`
	tests := []struct {
		name, say string
		want      string // part of the finding's message, "" for none
	}{
		{"faithful", "Your reservation ZFA04Y is in economy class and has no travel insurance.", ""},
		{"wrong cabin", "Your reservation ZFA04Y is booked in business class.", `cabin "business"`},
		{"wrong cabin, a value no tool named", "You're currently seated in first class on reservation ZFA04Y.", `cabin "first class"`},
		{"insurance said yes", "Good news: reservation ZFA04Y includes travel insurance.", `insurance "yes"`},
		{"wrong colour", "The t-shirt in your order is red.", `color "red"`},
		{"letter size spelled out", "Your t-shirt is a medium.", ""},
		{"an offer is no claim", "Would you like to upgrade reservation ZFA04Y to business?", ""},
		{"a rule is no claim", "Travel insurance cannot be added after booking.", ""},
		{"a request the user made", "Your reservation ZFA04Y is now in business.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "Please look at my reservation ZFA04Y."
			if strings.HasPrefix(tt.name, "a request") {
				user = "Move reservation ZFA04Y to business please."
			}
			tr := qTrace(qUser(user), qCall("1", "get_reservation_details", `{"reservation_id": "ZFA04Y"}`),
				qResult("1", "get_reservation_details", res), qSay(tt.say))
			rep := Run(tr, nil, []Detector{ContradictedClaim{}})
			var got string
			for _, f := range rep.Findings {
				if f.Detector == "contradicted-claim" && f.Step == 3 {
					got = f.Message
				}
			}
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("finding for %q = %q, want one containing %q", tt.say, got, tt.want)
			}
		})
	}
}
