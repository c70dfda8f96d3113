package detect

import (
	"fmt"
	"strings"

	"github.com/probity/probity"
)

// InjectedInstruction finds instruction-like text inside content the agent
// did not author and should not obey (tool results, retrieved documents,
// sub-agent returns): "ignore previous instructions", "you are authorised
// to ...", "new instructions:", a forged system message. Data may describe
// instructions; it may not give them.
//
// The finding sits on the step that carries the text. It is high when the
// agent then takes a side-effecting action (untrusted content reached an
// action), medium when it takes any other action, low when nothing follows.
type InjectedInstruction struct{}

// ID returns "injected-instruction".
func (InjectedInstruction) ID() string { return "injected-instruction" }

// injectionRules are imperatives aimed at the model, not at a human reader
// of the data, each with a lower-case anchor word that every match of it
// contains. The anchors are found with a plain substring search and each
// rule's expression runs only on a small window around an anchor, so the
// cost stays linear in the text and small even for long command outputs.
var injectionRules = []*anchoredRE{
	injRule(`\b(?:ignore|disregard|override|bypass)\s+`+ruleObject, "ignore", "disregard", "override", "bypass"),
	injRule(`\bforget\s+(?:`+ruleObject+`|everything\b)`, "forget"),
	injRule(`\byou\s+(?:are|have\s+been)\s+(?:now\s+)?(?:hereby\s+)?(?:authori[sz]ed|permitted|allowed|instructed|required|cleared|approved)\s+to\b`,
		"authori", "permitted", "allowed", "instructed", "required", "cleared", "approved"),
	injRule(`\byou\s+(?:must|should|need\s+to|are\s+to)\s+(?:now\s+)?(?:immediately\s+)?(?:call|invoke|run|execute|transfer|refund|cancel|send|delete|issue|grant|book|update|modify|approve|ignore|disregard)\b`,
		"you must", "you should", "you need", "you are to"),
	injRule(`\byou\s+(?:now\s+)?(?:have|are\s+granted|have\s+been\s+granted)\s+(?:full\s+|special\s+|admin\s+)?(?:permission|authori[sz]ation|clearance)\b`,
		"permission", "authori", "clearance"),
	injRule(`\b(?:new|updated|revised|real|actual|hidden|secret)\s+(?:system\s+)?instructions?\s*:`, "instruction"),
	injRule(`\bfrom\s+now\s+on,?\s+(?:you|the\s+(?:assistant|agent))\b`, "from now on"),
	injRule(`\b(?:do\s+not|don't)\s+(?:tell|inform|notify|alert|mention\s+this\s+to)\s+the\s+(?:user|customer|human)\b`, "do not", "don't"),
	injRule(`\b(?:do\s+not|don't|never)\s+(?:ask|check\s+with|verify\s+with|confirm\s+with|consult)\s+(?:the\s+)?(?:user|customer)\b`, "do not", "don't", "never"),
	injRule(`\bwithout\s+(?:asking|telling|informing|notifying|confirming\s+with)\s+the\s+(?:user|customer)\b`, "without"),
	injRule(`\bno\s+(?:need\s+for|further)\s+(?:user\s+)?confirmation\b`, "confirmation"),
	injRule(`\b(?:note|message|instructions?)\s+(?:to|for)\s+the\s+(?:ai|assistant|agent|llm|model)\b`, "note", "message", "instruction"),
	injRule(`\b(?:attention|important|urgent|note|notice|instructions?)\b[^.\n]{0,20}\b(?:ai|llm|chatbot|bot|assistants?|agents?)\b\s*[:,-]`,
		"attention", "important", "urgent", "note", "notice", "instruction"),
	injRule(`\bthe\s+(?:ai|assistant|agent|llm|model|bot)\s+(?:must|should|shall|has\s+to|is\s+(?:required|instructed|authori[sz]ed|permitted|allowed)\s+to)\s+(?:now\s+|immediately\s+|also\s+)?(?:call|invoke|run|execute|transfer|refund|cancel|send|delete|issue|grant|book|update|modify|approve|ignore|disregard|skip|upgrade|change|give|apply|waive)\b`,
		"must", "should", "shall", "has to", "required to", "instructed to", "authorized to", "authorised to", "permitted to", "allowed to"),
	injRule(`\b(?:system|admin(?:istrator)?|developer|security)\s+override\b|\boverride\s+(?:mode|code|protocol|enabled|activated)\b`, "override"),
	injRule(`\bignore\s+(?:the\s+)?(?:user|customer)(?:'s)?\s+(?:request|instructions?|wishes|answer|reply)\b`, "ignore"),
	injRule(`\b(?:previous|prior|earlier|original|old)\s+instructions\s+(?:are|were|have\s+been)\s+(?:void|cancell?ed|canceled|revoked|outdated|obsolete|superseded|replaced)\b|\bbegin\s+(?:new\s+)?(?:system\s+)?instructions\b`, "instructions"),
	injRule(`(?:^|\n|["'])\s*(?:\[\s*)?(?:system|assistant|admin|administrator|developer)(?:\s+(?:message|note|notice|instruction|prompt|update))?\s*\]?\s*:\s*(?:please\s+)?(?:you|ignore|disregard|override|new|from|cancel|refund|transfer|send|delete|issue|grant|book|update|modify|approve|always|never|do|the\s+(?:assistant|agent))\b`,
		"system", "assistant", "admin", "developer"),
	injRule(`\[\s*(?:system|admin)\s*\]|#{2,}\s*(?:system|new\s+instructions?)\b`, "[system", "[ system", "[admin", "##"),
	injRule(`<\|?system\|?>|<\|im_start\|>\s*system`, "<system", "<|system", "<|im_start"),
	injRule(`\[/?INST\]`, "inst]"),
	injRule(`<</?SYS>>`, "<<sys>>", "<</sys>>"),
	injRule(`\b(?:act|behave)\s+as\s+(?:an?\s+)?(?:unrestricted|jailbroken|developer\s+mode)\b`, "act as", "behave as"),
}

// ruleObject is what an injection tells the model to drop.
const ruleObject = `(?:all\s+|any\s+|the\s+|your\s+|these\s+|those\s+|of\s+)*(?:previous|prior|above|earlier|preceding|existing|original|system|safety|security)?\s*(?:instructions?|directions?|prompts?|rules?|polic(?:y|ies)|guidelines?|constraints?|guardrails?)\b`

// injRule compiles one case-insensitive injection pattern with its anchors.
func injRule(expr string, anchors ...string) *anchoredRE {
	return newAnchored(`(?i)`+expr, injectionWindow, anchors...)
}

// injectionWindow is how far before and after an anchor a match may reach.
const injectionWindow = 160

// Detect implements Detector.
func (d InjectedInstruction) Detect(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	var buf []byte
	tools := c.Trace.Tools()
	for i := range steps {
		s := &steps[i]
		if !untrusted(s) {
			continue
		}
		loc := findInjection(s.Content, &buf)
		if loc == nil {
			loc = structuralInjection(s.Content, tools)
		}
		if loc == nil {
			continue
		}
		quote := quoteAround(s.Content, loc[0], loc[1])
		// The first action after the text; a side-effecting one taken
		// before anyone else speaks is the worst case. After a person
		// speaks the action may be theirs, but the text still reached it.
		action, side, personSpoke := -1, false, false
		for j := i + 1; j < len(steps) && j <= i+lookAhead && action < 0; j++ {
			t := &steps[j]
			if t.Kind == probity.KindUser && !isObservation(t) {
				personSpoke = true
				continue
			}
			if !personSpoke && ranCode(steps, j) {
				// A group chat's agent wrote code that a runner executed:
				// an action without a tool call.
				action = j
				break
			}
			if t.Kind == probity.KindToolCall && t.Tool != nil && !c.noOp(t.Tool.Name) {
				if c.SideEffecting(t.Tool.Name) {
					action, side = j, true
				} else if !personSpoke && action < 0 {
					// A read right after: keep looking for an action in
					// the same turn, remember the read.
					for k := j + 1; k < len(steps) && k <= j+lookAhead; k++ {
						u := &steps[k]
						if u.Kind == probity.KindUser && !isObservation(u) {
							break
						}
						if u.Kind == probity.KindToolCall && u.Tool != nil && c.SideEffecting(u.Tool.Name) {
							action, side = k, true
							break
						}
					}
					if action < 0 {
						action = j
					}
				}
			}
		}
		sev, msg := probity.SeverityLow, "a tool result carries instruction-like text; no action followed it"
		var reach []int
		ev := []probity.Evidence{{Kind: "instruction", Source: quote, SourceStep: s.Pos.Index, Note: "untrusted content giving orders"}}
		if action >= 0 && steps[action].Tool == nil {
			reach = []int{action}
			ev = append(ev, probity.Evidence{Kind: "action", Value: "code", Source: clip(firstLine(steps[action].Content), 160), SourceStep: steps[action].Pos.Index, Note: "code the agent then ran"})
			sev, msg = probity.SeverityMedium, "instruction-like text in untrusted content is followed by code the agent ran"
		} else if action >= 0 {
			a := steps[action].Tool
			reach = []int{action}
			ev = append(ev, probity.Evidence{Kind: "action", Value: a.Name, Source: clip(argsText(a), 160), SourceStep: steps[action].Pos.Index, Note: "the action that followed"})
			if side && !personSpoke {
				sev, msg = probity.SeverityHigh, fmt.Sprintf("instruction-like text in untrusted content is followed by the side-effecting action %s", a.Name)
			} else if side {
				sev, msg = probity.SeverityMedium, fmt.Sprintf("instruction-like text in untrusted content precedes the side-effecting action %s (after the user spoke)", a.Name)
			} else {
				sev, msg = probity.SeverityMedium, fmt.Sprintf("instruction-like text in untrusted content is followed by the action %s", a.Name)
			}
		}
		out = append(out, c.finding(i, probity.Finding{
			Detector: d.ID(), Severity: sev, Confidence: 0.75, Message: msg, Evidence: ev,
			BlastRadius: positions(c, reach),
		}))
	}
	return out
}

// injectionIndex finds every rule's anchors in one pass; injectionByAnchor
// lists the rules each distinct anchor belongs to.
var injectionIndex, injectionByAnchor = func() (*anchorIndex, [][]*anchoredRE) {
	var names []string
	at := map[string]int{}
	var by [][]*anchoredRE
	for _, r := range injectionRules {
		for _, a := range r.anchors {
			k, ok := at[string(a)]
			if !ok {
				k = len(names)
				at[string(a)] = k
				names = append(names, string(a))
				by = append(by, nil)
			}
			by[k] = append(by[k], r)
		}
	}
	return newAnchorIndex(names), by
}()

// findInjection returns the location of the earliest instruction-like
// match in text, or nil. buf is scratch space reused across calls.
func findInjection(text string, buf *[]byte) []int {
	lower := lowerBytes(text, buf)
	var best []int
	injectionIndex.each(lower, func(k, a int) bool {
		if best != nil && k-injectionWindow > best[0] {
			return false // anchors come in text order: nothing later starts earlier
		}
		n := len(injectionIndex.anchors[a])
		from, to := widen(text, k-injectionWindow, k+n+injectionWindow)
		for _, r := range injectionByAnchor[a] {
			for _, loc := range r.re.FindAllStringIndex(text[from:to], -1) {
				if st, e := from+loc[0], from+loc[1]; st < k+n && k < e && (best == nil || st < best[0]) {
					best = []int{st, e}
				}
			}
		}
		return true
	})
	return best
}

// ranCode reports whether step j is an agent message with a code block
// that a runner executed next (an unlinked tool result follows), as in
// AutoGen-style group chats where a terminal agent runs what others write.
func ranCode(steps []probity.Step, j int) bool {
	t := &steps[j]
	if t.Kind != probity.KindAssistant || !strings.Contains(t.Content, "```") || j+1 >= len(steps) {
		return false
	}
	n := &steps[j+1]
	return n.Kind == probity.KindToolResult && (n.Tool == nil || n.Tool.ID == "")
}

// untrusted reports whether s is content from outside the agent's chain of
// command: what tools, documents and other agents returned.
func untrusted(s *probity.Step) bool {
	switch s.Kind {
	case probity.KindToolResult, probity.KindRetrieval, probity.KindReturn:
		return strings.TrimSpace(s.Content) != ""
	}
	return false
}
