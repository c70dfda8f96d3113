package detect

import (
	"fmt"
	"regexp"
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

// Each pattern is an imperative aimed at the model, not at a human reader of
// the data. They are matched case-insensitively on the untrusted text.
var reInjection = regexp.MustCompile(`(?i)(?:` +
	`\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|these\s+|those\s+)*(?:previous|prior|above|earlier|preceding|existing|original|system|safety|security)?\s*(?:instructions?|directions?|prompts?|rules?|polic(?:y|ies)|guidelines?|constraints?|guardrails?)\b` +
	`|\byou\s+(?:are|have\s+been)\s+(?:now\s+)?(?:authori[sz]ed|permitted|allowed|instructed|required|cleared|approved)\s+to\b` +
	`|\byou\s+(?:must|should|need\s+to)\s+(?:now\s+)?(?:immediately\s+)?(?:call|invoke|run|execute|transfer|refund|cancel|send|delete|issue|grant|book|update|modify)\b` +
	`|\b(?:new|updated|revised|real|actual)\s+(?:system\s+)?instructions?\s*:` +
	`|\bfrom\s+now\s+on,?\s+you\b` +
	`|\bdo\s+not\s+(?:tell|inform|notify|alert)\s+the\s+(?:user|customer|human)\b` +
	`|\bwithout\s+(?:asking|telling|informing|notifying)\s+the\s+(?:user|customer)\b` +
	`|\bno\s+(?:need\s+for|further)\s+(?:user\s+)?confirmation\b` +
	`|\b(?:note|message|instruction)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|agent|llm|model)\b` +
	`|(?:^|\n)\s*(?:system|assistant)\s*:\s*(?:you|ignore|override|new)\b` +
	`|<\|?(?:system|im_start)\|?>|\[/?INST\]|<</?SYS>>` +
	`|\b(?:act|behave)\s+as\s+(?:an?\s+)?(?:unrestricted|jailbroken|developer\s+mode)\b` +
	`)`)

// Detect implements Detector.
func (d InjectedInstruction) Detect(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	for i := range steps {
		s := &steps[i]
		if !untrusted(s) {
			continue
		}
		loc := reInjection.FindStringIndex(s.Content)
		if loc == nil {
			continue
		}
		quote := quoteAround(s.Content, loc[0], loc[1])
		// The first action after the text; a side-effecting one taken
		// before anyone else speaks is the worst case. After a person
		// speaks the action may be theirs, but the text still reached it.
		action, side, personSpoke := -1, false, false
		for j := i + 1; j < len(steps) && action < 0; j++ {
			t := &steps[j]
			if t.Kind == probity.KindUser && !isObservation(t) {
				personSpoke = true
				continue
			}
			if t.Kind == probity.KindToolCall && t.Tool != nil && t.Tool.Name != "think" {
				if c.SideEffecting(t.Tool.Name) {
					action, side = j, true
				} else if !personSpoke && action < 0 {
					// A read right after: keep looking for an action in
					// the same turn, remember the read.
					for k := j + 1; k < len(steps); k++ {
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
		if action >= 0 {
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

// untrusted reports whether s is content from outside the agent's chain of
// command: what tools, documents and other agents returned.
func untrusted(s *probity.Step) bool {
	switch s.Kind {
	case probity.KindToolResult, probity.KindRetrieval, probity.KindReturn:
		return strings.TrimSpace(s.Content) != ""
	}
	return false
}
