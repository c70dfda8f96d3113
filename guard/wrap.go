package guard

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/probity/probity"
)

type runKey struct{}

// WithRun returns a context that names the agent run the tool calls made
// under it belong to; Wrap reads it.
func WithRun(ctx context.Context, run string) context.Context {
	return context.WithValue(ctx, runKey{}, run)
}

// RunFrom returns the run named by WithRun, or "default".
func RunFrom(ctx context.Context) string {
	if r, ok := ctx.Value(runKey{}).(string); ok && r != "" {
		return r
	}
	return "default"
}

// DeniedError is returned by a wrapped tool function whose call the policy
// refused; the function did not run. Its message is meant for the model.
type DeniedError struct {
	Decision Decision
}

// Error names the rule and what the model should be told.
func (e *DeniedError) Error() string {
	msg := e.Decision.Message
	if msg == "" {
		msg = e.Decision.Reason
	}
	return fmt.Sprintf("denied by policy rule %s: %s", e.Decision.Rule, msg)
}

// Wrap guards a Go tool function: each call is checked (waiting for
// approval when a rule asks for it) under the run named in its context
// (WithRun), runs only when allowed, and has its outcome recorded so that
// later rules (require_before) know whether it succeeded. A refused call
// returns a *DeniedError.
//
//	refund := guard.Wrap(g, "refund", issueRefund)
//	out, err := refund(guard.WithRun(ctx, conversationID), RefundArgs{OrderID: "#W1", Amount: 40})
func Wrap[A, R any](g *Guard, tool string, fn func(context.Context, A) (R, error)) func(context.Context, A) (R, error) {
	return func(ctx context.Context, args A) (R, error) {
		var zero R
		raw, err := json.Marshal(args)
		if err != nil {
			return zero, fmt.Errorf("guard %s: encode args: %w", tool, err)
		}
		run := RunFrom(ctx)
		v, err := g.Check(ctx, Call{Run: run, Tool: tool, Args: raw})
		if err != nil {
			return zero, fmt.Errorf("guard %s: %w", tool, err)
		}
		if !v.Allowed() {
			return zero, &DeniedError{Decision: v}
		}
		out, err := fn(ctx, args)
		if err != nil {
			g.Result(run, v.CallID, tool, err.Error(), true)
			return out, err
		}
		content := ""
		if b, err := json.Marshal(out); err == nil {
			content = string(b)
		}
		g.Result(run, v.CallID, tool, content, false)
		return out, nil
	}
}

// ProxyRefusedHook adapts g to the proxy's hook for responses it refused
// because it could not read and check them (proxy.Options.Refused): each
// goes to the audit log as a "refused-response" deny with the reason.
func ProxyRefusedHook(g *Guard) func(ctx context.Context, run, reason string) {
	return func(_ context.Context, run, reason string) {
		g.AuditEvent(&AuditRecord{Event: "refused-response", Run: run, Decision: "deny", Reason: reason})
	}
}

// ProxyHook adapts g to the model-API proxy's guard hook (proxy.GuardFunc):
// every tool call in a model response is checked, waiting for approval when
// a rule asks for it, before the agent sees it. A refused call's message is
// what the proxy shows the model.
func ProxyHook(g *Guard) func(ctx context.Context, run string, call probity.ToolCall) (allow bool, message string) {
	return func(ctx context.Context, run string, call probity.ToolCall) (bool, string) {
		args := call.Args
		if len(args) == 0 && call.RawArgs != "" {
			// Arguments that are not JSON still get decided (as {}); rules
			// that read them cannot be evaluated and fail closed.
			args = nil
		}
		v, err := g.Check(ctx, Call{Run: run, ID: call.ID, Tool: call.Name, Args: args})
		if err != nil {
			// A call the guard could not decide is not let through, whatever
			// its name suggests.
			return false, "the policy guard failed: " + err.Error()
		}
		if v.Allowed() {
			return true, ""
		}
		msg := v.Message
		if msg == "" {
			msg = v.Reason
		}
		// The proxy already says which call was blocked; say why.
		return false, fmt.Sprintf("policy rule %q: %s", v.Rule, msg)
	}
}
