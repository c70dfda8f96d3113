// Package toolclass says what calling a tool does to the world: changes it
// (side-effect), only reads it (read-only), or computes from its arguments
// (calculator). It is the one home of that concept: the user's `tools:`
// configuration and the guess from a tool's name, used alike by provenance
// (a calculator's output is derived, not grounded), the detectors (a value
// that reached a side-effecting call matters more), the policy language and
// the guard (side_effects selectors, fail-closed decisions) and spec lint.
//
// Containment fails closed: a tool nobody configured and whose name says
// nothing is treated as side-effecting (Config.SideEffecting), and names of
// code execution, shell, SQL, HTTP and payment tools (bash, python, eval,
// sql_query, http_request, curl, rm, wire_money, ...) are side-effecting
// whatever else they say.
package toolclass

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
)

// Class says what calling a tool does to the world.
type Class string

// The classes a configuration may name, and Unknown.
const (
	Unknown    Class = ""            // neither configured nor recognisable by name
	SideEffect Class = "side-effect" // changes the world: refund, cancel, send, write, run code
	ReadOnly   Class = "read-only"   // only reads: get, list, search
	Calculator Class = "calculator"  // computes from its arguments; its output is derived
)

// Valid reports whether c is a class a configuration may name.
func (c Class) Valid() bool {
	switch c {
	case SideEffect, ReadOnly, Calculator:
		return true
	}
	return false
}

// MayChangeWorld reports whether a call of class c must be contained as one
// that changes the world: every class but read-only and calculator, so an
// unknown tool counts, since a guard that guesses "harmless" fails open.
func (c Class) MayChangeWorld() bool { return c != ReadOnly && c != Calculator }

// Config is the user's classification of tools, as the `tools:` and
// `side_effects:` keys of a detector configuration (and `side_effects:` of a
// policy) write it. A nil *Config is valid: every tool is classed by name.
//
//	tools:
//	  issue_refund: side-effect   # or read-only, calculator
//	  "crm_*": side-effect        # a path.Match glob
//	side_effects:                 # shorthand: true = side-effect, false = read-only
//	  transfer_to_human_agents: false
type Config struct {
	// Tools maps a tool name or glob to its class. Exact names win over
	// globs; among globs the longest pattern wins.
	Tools map[string]Class `yaml:"tools"`
	// SideEffects maps a tool name (or glob) to true when calling it changes
	// the world, false when it does not. It is shorthand for Tools entries;
	// Tools wins when both name a tool.
	SideEffects map[string]bool `yaml:"side_effects"`
}

// Validate checks the classes and glob patterns; the messages name the key
// (tools or side_effects) and the entry.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	for _, pat := range sortedKeys(c.Tools) {
		if !c.Tools[pat].Valid() {
			return fmt.Errorf("tool %s: unknown class %q (want side-effect, read-only or calculator)", pat, string(c.Tools[pat]))
		}
		if _, err := path.Match(pat, ""); err != nil {
			return fmt.Errorf("tools: bad pattern %q: %w", pat, err)
		}
	}
	for _, pat := range sortedKeys(c.SideEffects) {
		if _, err := path.Match(pat, ""); err != nil {
			return fmt.Errorf("side_effects: bad pattern %q: %w", pat, err)
		}
	}
	return nil
}

// Class returns the class of tool: from the configuration first (exact
// name, then the longest matching glob; Tools before SideEffects), else
// guessed from its name (see ByName).
func (c *Config) Class(tool string) Class {
	if cl, ok := c.configured(tool); ok {
		return cl
	}
	return ByName(tool)
}

// VerbClass is Class with the name read by its verbs only (see ByVerb): a
// tool is side-effecting when configured so or named by an action verb,
// not for running code, SQL or HTTP whose effect its arguments decide.
// Detectors rank findings by it, since they weigh what is known to have
// happened; containment uses Class and SideEffecting.
func (c *Config) VerbClass(tool string) Class {
	if cl, ok := c.configured(tool); ok {
		return cl
	}
	return ByVerb(tool)
}

// configured returns the class the configuration gives tool: exact name,
// then the longest matching glob; Tools before SideEffects.
func (c *Config) configured(tool string) (Class, bool) {
	if c == nil {
		return Unknown, false
	}
	if cl, ok := c.Tools[tool]; ok {
		return cl, true
	}
	if v, ok := c.SideEffects[tool]; ok {
		return boolClass(v), true
	}
	best, bestClass := -1, Unknown
	for _, pat := range sortedKeys(c.Tools) {
		if ok, _ := path.Match(pat, tool); ok && len(pat) > best {
			best, bestClass = len(pat), c.Tools[pat]
		}
	}
	if best < 0 {
		for _, pat := range sortedKeys(c.SideEffects) {
			if ok, _ := path.Match(pat, tool); ok && len(pat) > best {
				best, bestClass = len(pat), boolClass(c.SideEffects[pat])
			}
		}
	}
	return bestClass, best >= 0
}

// SideEffecting reports whether a call of tool must be contained as one that
// changes the world: configured so, named so, or unknown (fail closed). Only
// a tool configured or named read-only or calculator is not.
func (c *Config) SideEffecting(tool string) bool { return c.Class(tool).MayChangeWorld() }

// Calculator reports whether tool computes its result from its arguments, so
// that its output is derived, not independent evidence.
func (c *Config) Calculator(tool string) bool { return c.Class(tool) == Calculator }

func boolClass(v bool) Class {
	if v {
		return SideEffect
	}
	return ReadOnly
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// dangerWords name code execution, shells, SQL, raw HTTP, file destruction
// and payments. A tool named with one is side-effecting whatever its other
// words say ("query_sql", "get_via_curl"): its effect depends on arguments
// no name can vouch for.
var dangerWords = map[string]bool{
	"bash": true, "shell": true, "sh": true, "zsh": true, "terminal": true, "cmd": true, "powershell": true,
	"python": true, "eval": true, "exec": true, "execute": true, "repl": true,
	"sql": true, "http": true, "https": true, "curl": true, "wget": true,
	"rm": true, "unlink": true, "rmdir": true, "chmod": true, "chown": true, "truncate": true,
	"wire": true, "payout": true,
}

// Verbs that, as a whole word of a tool name, mean the call changes the world.
var sideEffectWords = map[string]bool{
	"cancel": true, "modify": true, "update": true, "send": true, "create": true, "delete": true,
	"remove": true, "refund": true, "transfer": true, "book": true, "exchange": true, "return": true,
	"write": true, "edit": true, "pay": true, "charge": true, "submit": true, "post": true, "put": true,
	"patch": true, "insert": true, "upsert": true, "set": true, "add": true, "place": true,
	"purchase": true, "buy": true, "sell": true, "approve": true, "reject": true, "deploy": true,
	"execute": true, "exec": true, "run": true, "move": true, "rename": true, "upload": true,
	"publish": true, "email": true, "notify": true, "reply": true, "commit": true, "push": true,
	"merge": true, "drop": true, "reset": true, "restart": true, "kill": true, "terminate": true,
	"grant": true, "revoke": true, "assign": true, "schedule": true, "reserve": true, "issue": true,
	"apply": true, "save": true, "store": true, "change": true, "replace": true, "erase": true,
	"archive": true, "close": true, "register": true, "enroll": true, "withdraw": true,
	"deposit": true, "sms": true,
}

// Verbs that, as the first word of a tool name, mean it only reads. They
// win over side-effect words later in the name: get_refund_status reads.
var readOnlyWords = map[string]bool{
	"get": true, "list": true, "search": true, "find": true, "read": true, "fetch": true,
	"lookup": true, "query": true, "check": true, "view": true, "show": true, "describe": true,
	"retrieve": true, "load": true, "count": true, "validate": true, "verify": true, "think": true,
	"browse": true, "inspect": true, "preview": true, "estimate": true, "is": true, "has": true,
}

var calculatorWords = map[string]bool{
	"calculate": true, "calculator": true, "calc": true, "compute": true, "math": true,
	"arithmetic": true, "recalculate": true,
	"eval": true, // for ByVerb, as detectors always read it; ByName's danger words win first
}

// ByName guesses a tool's class from its name, split into words (see
// Words): "cancel_pending_order", "sendEmail", "crm.update-contact". A
// danger word (bash, sql, http, ...) makes it side-effecting; then a
// calculator word makes it a calculator; a read-only first word wins over
// later side-effect words; otherwise any side-effect word makes it
// side-effecting, any read-only word read-only, and the rest is Unknown.
func ByName(tool string) Class {
	words := Words(tool)
	for _, w := range words {
		if dangerWords[w] {
			return SideEffect
		}
	}
	return byVerbs(words)
}

// ByVerb is ByName without the danger words: bash, sql_query or
// http_request are Unknown to it, as their names say nothing of what a
// call does. Detectors use it (through Config.VerbClass); containment must
// not.
func ByVerb(tool string) Class { return byVerbs(Words(tool)) }

func byVerbs(words []string) Class {
	if len(words) == 0 {
		return Unknown
	}
	for _, w := range words {
		if calculatorWords[w] {
			return Calculator
		}
	}
	if readOnlyWords[words[0]] {
		return ReadOnly
	}
	for _, w := range words {
		if sideEffectWords[w] {
			return SideEffect
		}
	}
	for _, w := range words {
		if readOnlyWords[w] {
			return ReadOnly
		}
	}
	return Unknown
}

// Words splits a snake, kebab, dotted or camelCase name into lower-case
// words; "HTTPGetURL" gives http, get, url.
func Words(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r):
			// A hump starts a word: "sendEmail", and the last capital of an
			// acronym followed by lower case: "HTTPGet" -> HTTP, Get.
			if len(cur) > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					flush()
				}
			}
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}

// noOpWords name what a scratchpad tool holds: a thought, a plan, a
// reflection, a note. A tool named by one of them (and only by them and
// noOpFiller) records the agent's own words and changes nothing the agent
// could observe: think, plan, reflect, update_plan, write_note.
var noOpWords = map[string]bool{
	"think": true, "thinking": true, "thought": true, "thoughts": true, "plan": true, "planning": true,
	"reflect": true, "reflection": true, "reason": true, "reasoning": true, "scratchpad": true,
	"note": true, "notes": true, "ponder": true, "brainstorm": true, "deliberate": true, "todo": true, "todos": true,
}

// noOpFiller are the other words a scratchpad tool's name may carry.
var noOpFiller = map[string]bool{
	"update": true, "write": true, "add": true, "record": true, "make": true, "create": true, "set": true,
	"log": true, "my": true, "the": true, "a": true, "tool": true, "step": true, "sequential": true, "take": true,
	"list": true, "revise": true, "edit": true,
}

// NoOp reports whether tool is, by its name, a scratchpad: a call whose
// only effect is to put the agent's own words on record (think, plan,
// reflect, update_plan). Calling one again with the same arguments can
// yield nothing new, so a run of identical calls is a stall, not progress.
// Every word of the name must be a scratchpad word or filler, with at
// least one scratchpad word: "plan_trip" or "reason_code_lookup" are not.
func NoOp(tool string) bool {
	words := Words(tool)
	has := false
	for _, w := range words {
		switch {
		case noOpWords[w]:
			has = true
		case noOpFiller[w]:
		default:
			return false
		}
	}
	return has
}

// NoOp is the package-level NoOp unless the configuration gives tool a
// class other than read-only: a tool configured as side-effecting or a
// calculator does something, whatever its name says.
func (c *Config) NoOp(tool string) bool {
	if cl, ok := c.configured(tool); ok && cl != ReadOnly {
		return false
	}
	return NoOp(tool)
}
