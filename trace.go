package probity

import (
	"encoding/json"
	"time"
)

// Kind says what a Step is.
type Kind string

// The kinds of step. Input from people or configuration is KindSystem or
// KindUser; everything a model wrote is KindAssistant, KindToolCall or
// KindFinal; everything the world answered is KindToolResult or KindRetrieval.
const (
	KindSystem     Kind = "system"      // system prompt or other configuration input
	KindUser       Kind = "user"        // a person's (or simulated user's) message
	KindAssistant  Kind = "assistant"   // a model's message
	KindToolCall   Kind = "tool_call"   // a model asked for a tool to run
	KindToolResult Kind = "tool_result" // what a tool returned
	KindRetrieval  Kind = "retrieval"   // documents fetched from a store
	KindHandoff    Kind = "handoff"     // control passed to a sub-agent
	KindReturn     Kind = "return"      // a sub-agent handed control back
	KindFinal      Kind = "final"       // the run's final answer or submission
)

// Kinds lists every Kind in a stable order, for reports and validation.
var Kinds = []Kind{KindSystem, KindUser, KindAssistant, KindToolCall, KindToolResult,
	KindRetrieval, KindHandoff, KindReturn, KindFinal}

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// IsInput reports whether a step of this kind is evidence the agent received
// rather than something it produced. Provenance looks for sources only in
// input steps.
func (k Kind) IsInput() bool {
	switch k {
	case KindSystem, KindUser, KindToolResult, KindRetrieval, KindReturn:
		return true
	}
	return false
}

// Position locates a step in its source file. Every finding points the user
// at a Position, so importers must fill it exactly.
//
// Index is the 0-based position of the source record the step came from: the
// message in a τ-bench "traj" or an OpenAI/SWE-agent "messages" list, the turn
// in a Who&When "history", the span in an OTLP file (in file order). One
// record can yield several steps (an assistant message with text and three
// tool calls yields four); they share Index and differ in Part.
type Position struct {
	Index  int    `json:"index"`
	Part   int    `json:"part,omitempty"`    // 0-based sub-part within the record (content block, tool call)
	SpanID string `json:"span_id,omitempty"` // OTLP span id (hex), when the source is OTLP
	Line   int    `json:"line,omitempty"`    // 1-based line for JSON Lines sources, when known
}

// Step is one thing that happened in a run.
type Step struct {
	// Pos is where the step came from in the source.
	Pos Position `json:"pos"`
	// Kind says what happened.
	Kind Kind `json:"kind"`
	// Actor names the agent (or "user", "tool") that produced the step.
	Actor string `json:"actor,omitempty"`
	// ID identifies the step within its trace (a span id, or a generated id).
	ID string `json:"id,omitempty"`
	// ParentID is the ID of the enclosing step or span, for nested agents.
	ParentID string `json:"parent_id,omitempty"`
	// Content is the text of the step: a message, a tool result, a document.
	Content string `json:"content,omitempty"`
	// Tool is set on KindToolCall and KindToolResult steps.
	Tool *ToolCall `json:"tool,omitempty"`
	// Error is set on a KindToolResult whose source marks it as failed.
	Error *ToolError `json:"error,omitempty"`
	// Model holds model parameters when the source records them.
	Model *Model `json:"model,omitempty"`
	// Start and End are the step's timing when known.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// ToolCall is a tool invocation (on a call step) or the call a result answers
// (on a result step).
type ToolCall struct {
	// ID is the call id the provider assigned; results quote it.
	ID string `json:"id,omitempty"`
	// Name is the tool's name.
	Name string `json:"name"`
	// Args is the structured arguments, as JSON. Sources that send
	// arguments as a JSON string are decoded; arguments that are not valid
	// JSON are kept verbatim in RawArgs instead.
	Args json.RawMessage `json:"args,omitempty"`
	// RawArgs holds arguments the source gave as text that is not JSON.
	RawArgs string `json:"raw_args,omitempty"`
}

// ToolError marks a tool result as failed, as far as the source says so.
type ToolError struct {
	// Message is the error text when the source has one apart from Content.
	Message string `json:"message,omitempty"`
	// Code is a status or exit code when the source gives one.
	Code string `json:"code,omitempty"`
}

// Model records the model parameters of a step, when known.
type Model struct {
	Provider     string   `json:"provider,omitempty"`
	Name         string   `json:"name,omitempty"`
	Temperature  *float64 `json:"temperature,omitempty"`
	Seed         *int64   `json:"seed,omitempty"`
	InputTokens  int64    `json:"input_tokens,omitempty"`
	OutputTokens int64    `json:"output_tokens,omitempty"`
	CostUSD      float64  `json:"cost_usd,omitempty"`
}

// Labels are outcome labels a source carries. Nil pointers mean the source
// did not say.
type Labels struct {
	// Reward is τ-bench's 0/1 task reward.
	Reward *float64 `json:"reward,omitempty"`
	// Resolved is SWE-bench's verdict from report.json.
	Resolved *bool `json:"resolved,omitempty"`
	// ExitStatus is how the agent said it ended (mini-swe-agent "Submitted").
	ExitStatus string `json:"exit_status,omitempty"`
	// IsCorrect is Who&When's verdict on the final answer.
	IsCorrect *bool `json:"is_correct,omitempty"`
	// MistakeAgent and MistakeStep are Who&When's failure attribution;
	// MistakeStep is a 0-based index into history, so it equals a Position.Index.
	MistakeAgent  string `json:"mistake_agent,omitempty"`
	MistakeStep   *int   `json:"mistake_step,omitempty"`
	MistakeReason string `json:"mistake_reason,omitempty"`
	// GroundTruth is the expected final answer when the source has one.
	GroundTruth string `json:"ground_truth,omitempty"`
}

// Empty reports whether no label is set.
func (l Labels) Empty() bool { return l == Labels{} }

// Trace is one run of an agentic workflow.
type Trace struct {
	// ID identifies the trace; importers derive a stable one from the source
	// (task id and trial, file name, OTLP trace id).
	ID string `json:"trace_id"`
	// Source is the path of the file the trace was read from.
	Source string `json:"source"`
	// Format names the importer that read it ("taubench", "otlp", ...).
	Format string `json:"format"`
	// Task is the instruction or question the run was given, when known.
	Task string `json:"task,omitempty"`
	// Clock is the "current time" of the run when the trace states one
	// (τ-bench system prompts do); provenance uses it to resolve "tomorrow".
	Clock time.Time `json:"clock,omitzero"`
	// Labels are outcome labels, when the source has them.
	Labels Labels `json:"labels"`
	// Expected holds the tool calls the task expected, when present
	// (τ-bench info.task.actions).
	Expected []ToolCall `json:"expected,omitempty"`
	// ExpectedOutputs are values the task expected the agent to tell the
	// user (τ-bench info.task.outputs), when present: a reference, like
	// Expected, never a label of where the run failed.
	ExpectedOutputs []string `json:"expected_outputs,omitempty"`
	// Meta holds other source attributes worth keeping (task_id, trial, ...).
	Meta map[string]string `json:"meta,omitempty"`
	// Steps is what happened, in order.
	Steps []Step `json:"steps"`
}

// Actors returns the distinct actors of t in order of first appearance.
func (t *Trace) Actors() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range t.Steps {
		if s.Actor != "" && !seen[s.Actor] {
			seen[s.Actor] = true
			out = append(out, s.Actor)
		}
	}
	return out
}

// Tools returns the distinct names of tools called in t, in order of first call.
func (t *Trace) Tools() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range t.Steps {
		if s.Kind == KindToolCall && s.Tool != nil && !seen[s.Tool.Name] {
			seen[s.Tool.Name] = true
			out = append(out, s.Tool.Name)
		}
	}
	return out
}

// CountKinds returns how many steps t has of each kind.
func (t *Trace) CountKinds() map[Kind]int {
	m := map[Kind]int{}
	for _, s := range t.Steps {
		m[s.Kind]++
	}
	return m
}

// ResultFor returns the index in t.Steps of the first tool result that
// answers the call at step i (matched by call id, else the next result with
// the same tool name), or -1.
func (t *Trace) ResultFor(i int) int {
	c := t.Steps[i].Tool
	if c == nil {
		return -1
	}
	for j := i + 1; j < len(t.Steps); j++ {
		s := t.Steps[j]
		if s.Kind != KindToolResult || s.Tool == nil {
			continue
		}
		if c.ID != "" && s.Tool.ID != "" {
			if s.Tool.ID == c.ID {
				return j
			}
			continue
		}
		if s.Tool.Name == c.Name || s.Tool.Name == "" {
			return j
		}
	}
	return -1
}
