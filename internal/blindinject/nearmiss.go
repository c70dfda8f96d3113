package blindinject

import (
	"fmt"
	"regexp"
	"strings"
)

// sideEffecting guesses from a tool's name whether calling it changes the
// world. The injector needs its own guess (it may not use the detectors'),
// and only uses it to choose where to plant.
func sideEffecting(name string) bool {
	words := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' })
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "get", "list", "search", "find", "lookup", "read", "fetch", "query", "calculate", "think", "describe", "show", "check", "view":
		return false
	}
	for _, w := range words {
		switch w {
		case "cancel", "modify", "update", "exchange", "return", "book", "send", "transfer", "create", "delete", "remove",
			"refund", "pay", "charge", "submit", "write", "apply", "issue", "add", "post", "reset", "move", "grant",
			"approve", "edit", "upgrade", "change", "place":
			return true
		}
	}
	return false
}

var nearMissVariants = []variant{
	{"digit-slip", func(p *planter) (string, error) { return p.nearMiss(mutation{"one digit off by one", digitSlip}) }},
	{"transposition", func(p *planter) (string, error) {
		return p.nearMiss(mutation{"two adjacent characters swapped", transpose})
	}},
	{"dropped-or-doubled-digit", func(p *planter) (string, error) {
		return p.nearMiss(mutation{"a digit dropped or written twice", dropOrDouble})
	}},
	{"look-alike-character", func(p *planter) (string, error) {
		return p.nearMiss(mutation{"a character swapped for a look-alike", lookalike})
	}},
	{"made-up-same-shape", func(p *planter) (string, error) {
		return p.nearMiss(mutation{"an id of the right shape that no record has", sameShape})
	}},
	{"other-record", func(p *planter) (string, error) { return p.nearMissOtherRecord() }},
}

// idTarget is an id argument of a side-effecting call.
type idTarget struct {
	rec  int // record of the call
	leaf leaf
}

// sideEffectIDs lists the id arguments of side-effecting calls that the
// agent had read in its inputs: a value already made up in the base run is
// no place to plant a near miss.
func (p *planter) sideEffectIDs() []idTarget {
	var out []idTarget
	for i, m := range p.ms {
		c := m.call()
		if c == nil || m.calls() != 1 || !sideEffecting(c.Tool.Name) {
			continue
		}
		seen := map[string]bool{}
		in := p.inputsBefore(i)
		for _, l := range stringLeaves(c.Tool.Args) {
			if isID(l.key, l.value) && !seen[l.value] && containsToken(in, strings.TrimPrefix(l.value, "#")) {
				seen[l.value] = true
				out = append(out, idTarget{i, l})
			}
		}
	}
	return out
}

// nearMiss corrupts one id argument of a side-effecting call with mut. The
// corrupted id must appear nowhere in the trace, so it is a near miss and
// not another record's id.
func (p *planter) nearMiss(mut mutation) (string, error) {
	ts := p.sideEffectIDs()
	all := p.allText()
	for _, k := range p.rng.Perm(len(ts)) {
		t := ts[k]
		for range 4 {
			repl, ok := mut.f(p.rng, t.leaf.value)
			if !ok {
				break
			}
			if repl == t.leaf.value || strings.Contains(all, repl) || strings.Contains(all, strings.TrimPrefix(repl, "#")) {
				continue
			}
			return p.swapCallID(t, repl, mut.name), nil
		}
	}
	return "", errNA
}

var tokenRE = regexp.MustCompile(`#?[A-Za-z0-9_]+`)
var flightNumber = regexp.MustCompile(`^[A-Z]{3}\d{3,4}$`)

// nearMissOtherRecord puts in place of an id another id of the same shape
// that the agent had seen in its inputs: the user's other order, another
// item of the same order, another payment method. The value is real; it
// names the wrong record.
func (p *planter) nearMissOtherRecord() (string, error) {
	ts := p.sideEffectIDs()
	for _, k := range p.rng.Perm(len(ts)) {
		t := ts[k]
		if repl := p.otherRecordID(t); repl != "" {
			return p.swapCallID(t, repl, "a real id of another record the agent had seen"), nil
		}
	}
	return "", errNA
}

// otherRecordID returns an id of the same shape as t's that the agent saw
// in its inputs before the call and never wrote itself, or "".
func (p *planter) otherRecordID(t idTarget) string {
	var agent strings.Builder
	for _, m := range p.ms {
		if m.isAgent() {
			agent.WriteString(m.text())
			if c := m.call(); c != nil {
				agent.Write(c.Tool.Args)
			}
		}
	}
	wrote := agent.String()
	shape := shapeOf(t.leaf.value)
	var cands []string
	seen := map[string]bool{}
	for _, tok := range tokenRE.FindAllString(p.inputsBefore(t.rec), -1) {
		if tok == t.leaf.value || seen[tok] || shapeOf(tok) != shape || strings.Contains(wrote, strings.TrimPrefix(tok, "#")) {
			continue
		}
		if flightNumber.MatchString(tok) != flightNumber.MatchString(t.leaf.value) {
			continue
		}
		seen[tok] = true
		cands = append(cands, tok)
	}
	if len(cands) == 0 {
		return ""
	}
	return pick(p.rng, cands)
}

// swapCallID writes repl for the id in the call and in its result (the tool
// acted on the record repl names and echoes it).
func (p *planter) swapCallID(t idTarget, repl, how string) string {
	m := p.ms[t.rec]
	c := m.call()
	c.Tool.Args, _ = replaceJSONString(c.Tool.Args, t.leaf.value, repl)
	m.role |= roleStep
	if j := p.resultOf(t.rec); j >= 0 {
		r := &p.ms[j].steps[0]
		r.Content, _ = replaceToken(r.Content, t.leaf.value, repl)
		p.ms[j].role |= roleReach
	}
	return fmt.Sprintf("%s %q written as %q in %s (%s)", t.leaf.key, t.leaf.value, repl, c.Tool.Name, how)
}
