package guard

import (
	"encoding/json"
	"fmt"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/chatmsg"
)

// sync brings the run's history up to date with the client's conversation
// (OpenAI chat or Anthropic Messages message objects). Clients resend the
// whole conversation with every call; only messages past those already read
// are appended. A last message that makes tool calls (the one being
// decided) is left for the next request. A shorter conversation means a new one under the same run
// id, so the history starts again.
func (rs *runState) sync(msgs []json.RawMessage) error {
	if !rs.external || len(msgs) < rs.messages {
		rs.s = rs.s.Fresh()
		rs.messages, rs.pos, rs.external, rs.conv = 0, 0, true, chatmsg.Converter{}
		rs.decided = map[string]bool{}
	}
	var add []probity.Step
	end := len(msgs)
	for i := rs.messages; i < len(msgs); i++ {
		var m chatmsg.Message
		if err := json.Unmarshal(msgs[i], &m); err != nil {
			return &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("messages[%d]", i), Message: "bad message", Err: err}
		}
		n := len(add)
		var err error
		if add, err = rs.conv.Steps(add, i, &m); err != nil {
			return &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("messages[%d]", i), Message: err.Error()}
		}
		// The model message that makes the call being decided may come
		// last: its calls have not run yet, so it waits for the next
		// request rather than counting as history.
		if i == len(msgs)-1 && hasCall(add[n:]) {
			add, end = add[:n], i
		}
	}
	for _, st := range add {
		if st.Kind == probity.KindToolCall && st.Tool != nil && rs.decided[st.Tool.ID] {
			delete(rs.decided, st.Tool.ID) // recorded when it was decided
			continue
		}
		rs.s.Append(st)
	}
	// Calls decided now belong to the calling message, if it came last,
	// else to the next message to come.
	rs.messages, rs.pos = end, end
	if end == len(msgs) {
		rs.pos = len(msgs)
	}
	return nil
}

func hasCall(steps []probity.Step) bool {
	for _, st := range steps {
		if st.Kind == probity.KindToolCall {
			return true
		}
	}
	return false
}
