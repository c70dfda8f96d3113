// Package spec lints what an agent is told before it runs: its system prompt
// and task specification, the tools it is given and the policy around them.
// It asks of every instruction and tool "how could a perfectly literal
// interpreter of this hurt me?" and answers with findings that point at the
// exact line and column (for JSON and YAML tool definitions, the offending
// key or string), each with the rule's rationale and a suggested fix.
//
// Inputs are gathered in an Input: prompt documents (ParseDoc: text,
// Markdown, YAML), tool definitions (ParseTools: OpenAI or Anthropic tools,
// an MCP tools/list result; ListMCPTools asks a live MCP server), a compiled
// policy, and a lock of pinned tool hashes (Lock) for rug pulls. Lint runs
// every rule in Rules over it.
//
// Rules are data: an id, a default severity, a rationale, a fix and a check.
// Adding a rule family is one file and one line in Rules. The family "evals
// that reward the wrong thing" (issue 14, part 2) is meant to be added that
// way once eval suites can be read without running them: it gets its input
// as a new Input field (the suites) and its checks as rules in a new file;
// nothing else changes.
package spec

import (
	"cmp"
	"slices"

	"github.com/probity/probity"
)

// Pos is a position in a file: 1-based line and 1-based column counted in
// Unicode code points (as SARIF's "unicodeCodePoints" column kind).
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Span is the part of a file a finding points at. End is inclusive of the
// last character and may equal the start; a zero End means a point.
type Span struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
}

func spanAt(file string, p Pos) Span { return Span{File: file, Line: p.Line, Column: p.Column} }

// Finding is one problem a rule found.
type Finding struct {
	// Rule is the rule's stable id ("tool-poisoning", "unguarded-side-effect").
	Rule string `json:"rule"`
	// Severity is how much it matters; rules may rank one finding above or
	// below their default (a destructive tool's missing guard is high).
	Severity probity.Severity `json:"severity"`
	// Message is one line a person reads.
	Message string `json:"message"`
	// Span is where it is.
	Span Span `json:"span"`
	// Related points at other places the finding rests on: the other half of
	// a contradiction, the pinned definition of a changed tool.
	Related []Span `json:"related,omitempty"`
	// Tool names the tool the finding is about, if any.
	Tool string `json:"tool,omitempty"`
	// Quote is the offending text, trimmed to one line.
	Quote string `json:"quote,omitempty"`
	// Fix suggests what to change.
	Fix string `json:"fix"`
}

// Rule is one check of the linter.
type Rule struct {
	// ID is stable: scripts, suppressions and SARIF consumers key on it.
	ID string
	// Severity is the default severity of the rule's findings.
	Severity probity.Severity
	// Title says in a few words what the rule finds.
	Title string
	// Rationale says why it matters: how a literal interpreter gets hurt.
	Rationale string
	// Fix is the general remedy; findings carry a specific one.
	Fix string

	check func(in *Input, r *reporter)
}

// Input is everything a lint run looks at. Any part may be empty; rules
// that need a missing part do not run (dangling references need tools).
type Input struct {
	// Docs are system prompts and task specifications.
	Docs []*Doc
	// Tools are the tool definitions, from every file and server.
	Tools []*Tool
	// Policy is the policy that guards the tools at run time, if any.
	Policy *Policy
	// Pinned holds the tool hashes recorded by an earlier run (--pin); nil
	// when nothing was pinned yet.
	Pinned *Lock
}

// Rules returns every rule, in the order their findings are documented.
func Rules() []*Rule {
	return []*Rule{
		ruleUnguardedSideEffect(),
		ruleUnboundedScope(),
		ruleMissingSuccess(),
		ruleMissingStop(),
		ruleMissingEscalation(),
		ruleContradiction(),
		rulePriorityGap(),
		ruleUnknownTool(),
		ruleUnknownArgument(),
		ruleDanglingPolicyRule(),
		ruleFreeString(),
		ruleOptionalArgument(),
		ruleOpenObject(),
		ruleToolInstruction(),
		ruleHiddenText(),
		ruleShadowing(),
		ruleExfiltration(),
		ruleSensitivePath(),
		ruleToolChanged(),
		ruleToolAdded(),
		ruleToolRemoved(),
	}
}

// Lint runs rules (every rule when rules is nil) over in and returns the
// findings ordered by file, line, column and rule.
func Lint(in *Input, rules []*Rule) []Finding {
	if rules == nil {
		rules = Rules()
	}
	var out []Finding
	for _, rule := range rules {
		rule.check(in, &reporter{rule: rule, out: &out})
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Span.File, b.Span.File),
			cmp.Compare(a.Span.Line, b.Span.Line),
			cmp.Compare(a.Span.Column, b.Span.Column),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.CompactFunc(out, func(a, b Finding) bool {
		return a.Rule == b.Rule && a.Span == b.Span && a.Message == b.Message
	})
}

// reporter collects one rule's findings, filling in the rule's defaults.
type reporter struct {
	rule *Rule
	out  *[]Finding
}

func (r *reporter) add(f Finding) {
	f.Rule = r.rule.ID
	if f.Severity == probity.SeverityNone {
		f.Severity = r.rule.Severity
	}
	if f.Fix == "" {
		f.Fix = r.rule.Fix
	}
	*r.out = append(*r.out, f)
}
