package detect

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/probity/probity"
)

// SwallowedError finds tool or command results that signal failure (an
// error field, a leading "Error:", an exception, a non-zero exit with error
// output, failing tests, an HTTP status >= 400) after which the agent goes
// on without addressing the failure.
//
// The agent addresses a failure when, before it next speaks to the user or
// acts elsewhere, it retries the same tool, or its own words acknowledge the
// problem (error, failed, unable, unfortunately, not available, ...). The
// finding sits on the failed result, the origin of what follows. It is high
// when the agent's next message claims success anyway, medium when it
// silently goes on to other actions or ends the run.
type SwallowedError struct{}

// ID returns "swallowed-error".
func (SwallowedError) ID() string { return "swallowed-error" }

// Detect implements Detector.
func (d SwallowedError) Detect(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	for i := range steps {
		s := &steps[i]
		if !isObservation(s) {
			continue
		}
		fail, ok := c.failure(i)
		if !ok {
			continue
		}
		if f, ok := d.judge(c, i, fail); ok {
			out = append(out, f)
		}
	}
	return out
}

// judge decides whether the agent addressed the failure at step i.
func (d SwallowedError) judge(c *Context, i int, fail failure) (probity.Finding, bool) {
	steps := c.Trace.Steps
	// The call that failed: a retry must look like it, and calls made in
	// the same message as it were decided before the failure was seen.
	failedCall := -1
	for j := i - 1; j >= 0 && j >= i-lookBack; j-- {
		if steps[j].Kind == probity.KindToolCall && c.resultFor(j) == i {
			failedCall = j
			break
		}
	}
	var reached []int
	spoke := -1
	for j := i + 1; j < len(steps) && j <= i+lookAhead && len(reached) < 8; j++ {
		s := &steps[j]
		if !isAgent(s) {
			if s.Kind == probity.KindUser && !isObservation(s) {
				// A person spoke before the agent said anything to them:
				// they now drive the conversation.
				return probity.Finding{}, false
			}
			continue
		}
		if failedCall >= 0 && s.Pos.Index == steps[failedCall].Pos.Index {
			continue
		}
		if s.Kind == probity.KindToolCall && s.Tool != nil && failedCall >= 0 && isRetry(steps[failedCall].Tool, s.Tool) {
			return probity.Finding{}, false // a retry addresses it
		}
		// Agents react to a failure first thing; what a long message says
		// further on is about other matters. A claim of success that comes
		// before any acknowledgement is the swallow itself.
		text := head(agentText(s), reactionWindow)
		ack := firstAck(text, fail.quote)
		if claim, at, ok := claimsSuccessAt(head(messageText(s), reactionWindow)); ok && speaksToUser(s) && (ack < 0 || at < ack) {
			reached = append(reached, j)
			return c.finding(i, probity.Finding{
				Detector:   d.ID(),
				Severity:   probity.SeverityHigh,
				Confidence: 0.9,
				Message:    fmt.Sprintf("%s, yet the agent's next message claims success without mentioning it", describeFailure(steps[i], fail)),
				Evidence: append([]probity.Evidence{
					{Kind: fail.kind, Source: fail.quote, SourceStep: steps[i].Pos.Index, Note: "the result says it failed"},
					{Kind: "success-claim", Source: claim, SourceStep: s.Pos.Index, Note: "the agent says it worked"},
				}, causeOf(c, i, failedCall)...),
				BlastRadius: positions(c, reached),
			}), true
		}
		if ack >= 0 {
			return probity.Finding{}, false
		}
		reached = append(reached, j)
		if speaksToUser(s) && messageText(s) != "" {
			// The agent spoke about something else: the failure is
			// swallowed, but nothing claims it succeeded. Only the tool
			// calls of this same message can still retry it.
			spoke = s.Pos.Index
		}
		if spoke >= 0 && (j+1 >= len(steps) || steps[j+1].Pos.Index != spoke) {
			break
		}
	}
	sev := probity.SeverityMedium
	msg := fmt.Sprintf("%s and the agent goes on without addressing it", describeFailure(steps[i], fail))
	if len(reached) == 0 {
		msg = fmt.Sprintf("%s and the run ends without the agent addressing it", describeFailure(steps[i], fail))
	}
	return c.finding(i, probity.Finding{
		Detector:    d.ID(),
		Severity:    sev,
		Confidence:  0.6,
		Message:     msg,
		Evidence:    append([]probity.Evidence{{Kind: fail.kind, Source: fail.quote, SourceStep: steps[i].Pos.Index, Note: "the result says it failed"}}, causeOf(c, i, failedCall)...),
		BlastRadius: positions(c, reached),
	}), true
}

// causeOf names the action that produced the failed result at step i: the
// tool call it answers, or else (a shell transcript, a group chat's code
// runner) the agent step just before it. RootCause starts the chain there.
func causeOf(c *Context, i, call int) []probity.Evidence {
	steps := c.Trace.Steps
	if call < 0 {
		for j := i - 1; j >= 0 && j >= i-3; j-- {
			if isAgent(&steps[j]) {
				call = j
				break
			}
			if !isObservation(&steps[j]) {
				break
			}
		}
	}
	if call < 0 {
		return nil
	}
	s := &steps[call]
	ev := probity.Evidence{Kind: EvidenceCause, SourceStep: s.Pos.Index, Note: "the action that failed"}
	if s.Tool != nil {
		ev.Value = s.Tool.Name
		ev.Source = clip(argsText(s.Tool), 160)
	} else {
		ev.Source = clip(firstLine(s.Content), 160)
	}
	return []probity.Evidence{ev}
}

// lookBack and lookAhead bound how far from a failed result a detector
// looks for its call and for the agent's reaction, so that a trace of a
// million steps costs linear time.
const (
	lookBack  = 256
	lookAhead = 256
)

// reactionWindow is how much of the agent's next words are read for its
// reaction to a failure.
const reactionWindow = 400

// firstAck returns the offset of the first acknowledgement of the failure in
// text (a word like "error" or "unable", or a distinctive word of the
// failure itself), or -1.
func firstAck(text, quote string) int {
	at := -1
	var buf []byte
	for _, loc := range reAcknowledge.findAll(text, lowerBytes(text, &buf), 16) {
		if !deniesProblem(text, loc[0], loc[1]) {
			at = loc[0]
			break
		}
	}
	if m := mentionsFailureAt(text, quote); m >= 0 && (at < 0 || m < at) {
		at = m
	}
	return at
}

// deniesProblem reports whether the problem word at text[a:b] is denied
// rather than admitted: "without errors", "no failures", "the error is
// gone", "fixes the exception". Such words claim success; counting them as
// an acknowledgement let a coding agent's "runs without any errors" after
// a traceback pass as having addressed it.
func deniesProblem(text string, a, b int) bool {
	before := strings.ToLower(text[max(0, a-28):a])
	after := strings.ToLower(text[b:min(len(text), b+24)])
	for _, p := range []string{"no ", "without ", "without any ", "zero ", "0 ", "no more ", "no longer ", "free of ", "fixes ", "fixed ", "resolves ", "resolved ", "solves ", "solved "} {
		if strings.HasSuffix(before, p) || strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(before, "the "), "that "), p) {
			return true
		}
	}
	for _, p := range []string{" is gone", " is fixed", " is resolved", " has been fixed", " has been resolved", " no longer", " are gone", " are fixed", " disappeared", " has disappeared", " went away"} {
		if strings.HasPrefix(after, p) {
			return true
		}
	}
	return false
}

// isRetry reports whether call b repeats call a closely enough to be a
// retry: the same tool and the same target. The target is named by the
// arguments whose keys end in "id" (order_id, reservation_id); without such
// keys, by the values that carry digits; without those, by all values. A
// retry usually changes one thing, such as the payment method; calling the
// same tool on the next order is not a retry.
func isRetry(a, b *probity.ToolCall) bool {
	if a == nil || b == nil || a.Name != b.Name {
		return false
	}
	av, bv := leafValues(a), leafValues(b)
	if len(av) == 0 {
		return true
	}
	var ids, digits []kv
	for _, x := range av {
		k := strings.ToLower(x.key)
		if k == "id" || strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "-id") || strings.HasSuffix(x.key, "Id") || strings.HasSuffix(x.key, "ID") {
			ids = append(ids, x)
		} else if strings.ContainsAny(x.val, "0123456789") {
			digits = append(digits, x)
		}
	}
	has := map[kv]bool{}
	for _, x := range bv {
		has[x] = true
	}
	// The payment method is what a retry typically swaps; the other ids
	// name the target and must all be the same.
	var target []kv
	for _, x := range ids {
		k := strings.ToLower(x.key)
		if !strings.Contains(k, "payment") && !strings.Contains(k, "method") && !strings.Contains(k, "card") {
			target = append(target, x)
		}
	}
	if len(target) > 0 {
		for _, x := range target {
			if !has[x] {
				return false
			}
		}
		return true
	}
	if len(digits) > 0 {
		av = digits
	}
	n := 0
	for _, x := range av {
		if has[x] {
			n++
		}
	}
	return 2*n >= len(av)
}

type kv struct{ key, val string }

// leafValues returns the scalar values in a call's JSON arguments with the
// key that holds each.
func leafValues(t *probity.ToolCall) []kv {
	var v any
	if len(t.Args) == 0 || json.Unmarshal(t.Args, &v) != nil {
		if t.RawArgs != "" {
			return []kv{{"", t.RawArgs}}
		}
		return nil
	}
	var out []kv
	var walk func(string, any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			if x != "" {
				out = append(out, kv{key, x})
			}
		case float64, bool:
			out = append(out, kv{key, fmt.Sprint(x)})
		}
	}
	walk("", v)
	return out
}

// mentionsFailureAt returns the offset in text of a distinctive word of the
// failure quote (an identifier or number such as "HAT030", "SECRET_KEY",
// "305": what an agent repeats when it reacts), or -1.
func mentionsFailureAt(text, quote string) int {
	for _, w := range strings.FieldsFunc(quote, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
	}) {
		if len(w) < 3 || !distinctive(w) {
			continue
		}
		if k := strings.Index(text, w); k >= 0 {
			return k
		}
	}
	return -1
}

// distinctive reports whether w looks like an identifier or a number rather
// than an English word: it has a digit, an underscore, or an inner capital.
func distinctive(w string) bool {
	if strings.ContainsAny(w, "0123456789_") {
		return true
	}
	for i := 1; i < len(w); i++ {
		if w[i] >= 'A' && w[i] <= 'Z' {
			return true
		}
	}
	return false
}

func describeFailure(s probity.Step, f failure) string {
	what := "a tool result"
	if s.Tool != nil && s.Tool.Name != "" {
		what = "the " + s.Tool.Name + " result"
	} else if s.Kind == probity.KindUser {
		what = "the command output"
	}
	switch f.kind {
	case "failing-tests":
		return what + " shows failing tests"
	case "non-zero-exit":
		return what + " shows a failed command"
	case "exception":
		return what + " shows an exception"
	case "http-status":
		return what + " carries an HTTP error status"
	}
	return what + " is an error"
}

// speaksToUser reports whether s is a message (not a tool call): what the
// agent tells the user or its team.
func speaksToUser(s *probity.Step) bool {
	return s.Kind == probity.KindAssistant || s.Kind == probity.KindFinal
}

// messageText is the text of a message step, or "" for tool calls.
func messageText(s *probity.Step) string {
	if s.Kind == probity.KindToolCall {
		return ""
	}
	return s.Content
}

func positions(c *Context, idx []int) []int {
	out := make([]int, 0, len(idx))
	last := -1
	for _, j := range idx {
		p := c.Trace.Steps[j].Pos.Index
		if p != last {
			out = append(out, p)
			last = p
		}
	}
	return out
}
