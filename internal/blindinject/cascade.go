package blindinject

import (
	"fmt"
	"strings"
)

var cascadeVariants = []variant{
	{"corrupted-in-lookup", func(p *planter) (string, error) { return p.cascade(originLookup, false) }},
	{"corrupted-in-scratchpad", func(p *planter) (string, error) { return p.cascade(originScratchpad, false) }},
	{"corrupted-in-message", func(p *planter) (string, error) { return p.cascade(originMessage, false) }},
	{"other-record-carried", func(p *planter) (string, error) {
		return p.cascade(pick(p.rng, []originKind{originLookup, originScratchpad, originMessage}), true)
	}},
}

type originKind int

const (
	originLookup     originKind = iota // a read call's argument
	originScratchpad                   // a note the agent writes to a no-op tool
	originMessage                      // the agent's message to the user
)

// cascadeMutations are the corruptions a carried value can suffer; the
// other-record one is handled apart.
var cascadeMutations = []mutation{
	{"one digit off by one", digitSlip},
	{"two adjacent characters swapped", transpose},
	{"a character swapped for a look-alike", lookalike},
	{"an id of the right shape that no record has", sameShape},
}

// mentionsID reports whether an agent record writes id (in prose or in
// arguments).
func mentionsID(m *msg, id string) bool {
	for _, s := range m.steps {
		if containsToken(s.Content, id) || containsToken(s.Content, strings.TrimPrefix(id, "#")) {
			return true
		}
		if s.Tool != nil && strings.Contains(string(s.Tool.Args), string(jsonString(id))) {
			return true
		}
	}
	return false
}

// cascade corrupts an id that a side-effecting call later uses, at an
// origin before it, and carries the corruption into every later step the
// agent writes and every result that answers a call made with it.
func (p *planter) cascade(kind originKind, otherRecord bool) (string, error) {
	st := p.style()
	if st.bash {
		return "", errNA
	}
	ts := p.sideEffectIDs()
	all := p.allText()
	for _, k := range p.rng.Perm(len(ts)) {
		t := ts[k]
		v := t.leaf.value
		// Where the agent first read the id, and the agent records that
		// write it after that and up to the action.
		seen := -1
		for x := 0; x < t.rec; x++ {
			if !p.ms[x].isAgent() && containsToken(p.ms[x].text(), strings.TrimPrefix(v, "#")) {
				seen = x
				break
			}
		}
		if seen < 0 {
			continue
		}
		origin := -1
		switch kind {
		case originLookup:
			var cands []int
			for x := seen + 1; x < t.rec; x++ {
				if c := p.ms[x].call(); c != nil && !sideEffecting(c.Tool.Name) && !isNoop(c.Tool.Name) &&
					strings.Contains(string(c.Tool.Args), string(jsonString(v))) {
					cands = append(cands, x)
				}
			}
			if len(cands) == 0 {
				continue
			}
			origin = pick(p.rng, cands)
		case originMessage:
			var cands []int
			for x := seen + 1; x < t.rec; x++ {
				if p.ms[x].isAssistant() && mentionsID(p.ms[x], v) {
					cands = append(cands, x)
				}
			}
			if len(cands) == 0 {
				continue
			}
			origin = pick(p.rng, cands)
		case originScratchpad:
			origin = t.rec
			for x := seen + 1; x < t.rec; x++ {
				if p.ms[x].isAgent() && mentionsID(p.ms[x], v) {
					origin = x
					break
				}
			}
		}
		var repl, how string
		if otherRecord {
			repl, how = p.otherRecordID(t), "a real id of another record the agent had seen"
		} else {
			mut := pick(p.rng, cascadeMutations)
			for range 4 {
				r, ok := mut.f(p.rng, v)
				if ok && r != v && !strings.Contains(all, r) && !strings.Contains(all, strings.TrimPrefix(r, "#")) {
					repl, how = r, mut.name
					break
				}
			}
		}
		if repl == "" {
			continue
		}
		if kind == originScratchpad {
			thought := pick(p.rng, []string{
				"The user wants to change %s %s. I'll double-check the details before making the change.",
				"Working on %s %s: confirm the details and the total with the user, then proceed.",
				"Noting for later: %s %s. Make sure the user has confirmed before calling the tool.",
			})
			c, id := p.callMsg(origin, st, "think", obj("thought", fmt.Sprintf(thought, noun(t.leaf.key), repl)), "")
			r := resultMsg(st, "think", id, "")
			c.role |= roleStep
			p.insert(origin, c, r)
			t.rec += 2
			// The note is the origin; the carrying starts after it.
			origin += 2
		} else {
			// The origin itself is corrupted, then everything after it.
			p.ms[origin].role |= roleStep
		}
		n := p.carry(origin, v, repl)
		if n == 0 || !p.ms[t.rec].hasRole(roleReach|roleStep) {
			return "", errNA
		}
		return fmt.Sprintf("id %q becomes %q (%s) at the %s and is carried into %d later step(s), including %s",
			v, repl, how, [...]string{"lookup", "scratchpad note", "message to the user"}[kind], n, p.ms[t.rec].toolName()), nil
	}
	return "", errNA
}

func (m *msg) hasRole(r role) bool { return m.role&r != 0 }

// noun names what an id argument identifies, for the agent's notes.
func noun(key string) string {
	k := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(key), "s"), "_id")
	k = strings.TrimSuffix(k, "_number")
	return strings.ReplaceAll(k, "_", " ")
}

// carry writes repl for v in every agent record from index start on, and in
// the results of calls made with repl. It marks the first changed record as
// the origin when none is marked and the others as reached, and returns how
// many records changed after the origin.
func (p *planter) carry(start int, v, repl string) int {
	n := 0
	for x := start; x < len(p.ms); x++ {
		m := p.ms[x]
		changed := false
		if m.isAgent() {
			for si := range m.steps {
				s := &m.steps[si]
				var c int
				s.Content, c = replaceToken(s.Content, v, repl)
				changed = changed || c > 0
				if s.Tool != nil && len(s.Tool.Args) > 0 {
					var ok bool
					s.Tool.Args, ok = replaceJSONString(s.Tool.Args, v, repl)
					changed = changed || ok
				}
			}
			if c := m.call(); c != nil && strings.Contains(string(c.Tool.Args), string(jsonString(repl))) {
				if r := p.resultOf(x); r >= 0 {
					rs := &p.ms[r].steps[0]
					var k int
					rs.Content, k = replaceToken(rs.Content, v, repl)
					if k > 0 && !p.ms[r].hasRole(roleStep) {
						p.ms[r].role |= roleReach
					}
				}
			}
		}
		if changed && !m.hasRole(roleStep) {
			m.role |= roleReach
			n++
		}
	}
	return n
}
