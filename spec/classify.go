package spec

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/probity/probity/toolclass"
)

// effect is what calling a tool does to the world, and why we think so.
type effect struct {
	side bool
	// level ranks the consequence: 3 irreversible or destructive, 2 changes
	// something, 1 only the server's annotation says it may.
	level int
	why   string
}

// irreversible are verbs whose effect cannot be taken back by the agent:
// money moved, messages sent, data destroyed, code run.
var irreversible = map[string]bool{
	"delete": true, "remove": true, "drop": true, "erase": true, "kill": true, "terminate": true,
	"cancel": true, "refund": true, "transfer": true, "pay": true, "charge": true, "withdraw": true,
	"revoke": true, "reset": true, "write": true, "overwrite": true, "move": true, "send": true,
	"purchase": true, "buy": true, "sell": true, "deploy": true, "execute": true, "exec": true,
	"run": true, "publish": true, "email": true, "sms": true, "merge": true, "push": true, "post": true,
}

// These three functions are the only place spec calls the project's name
// classifier, toolclass.ByName.

// nameSideEffect reports whether a name (or a word) reads as changing the world.
func nameSideEffect(s string) bool { return toolclass.ByName(s) == toolclass.SideEffect }

// nameReadOnly reports whether a name reads as only reading or computing.
func nameReadOnly(s string) bool {
	c := toolclass.ByName(s)
	return c == toolclass.ReadOnly || c == toolclass.Calculator
}

// nameKnown reports whether the classifier recognises the name at all.
func nameKnown(s string) bool { return toolclass.ByName(s) != toolclass.Unknown }

// classify decides whether tool t has side effects. The name is read by
// the project's name classifier, then the MCP annotations, then the first
// verb of the description. A policy's side_effects override wins over all
// of them, because the user wrote it down.
func classify(t *Tool, pol *Policy) effect {
	sideByName := nameSideEffect(t.Name)
	if pol != nil {
		polSide := pol.P.SideEffecting(t.Name)
		if sideByName && !polSide {
			return effect{why: "the policy's side_effects says it is read-only"}
		}
		if polSide && !sideByName {
			return effect{side: true, level: 2, why: "the policy's side_effects says it changes the world"}
		}
	}
	destructive, _ := t.hint("destructiveHint")
	readOnly, readOnlySet := t.hint("readOnlyHint")
	if sideByName {
		e := effect{side: true, level: 2, why: fmt.Sprintf("its name (%s)", sideVerb(t.Name))}
		if irreversible[sideVerb(t.Name)] || destructive {
			e.level = 3
		}
		return e
	}
	if destructive {
		return effect{side: true, level: 3, why: "its MCP annotation destructiveHint"}
	}
	if nameReadOnly(t.Name) || (readOnlySet && readOnly) {
		return effect{}
	}
	if v := firstVerb(t.Description); v != "" && nameSideEffect(v) {
		e := effect{side: true, level: 2, why: fmt.Sprintf("its description (%q)", v)}
		if irreversible[v] {
			e.level = 3
		}
		return e
	}
	if readOnlySet && !readOnly {
		return effect{side: true, level: 1, why: "its MCP annotation readOnlyHint: false"}
	}
	return effect{}
}

// sideVerb returns the first word of name that makes it side-effecting.
func sideVerb(name string) string {
	for _, w := range toolclass.Words(name) {
		if nameSideEffect(w) {
			return w
		}
	}
	return ""
}

// firstVerb returns the description's first word as a base verb
// ("Creates" -> "create"), or "" when it does not read as a verb we know.
// "Returns" means "gives back" at the start of a description, never
// "takes back".
func firstVerb(desc string) string {
	f := strings.FieldsFunc(desc, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' })
	if len(f) == 0 {
		return ""
	}
	w := strings.ToLower(f[0])
	if w == "returns" || w == "return" {
		return ""
	}
	for _, c := range []string{w, strings.TrimSuffix(w, "s"), strings.TrimSuffix(w, "es")} {
		if nameKnown(c) {
			return c
		}
	}
	return ""
}
