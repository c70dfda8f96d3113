package blindinject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

var loopVariants = []variant{
	{"repeated-lookup", func(p *planter) (string, error) { return p.repeatLookup(argsSame, "") }},
	{"repeated-lookup-reserialised-args", func(p *planter) (string, error) { return p.repeatLookup(argsReserialised, "") }},
	{"narrated-retry", func(p *planter) (string, error) { return p.repeatLookup(argsSame, "narrate") }},
	{"retry-storm-same-error", func(p *planter) (string, error) { return p.retryStorm() }},
	{"think-stall", func(p *planter) (string, error) { return p.noopStall("think") }},
	{"plan-reflect-stall", func(p *planter) (string, error) {
		return p.noopStall(pick(p.rng, []string{"update_plan", "reflect", "plan"}))
	}},
	{"repeated-shell-command", func(p *planter) (string, error) { return p.repeatShell(false) }},
	{"verbatim-repeated-turn", func(p *planter) (string, error) { return p.repeatShell(true) }},
}

type argsForm int

const (
	argsSame argsForm = iota
	argsReserialised
)

// reserialise writes the same arguments with other bytes: keys in another
// order, or other spacing. The call is identical; its text is not.
func reserialise(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return raw
	}
	keys := orderedKeys(raw)
	var b bytes.Buffer
	b.WriteByte('{')
	compact := bytes.Contains(raw, []byte(`": `))
	for i := range keys {
		k := keys[len(keys)-1-i]
		if i > 0 {
			if compact {
				b.WriteByte(',')
			} else {
				b.WriteString(", ")
			}
		}
		b.Write(jsonString(k))
		if compact {
			b.WriteByte(':')
		} else {
			b.WriteString(": ")
		}
		var v bytes.Buffer
		if compact {
			_ = json.Compact(&v, m[k])
		} else {
			v.Write(m[k])
		}
		b.Write(v.Bytes())
	}
	b.WriteByte('}')
	return b.Bytes()
}

// orderedKeys returns the top-level keys of a JSON object in document order.
func orderedKeys(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// lookupSites returns read-only calls answered by the very next record.
func (p *planter) lookupSites() []int {
	var out []int
	for i, m := range p.ms {
		c := m.call()
		if c == nil || m.calls() != 1 || sideEffecting(c.Tool.Name) || isNoop(c.Tool.Name) || c.Tool.Name == "calculate" {
			continue
		}
		if p.resultOf(i) == i+1 {
			out = append(out, i)
		}
	}
	return out
}

func isNoop(name string) bool {
	switch name {
	case "think", "plan", "reflect", "update_plan", "scratchpad":
		return true
	}
	return false
}

var retryNarration = []string{
	"Let me check that again.",
	"One moment, I'll look that up once more.",
	"Let me retry that lookup to be sure.",
	"I'll pull the details again.",
}

// repeatLookup makes the agent repeat a lookup with identical arguments two
// or three more times, each answered identically.
func (p *planter) repeatLookup(form argsForm, narrate string) (string, error) {
	st := p.style()
	if st.bash {
		return "", errNA
	}
	sites := p.lookupSites()
	if len(sites) == 0 {
		return "", errNA
	}
	i := pick(p.rng, sites)
	orig := p.ms[i].call()
	res := p.ms[i+1].steps[0].Content
	if form == argsReserialised {
		if bytes.Equal(reserialise(orig.Tool.Args), orig.Tool.Args) {
			return "", errNA
		}
	}
	n := 2 + p.rng.IntN(2)
	var ins []*msg
	for k := range n {
		args := bytes.Clone(orig.Tool.Args)
		if form == argsReserialised && k%2 == 0 {
			args = reserialise(orig.Tool.Args)
		}
		prose := ""
		if narrate != "" {
			prose = pick(p.rng, retryNarration)
		}
		c, id := p.callMsg(i+2, st, orig.Tool.Name, args, prose)
		r := resultMsg(st, orig.Tool.Name, id, res)
		if k == 0 {
			c.role |= roleStep
		} else {
			c.role |= roleAt | roleReach
			r.role |= roleReach
		}
		if k == 0 {
			r.role |= roleReach
		}
		ins = append(ins, c, r)
	}
	p.ms[i].role |= roleAt
	p.insert(i+2, ins...)
	return fmt.Sprintf("%s %s called %d more times with identical arguments and identical answers", orig.Tool.Name, string(orig.Tool.Args), n), nil
}

// retryStorm makes a lookup fail the same way three or four times in a row,
// retried each time unchanged, before the answer the run really got.
func (p *planter) retryStorm() (string, error) {
	st := p.style()
	if st.bash {
		return "", errNA
	}
	sites := p.lookupSites()
	if len(sites) == 0 {
		return "", errNA
	}
	i := pick(p.rng, sites)
	orig := p.ms[i].call()
	fail := pick(p.rng, []string{
		`{"error": {"code": 503, "message": "Service temporarily unavailable"}}`,
		"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\n\r\n",
		"rpc error: code = Unavailable desc = upstream connect error",
		"Request timed out after 10000 ms",
	})
	n := 3 + p.rng.IntN(2)
	var ins []*msg
	for k := range n {
		c, id := p.callMsg(i, st, orig.Tool.Name, bytes.Clone(orig.Tool.Args), "")
		r := resultMsg(st, orig.Tool.Name, id, fail)
		switch k {
		case 0:
			c.role |= roleAt
		case 1:
			c.role |= roleStep
		default:
			c.role |= roleAt | roleReach
		}
		if k >= 1 {
			r.role |= roleReach
		}
		ins = append(ins, c, r)
	}
	p.ms[i].role |= roleAt | roleReach
	p.ms[i+1].role |= roleReach
	p.insert(i, ins...)
	return fmt.Sprintf("%s %s called %d times with identical arguments, failing identically (%s), before the call that worked",
		orig.Tool.Name, string(orig.Tool.Args), n+1, firstLine(fail)), nil
}

// noopThoughts are what a stalled agent writes to a no-op tool.
var noopThoughts = []string{
	"I need to verify the details before proceeding with the user's request.",
	"Let me think about which option satisfies the user's constraints.",
	"Check the policy: is this change allowed for this record?",
	"I should confirm the total before asking the user for confirmation.",
}

// noopStall makes the agent call a no-op tool (think, plan, reflect) three
// to five times in a row with identical arguments.
func (p *planter) noopStall(tool string) (string, error) {
	st := p.style()
	if st.bash {
		return "", errNA
	}
	var after []int
	for j, m := range p.ms {
		if m.isResult() && j+1 < len(p.ms) {
			after = append(after, j)
		}
	}
	if len(after) == 0 {
		return "", errNA
	}
	j := pick(p.rng, after)
	var args json.RawMessage
	result := ""
	switch tool {
	case "think":
		thought := pick(p.rng, noopThoughts)
		for _, m := range p.ms {
			if c := m.call(); c != nil && c.Tool.Name == "think" && p.rng.IntN(2) == 0 {
				args = bytes.Clone(c.Tool.Args)
			}
		}
		if args == nil {
			args = obj("thought", thought)
		}
	case "update_plan":
		args = obj("plan", json.RawMessage(`[{"step": "Authenticate the user", "status": "completed"}, {"step": "Look up the record", "status": "in_progress"}, {"step": "Confirm and apply the change", "status": "pending"}]`))
		result = "Plan updated"
	case "reflect":
		args = obj("reflection", pick(p.rng, noopThoughts))
	case "plan":
		args = obj("goal", "Resolve the user's request", "steps", []string{"look up the record", "confirm with the user", "apply the change"})
		result = "OK"
	}
	n := 3 + p.rng.IntN(3)
	var ins []*msg
	for k := range n {
		c, id := p.callMsg(j+1, st, tool, bytes.Clone(args), "")
		r := resultMsg(st, tool, id, result)
		switch k {
		case 0:
			c.role |= roleAt
		case 1:
			c.role |= roleStep
		default:
			c.role |= roleAt | roleReach
		}
		if k >= 1 {
			r.role |= roleReach
		}
		ins = append(ins, c, r)
	}
	p.insert(j+1, ins...)
	return fmt.Sprintf("%s called %d times in a row with identical arguments %s", tool, n, string(args)), nil
}

var readCommand = regexp.MustCompile(`^\s*(cat|grep|ls|sed -n|head|tail|find|git (diff|status|log|show)|nl|wc|python3? -c)\b`)

var lookAgain = []string{
	"THOUGHT: Let me look at this again to make sure I understand it.",
	"THOUGHT: I'll check the output once more.",
	"THOUGHT: Let me re-examine this before making changes.",
	"THOUGHT: I want to double-check this part of the code.",
}

// repeatShell makes a coding agent run the same read command two or three
// more times; verbatim repeats the whole turn, THOUGHT included.
func (p *planter) repeatShell(verbatim bool) (string, error) {
	st := p.style()
	if !st.bash {
		return "", errNA
	}
	var sites []int
	for i, m := range p.ms {
		c := m.call()
		if c == nil || m.textStep() == nil || !readCommand.MatchString(shellCommand(c)) {
			continue
		}
		if p.resultOf(i) == i+1 {
			sites = append(sites, i)
		}
	}
	if len(sites) == 0 {
		return "", errNA
	}
	i := pick(p.rng, sites)
	cmd := shellCommand(p.ms[i].call())
	n := 2 + p.rng.IntN(2)
	var ins []*msg
	for k := range n {
		c := cloneMsg(p.ms[i])
		if !verbatim {
			ts := c.textStep()
			ts.Content = pick(p.rng, lookAgain) + "\n\n```bash\n" + cmd + "\n```"
		}
		r := cloneMsg(p.ms[i+1])
		if k == 0 {
			c.role |= roleStep
			r.role |= roleReach
		} else {
			c.role |= roleAt | roleReach
			r.role |= roleReach
		}
		ins = append(ins, c, r)
	}
	p.ms[i].role |= roleAt
	p.insert(i+2, ins...)
	how := "with a new THOUGHT each time"
	if verbatim {
		how = "repeating the whole turn verbatim"
	}
	return fmt.Sprintf("`%s` run %d more times, %s, with identical output", strings.TrimSpace(cmd), n, how), nil
}
