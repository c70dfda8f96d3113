package provenance_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// A guard asks, before a refund runs, whether its arguments come from what
// the agent saw.
func ExampleIndex_ClassifyCall() {
	x := provenance.NewIndex()
	x.Add(probity.Step{Kind: probity.KindUser, Actor: "user", Content: "Please refund order #W4817216."}, 0)
	x.Add(probity.Step{Kind: probity.KindToolResult, Actor: "tool", Tool: &probity.ToolCall{Name: "get_order_details"},
		Content: `{"order_id": "#W4817216", "total": 129.99}`}, 1)

	rs := x.ClassifyCall(probity.ToolCall{Name: "refund_order",
		Args: json.RawMessage(`{"order_id": "#W4871216", "amount": 129.99}`)}, "assistant")
	for _, r := range rs {
		fmt.Println(strings.TrimSpace(r.Atom.Path + " " + string(r.Class) + " " + r.Note))
	}
	fmt.Println("grounded:", provenance.AllGrounded(rs), "tainted:", provenance.AnyUntrusted(rs))
	// Output:
	// amount grounded
	// order_id near-miss two adjacent digits swapped: w4871216 vs w4817216
	// grounded: false tainted: true
}

func ExampleExtract() {
	for _, a := range provenance.Extract("Refund $1,234.50 for order #W2378156 by May 20th, card ending in 2478.") {
		fmt.Printf("%-8s %-12q %s\n", a.Kind, a.Raw, a.Norm)
	}
	// Output:
	// money    "$1,234.50"  1234.5
	// id       "#W2378156"  w2378156
	// date     "May 20th"   05-20
	// suffix   "2478"       2478
}
