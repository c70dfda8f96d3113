package guard

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/wire"
)

// sync brings the run's history up to date with the client's conversation
// (OpenAI chat or Anthropic Messages message objects). Clients resend the
// whole conversation with every call; only messages past those already read
// are appended. A last message that makes tool calls (the one being
// decided) is left for the next request. A shorter conversation means a new
// one under the same run id, so the history starts again.
//
// It stops when ctx is done or the run is full, and returns how many of
// msgs the history holds: fewer than len(msgs) means it is behind, and the
// next request reads on from there.
func (rs *runState) sync(ctx context.Context, msgs []json.RawMessage) (read int, complete bool, err error) {
	if !rs.external || len(msgs) < rs.messages {
		rs.s = rs.s.Fresh()
		rs.messages, rs.pos, rs.external, rs.conv = 0, 0, true, wire.Converter{}
		rs.decided = map[string]bool{}
	}
	var steps []probity.Step
	for i := rs.messages; i < len(msgs); i++ {
		// Calls decided now belong to the next message to come (or to the
		// calling message, when it came last).
		rs.messages, rs.pos = i, i
		if ctx.Err() != nil || rs.s.Full() {
			return i, false, nil
		}
		var m wire.Message
		if err := json.Unmarshal(msgs[i], &m); err != nil {
			return i, false, &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("messages[%d]", i), Message: "bad message", Err: err}
		}
		if steps, err = rs.conv.Steps(steps[:0], i, &m); err != nil {
			return i, false, &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("messages[%d]", i), Message: err.Error()}
		}
		// The model message that makes the call being decided may come
		// last: its calls have not run yet, so it waits for the next
		// request rather than counting as history.
		if i == len(msgs)-1 && hasCall(steps) {
			return len(msgs), true, nil
		}
		for _, st := range steps {
			if st.Kind == probity.KindToolCall && st.Tool != nil && rs.decided[st.Tool.ID] {
				delete(rs.decided, st.Tool.ID) // recorded when it was decided
				continue
			}
			rs.s.Append(st)
		}
	}
	rs.messages, rs.pos = len(msgs), len(msgs)
	return len(msgs), true, nil
}

func hasCall(steps []probity.Step) bool {
	for _, st := range steps {
		if st.Kind == probity.KindToolCall {
			return true
		}
	}
	return false
}
