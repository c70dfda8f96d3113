package guard_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
)

type refundArgs struct {
	OrderID string  `json:"order_id"`
	Amount  float64 `json:"amount"`
}

// ExampleWrap guards a Go tool function: the policy is checked before each
// call, a refused call never runs and returns a *guard.DeniedError whose
// message is meant for the model, and the run named in the context keeps
// the history later rules read.
func ExampleWrap() {
	p, err := policy.Parse([]byte(`
rules:
  - name: refund-cap
    tools: [refund]
    deny: 'args.amount > 100.0'
    message: refunds over $100 need a person
`))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(guard.Options{Policy: p})
	if err != nil {
		panic(err)
	}
	defer g.Close()

	refund := guard.Wrap(g, "refund", func(_ context.Context, a refundArgs) (string, error) {
		return fmt.Sprintf("refunded $%.2f on %s", a.Amount, a.OrderID), nil
	})
	ctx := guard.WithRun(context.Background(), "conversation-42")
	for _, a := range []refundArgs{{"#W1", 40}, {"#W2", 400}} {
		out, err := refund(ctx, a)
		var denied *guard.DeniedError
		switch {
		case errors.As(err, &denied):
			fmt.Println("denied:", denied.Decision.Rule, "-", denied.Decision.Message)
		case err != nil:
			fmt.Println("error:", err)
		default:
			fmt.Println(out)
		}
	}
	// Output:
	// refunded $40.00 on #W1
	// denied: refund-cap - refunds over $100 need a person
}
