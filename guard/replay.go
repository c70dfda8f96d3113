package guard

import (
	"context"

	"github.com/probity/probity"
)

// Replay feeds a recorded trace to g as the history of run, so that a
// decision made afterwards sees what the recorded agent did: messages are
// said, tool calls decided (and so counted against budgets and temporal
// rules) and tool results reported, failed ones as failures.
//
// A recorded call the policy would deny is still part of the history: the
// recording says it happened. Replay returns the first error of Decide
// (EINVALID for a call without a tool name); results whose call the trace
// does not hold are matched by tool name.
func (g *Guard) Replay(ctx context.Context, run string, tr *probity.Trace) error {
	ids := map[string]string{} // recorded call id -> guard call id
	byName := map[string]string{}
	for _, s := range tr.Steps {
		switch s.Kind {
		case probity.KindUser, probity.KindAssistant, probity.KindSystem:
			// Say refuses only unknown roles, and these three are known.
			_ = g.Say(run, string(s.Kind), s.Content)
		case probity.KindToolCall:
			if s.Tool == nil {
				continue
			}
			v, err := g.Decide(ctx, Call{Run: run, Tool: s.Tool.Name, Args: s.Tool.Args})
			if err != nil {
				return err
			}
			if s.Tool.ID != "" {
				ids[s.Tool.ID] = v.CallID
			}
			byName[s.Tool.Name] = v.CallID
		case probity.KindToolResult:
			if s.Tool == nil {
				continue
			}
			id, ok := ids[s.Tool.ID]
			if s.Tool.ID == "" || !ok {
				id = byName[s.Tool.Name]
			}
			g.Result(run, id, s.Tool.Name, s.Content, s.Error != nil)
		}
	}
	return nil
}
