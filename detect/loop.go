package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/probity/probity"
)

// Loop finds an agent going round in circles: the same tool call repeated
// with nothing changed in between (a read that cannot answer differently, or
// worse, a side-effecting action done twice), a cycle of calls repeated three
// times, and the same message sent again and again.
//
// A repeated call is only a loop when nothing could have changed its answer:
// no user message and no successful side-effecting call lies between the two
// calls, and where both results are known they are identical. Re-reading a
// reservation after modifying it is progress, not a loop.
type Loop struct{}

// ID returns "loop".
func (Loop) ID() string { return "loop" }

type callSig struct {
	step int    // index into Trace.Steps
	sig  string // tool name and canonical arguments
	res  int    // index of its result, or -1
	ep   int    // the epoch it was made in
}

// Detect implements Detector.
func (d Loop) Detect(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	var calls []callSig
	lastCycle := -1 // the call count at which the last cycle was reported
	// epoch counts events that can legitimately change what a call returns:
	// a person speaking, a side-effecting call succeeding.
	epoch := 0
	lastSeen := map[string]struct{ call, epoch int }{}
	noOps := map[string]*noOpSeen{}
	for i := range steps {
		s := &steps[i]
		switch {
		case s.Kind == probity.KindUser && !isObservation(s):
			epoch++
		case s.Kind == probity.KindToolCall && s.Tool != nil:
			if c.noOp(s.Tool.Name) {
				// Thinking aloud is not acting, so it neither joins the
				// call sequence nor moves the epoch; thinking the same
				// thought again and again is a stall.
				if f, ok := d.noOpRepeat(c, i, epoch, noOps); ok {
					out = append(out, f)
				}
				continue
			}
			cs := callSig{step: i, sig: signature(s.Tool), res: c.resultFor(i), ep: epoch}
			calls = append(calls, cs)
			side := c.SideEffecting(s.Tool.Name)
			// A tool of unknown class (a shell, a browser) may change the
			// world too: after it, only an immediate identical repeat with
			// an identical answer is a loop.
			mayChange := side || c.class(s.Tool.Name) == ClassUnknown
			if prev, ok := lastSeen[cs.sig]; ok && prev.epoch == epoch {
				p := calls[prev.call]
				// An unknown answer is no evidence that anything changed.
				same := p.res < 0 || cs.res < 0 || steps[p.res].Content == steps[cs.res].Content
				if same {
					sev, msg := probity.SeverityMedium, fmt.Sprintf("repeats the identical %s call of step %d with nothing changed in between", s.Tool.Name, steps[p.step].Pos.Index)
					if side && p.res >= 0 && c.failed(p.res) {
						msg = fmt.Sprintf("retries the failed %s call of step %d unchanged", s.Tool.Name, steps[p.step].Pos.Index)
					} else if side {
						sev, msg = probity.SeverityHigh, fmt.Sprintf("repeats the side-effecting %s call of step %d with the same arguments: the action may have happened twice", s.Tool.Name, steps[p.step].Pos.Index)
					}
					out = append(out, c.finding(i, probity.Finding{
						Detector: d.ID(), Severity: sev, Confidence: 0.8, Message: msg,
						Evidence: []probity.Evidence{
							{Kind: "tool-call", Value: s.Tool.Name, Source: clip(argsText(steps[p.step].Tool), 200), SourceStep: steps[p.step].Pos.Index, Note: "first call"},
							{Kind: "tool-call", Value: s.Tool.Name, Source: clip(argsText(s.Tool), 200), SourceStep: s.Pos.Index, Note: "identical repeat"},
						},
					}))
				}
			}
			if prev, ok := lastSeen[cs.sig]; ok && prev.epoch != epoch && side {
				// The same action again after the conversation moved on:
				// a double booking or refund unless someone asked for it.
				p := calls[prev.call]
				if p.res < 0 || !c.failed(p.res) {
					out = append(out, c.finding(i, probity.Finding{
						Detector: d.ID(), Severity: probity.SeverityMedium, Confidence: 0.6,
						Message: fmt.Sprintf("repeats the side-effecting %s call of step %d with the same arguments after it succeeded", s.Tool.Name, steps[p.step].Pos.Index),
						Evidence: []probity.Evidence{
							{Kind: "tool-call", Value: s.Tool.Name, Source: clip(argsText(steps[p.step].Tool), 200), SourceStep: steps[p.step].Pos.Index, Note: "first call, which succeeded"},
							{Kind: "tool-call", Value: s.Tool.Name, Source: clip(argsText(s.Tool), 200), SourceStep: s.Pos.Index, Note: "identical repeat"},
						},
					}))
				}
			}
			if mayChange && (cs.res < 0 || !c.failed(cs.res)) {
				epoch++
			}
			lastSeen[cs.sig] = struct{ call, epoch int }{len(calls) - 1, epoch}
			if f, p, ok := d.cycle(c, calls); ok && len(calls)-lastCycle >= p {
				// Report a cycle once, not again on each call that extends it.
				if lastCycle < 0 || len(calls)-lastCycle > 1 {
					out = append(out, f)
				}
				lastCycle = len(calls)
			}
		}
	}
	out = append(out, d.repeatedMessages(c)...)
	out = append(out, d.stalls(c, calls)...)
	return strongestPerStep(out)
}

// noOpRun is how many identical scratchpad calls make a stall: thinking
// the same thought twice happens in successful runs (τ-bench airline has
// one), three times is going round in circles.
const noOpRun = 3

// noOpSeen counts the identical calls of one scratchpad tool in one epoch.
type noOpSeen struct{ first, count, epoch int }

// noOpRepeat reports a scratchpad call (think, plan, reflect: see
// toolclass.NoOp) at step i that repeats an earlier one with the same
// normalised arguments in the same epoch, for the noOpRun-th time or more.
// Such a call can produce nothing the first did not, so the agent is
// marking time. Every call from the noOpRun-th on is reported, each high
// as a cycle of three is (Loop.cycle).
func (d Loop) noOpRepeat(c *Context, i, epoch int, seen map[string]*noOpSeen) (probity.Finding, bool) {
	steps := c.Trace.Steps
	s := &steps[i]
	key := noOpKey(s.Tool)
	e := seen[key]
	if e == nil || e.epoch != epoch {
		seen[key] = &noOpSeen{first: i, count: 1, epoch: epoch}
		return probity.Finding{}, false
	}
	e.count++
	if e.count < noOpRun {
		return probity.Finding{}, false
	}
	first := &steps[e.first]
	return c.finding(i, probity.Finding{
		Detector: d.ID(), Severity: probity.SeverityHigh, Confidence: 0.85,
		Message: fmt.Sprintf("the agent is stalling: %s called for the %s time with the same arguments as at step %d, with nothing changed in between",
			s.Tool.Name, ordinal(e.count), first.Pos.Index),
		Evidence: []probity.Evidence{
			{Kind: "tool-call", Value: first.Tool.Name, Source: clip(argsText(first.Tool), 200), SourceStep: first.Pos.Index, Note: "first call"},
			{Kind: "tool-call", Value: s.Tool.Name, Source: clip(argsText(s.Tool), 200), SourceStep: s.Pos.Index, Note: "identical repeat"},
		},
	}), true
}

// noOpKey is a scratchpad call's identity: its signature with ASCII case
// and runs of white space folded, so a thought re-typed with other spacing
// or capitals is the same thought.
func noOpKey(t *probity.ToolCall) string {
	sig := strings.ToLower(signature(t))
	return strings.Join(strings.Fields(strings.ReplaceAll(sig, `\n`, " ")), " ")
}

func ordinal(n int) string {
	switch n {
	case 2:
		return "second"
	case 3:
		return "third"
	case 4:
		return "fourth"
	case 5:
		return "fifth"
	}
	return fmt.Sprintf("%dth", n)
}

// strongestPerStep keeps, for each step, only the most severe finding, so a
// stall reported on a call that is also a repeat does not say it twice.
func strongestPerStep(fs []probity.Finding) []probity.Finding {
	best := map[int]int{}
	var out []probity.Finding
	for _, f := range fs {
		if k, ok := best[f.StepIndex]; ok {
			if f.Severity > out[k].Severity {
				out[k] = f
			}
			continue
		}
		best[f.StepIndex] = len(out)
		out = append(out, f)
	}
	return out
}

// cycle looks for the last 3p calls forming three repetitions of a period
// p in 1..4 (A A A, A B A B A B, ...), reported on the call that completes
// the third repetition.
func (d Loop) cycle(c *Context, calls []callSig) (probity.Finding, int, bool) {
	n := len(calls)
	for p := 1; p <= 4; p++ {
		if n < 3*p {
			break
		}
		ok := calls[n-1].ep == calls[n-3*p].ep
		for k := 0; k < 2*p && ok; k++ {
			a, b := calls[n-1-k], calls[n-1-k-p]
			ok = a.sig == b.sig && (a.res < 0 || b.res < 0 || c.Trace.Steps[a.res].Content == c.Trace.Steps[b.res].Content)
		}
		if !ok {
			continue
		}
		// Period p must be minimal, and an earlier overlapping report of
		// the same cycle suffices.
		if p > 1 && allSame(calls[n-p:]) {
			continue
		}
		last := calls[n-1].step
		steps := c.Trace.Steps
		var names []string
		for _, cs := range calls[n-p:] {
			names = append(names, steps[cs.step].Tool.Name)
		}
		return c.finding(last, probity.Finding{
			Detector: d.ID(), Severity: probity.SeverityHigh, Confidence: 0.85,
			Message: fmt.Sprintf("the agent is stuck: the call sequence [%s] repeated 3 times", strings.Join(names, " → ")),
			Evidence: []probity.Evidence{
				{Kind: "cycle", Value: strings.Join(names, " → "), SourceStep: steps[calls[n-3*p].step].Pos.Index, Note: "cycle starts here"},
			},
			BlastRadius: positions(c, stepsOf(calls[n-3*p:])),
		}), p, true
	}
	return probity.Finding{}, 0, false
}

func allSame(cs []callSig) bool {
	for _, x := range cs[1:] {
		if x.sig != cs[0].sig {
			return false
		}
	}
	return true
}

func stepsOf(cs []callSig) []int {
	out := make([]int, len(cs))
	for i, x := range cs {
		out[i] = x.step
	}
	return out
}

// stallRun is how many consecutive calls of one tool without progress make
// a stall.
const stallRun = 4

// stalls finds near-identical retries: a run of stallRun or more calls of
// the same tool, nobody else speaking in between, each answered by a
// failure or by the same answer as before. The arguments may differ (a
// search reworded again and again); the lack of progress is the signal.
func (d Loop) stalls(c *Context, calls []callSig) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	start := 0
	for k := 1; k <= len(calls); k++ {
		if k < len(calls) && d.sameStall(c, calls[k-1], calls[k]) {
			continue
		}
		if n := k - start; n >= stallRun {
			first, last := calls[start], calls[k-1]
			name := steps[first.step].Tool.Name
			out = append(out, c.finding(last.step, probity.Finding{
				Detector: d.ID(), Severity: probity.SeverityMedium, Confidence: 0.7,
				Message: fmt.Sprintf("the agent is stalling: %d calls to %s in a row, none making progress", n, name),
				Evidence: []probity.Evidence{
					{Kind: "stall", Value: name, Source: clip(steps[first.res].Content, 160), SourceStep: steps[first.step].Pos.Index, Note: "the first of the calls and its answer"},
				},
				BlastRadius: positions(c, stepsOf(calls[start:k])),
			}))
		}
		start = k
	}
	return out
}

// sameStall reports whether call b continues a stall that call a is part
// of: same tool, same epoch, both answered, and b's answer is a failure or
// equal to a's.
func (d Loop) sameStall(c *Context, a, b callSig) bool {
	steps := c.Trace.Steps
	if a.res < 0 || b.res < 0 || a.ep != b.ep || steps[a.step].Tool.Name != steps[b.step].Tool.Name {
		return false
	}
	bothFailed := c.failed(a.res) && c.failed(b.res)
	return bothFailed || steps[a.res].Content == steps[b.res].Content
}

// repeatedMessages finds the agent sending the same substantial message
// (after normalising case and spacing) three or more times.
func (d Loop) repeatedMessages(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	type seen struct{ first, count int }
	m := map[uint64]*seen{}
	var out []probity.Finding
	for i := range steps {
		s := &steps[i]
		if !speaksToUser(s) || len(s.Content) < 40 {
			continue
		}
		key := messageKey(s.Actor, s.Content)
		e := m[key]
		if e == nil {
			m[key] = &seen{first: i, count: 1}
			continue
		}
		e.count++
		// Saying the same thing again is often just style ("Running the
		// tests again."); only a long run of it is a stall worth a verdict.
		if e.count == 3 || e.count == 5 {
			sev := probity.SeverityLow
			if e.count == 5 {
				sev = probity.SeverityMedium
			}
			out = append(out, c.finding(i, probity.Finding{
				Detector: d.ID(), Severity: sev, Confidence: 0.6,
				Message: fmt.Sprintf("the agent sends the same message for the %s time (first at step %d)", map[int]string{3: "third", 5: "fifth"}[e.count], steps[e.first].Pos.Index),
				Evidence: []probity.Evidence{
					{Kind: "message", Source: clip(s.Content, 160), SourceStep: steps[e.first].Pos.Index, Note: "first sent here"},
				},
			}))
		}
	}
	return out
}

// messageKey identifies a message by its actor and its first 4 KiB with
// ASCII case and runs of white space ignored, as a 64-bit FNV-1a hash: two
// messages that differ only in spacing or case are the same message.
func messageKey(actor, s string) uint64 {
	h := uint64(14695981039346656037)
	add := func(b byte) { h = (h ^ uint64(b)) * 1099511628211 }
	for i := 0; i < len(actor); i++ {
		add(actor[i])
	}
	add(0)
	s = strings.TrimSpace(head(s, 4096))
	space := false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			space = true
			continue
		case 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		}
		if space {
			add(' ')
			space = false
		}
		add(b)
	}
	return h
}

// signature is a tool call's identity: its name and its arguments with
// object keys sorted and insignificant whitespace removed, so that
// {"a":1, "b":2} and {"b": 2,"a": 1} are the same call.
func signature(t *probity.ToolCall) string {
	if len(t.Args) > 0 {
		// One level of keys is sorted; values are compacted as they are.
		// That is enough to equate the key orders agents and logs produce,
		// and much cheaper than decoding the whole document.
		var m map[string]json.RawMessage
		if json.Unmarshal(t.Args, &m) == nil {
			keys := slices.Sorted(maps.Keys(m))
			var b bytes.Buffer
			b.WriteString(t.Name)
			b.WriteByte(0)
			for _, k := range keys {
				b.WriteString(k)
				b.WriteByte(':')
				if json.Compact(&b, m[k]) != nil {
					b.Write(m[k])
				}
				b.WriteByte(',')
			}
			return b.String()
		}
		var buf bytes.Buffer
		if json.Compact(&buf, t.Args) == nil {
			return t.Name + "\x00" + buf.String()
		}
		return t.Name + "\x00" + string(t.Args)
	}
	return t.Name + "\x00" + strings.TrimSpace(t.RawArgs)
}

func argsText(t *probity.ToolCall) string {
	if len(t.Args) > 0 {
		return string(t.Args)
	}
	return t.RawArgs
}
