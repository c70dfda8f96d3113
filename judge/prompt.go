package judge

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/localize"
)

// systemPrompt asks for abduct-act-predict attribution: name a cause,
// change it, and predict whether the change would have saved the run. A
// model that must predict the counterfactual picks causes, not symptoms.
const systemPrompt = `You attribute the failure of an AI agent's run to the step where it began.
You are given the task, how the run ended, what should have happened (when known),
the findings and localisation of deterministic checks, and the run's steps, each
numbered by its 0-based source position [N].

Work in three moves, silently:
1. Abduct: for each plausible decisive step, hypothesise the mistake made there.
2. Act: state the smallest change to that one step that would correct it.
3. Predict: would the run have succeeded with that change, all else following?
Choose the earliest step whose correction would have saved the run. The checks'
evidence may be wrong; weigh it, do not copy it.

Reply with one JSON object and nothing else:
{"step": <N of a listed step>, "agent": "<actor of that step>", "reason": "<one sentence: what went wrong there>",
 "fix": "<one sentence: the minimal fix>", "fix_saves": true|false, "confidence": <0 to 1>}`

// promptBudget bounds the step listing, in bytes: long runs are listed
// with each step cut shorter, never with steps left out, so any step can
// be named.
const promptBudget = 48_000

// Prompt returns the user prompt for judging t, with the deterministic
// evidence of r. It reads the task, the outcome (reward, verdict,
// correctness), the reference (expected actions, outputs, answer), the
// findings and localisation, and the steps; never the attribution labels
// (mistake_step, mistake_agent, mistake_reason), which exist to measure the
// judge and must not reach it.
//
// ref is the reference the run is compared with (an --reference entry);
// nil means the one the trace carries.
func Prompt(t *probity.Trace, r *detect.Report, ref *localize.Reference) string {
	var b strings.Builder
	if t.Task != "" {
		fmt.Fprintf(&b, "## Task\n%s\n\n", clip(t.Task, 4000))
	}
	b.WriteString("## How the run ended\n")
	b.WriteString(outcome(t, r))
	b.WriteString("\n\n")
	if ref == nil {
		ref = localize.ReferenceOf(t)
	}
	writeReference(&b, t, ref)
	writeEvidence(&b, r)
	writeSteps(&b, t)
	return b.String()
}

func outcome(t *probity.Trace, r *detect.Report) string {
	var parts []string
	l := t.Labels
	if l.Reward != nil {
		parts = append(parts, fmt.Sprintf("reward %g (1 is success)", *l.Reward))
	}
	if l.IsCorrect != nil {
		parts = append(parts, fmt.Sprintf("final answer correct: %t", *l.IsCorrect))
	}
	if l.Resolved != nil {
		parts = append(parts, fmt.Sprintf("issue resolved: %t", *l.Resolved))
	}
	if l.ExitStatus != "" {
		parts = append(parts, "exit status "+l.ExitStatus)
	}
	if r != nil {
		parts = append(parts, "deterministic verdict "+string(r.Verdict))
	}
	if len(parts) == 0 {
		return "failed (no outcome recorded)"
	}
	return "failed: " + strings.Join(parts, "; ")
}

func writeReference(b *strings.Builder, t *probity.Trace, ref *localize.Reference) {
	if ref == nil {
		return
	}
	b.WriteString("## What should have happened\n")
	if len(ref.Actions) > 0 {
		b.WriteString("Expected tool calls, in order, and what the run did:\n")
		used := map[int]bool{}
		for _, a := range ref.Actions {
			fmt.Fprintf(b, "- %s %s: %s\n", a.Name, clip(args(a), 400), made(t, a, used))
		}
	}
	for _, o := range ref.Outputs {
		fmt.Fprintf(b, "Expected to tell the user: %s\n", clip(o, 400))
	}
	if ref.Answer != "" {
		fmt.Fprintf(b, "Expected final answer: %s\n", clip(ref.Answer, 1000))
	}
	b.WriteString("\n")
}

func writeEvidence(b *strings.Builder, r *detect.Report) {
	if r == nil {
		return
	}
	if len(r.Findings) > 0 {
		b.WriteString("## Findings of the deterministic checks\n")
		for i, f := range r.Findings {
			if i == 20 {
				fmt.Fprintf(b, "(%d more findings left out)\n", len(r.Findings)-i)
				break
			}
			fmt.Fprintf(b, "- step [%d] %s (%s): %s\n", f.Step, f.Detector, f.Severity, clip(f.Message, 300))
		}
		if r.RootCauseStep != nil {
			fmt.Fprintf(b, "Root cause by the checks: step [%d]\n", *r.RootCauseStep)
		}
		b.WriteString("\n")
	}
	if l := r.Localization; l != nil {
		fmt.Fprintf(b, "## Deterministic localisation (%s, confidence %.2f)\n", l.Method, l.Confidence)
		for i, c := range l.Candidates {
			if i == 5 {
				break
			}
			agent := ""
			if c.Agent != "" {
				agent = " by " + c.Agent
			}
			fmt.Fprintf(b, "- step [%d]%s, score %.2f: %s\n", c.Step, agent, c.Score, clip(c.Reason, 400))
		}
		b.WriteString("\n")
	}
}

func writeSteps(b *strings.Builder, t *probity.Trace) {
	b.WriteString("## Steps\n")
	n := max(len(t.Steps), 1)
	per := max(promptBudget/n, 120)
	for _, s := range t.Steps {
		actor := s.Actor
		if actor == "" {
			actor = "-"
		}
		fmt.Fprintf(b, "[%d] %s %s", s.Pos.Index, actor, s.Kind)
		if s.Tool != nil && s.Tool.Name != "" {
			b.WriteString(" " + s.Tool.Name)
			if s.Kind == probity.KindToolCall {
				b.WriteString(" " + clip(args(*s.Tool), per))
			}
		}
		if s.Error != nil {
			b.WriteString(" (error)")
		}
		if s.Content != "" {
			b.WriteString(": " + oneLine(clip(s.Content, per)))
		}
		b.WriteString("\n")
	}
}

// args returns a call's arguments as compact JSON text with sorted keys,
// so equal arguments compare equal whatever their spacing and key order.
func args(c probity.ToolCall) string {
	if len(c.Args) > 0 {
		var v any
		if json.Unmarshal(c.Args, &v) == nil {
			if out, err := json.Marshal(v); err == nil {
				return string(out)
			}
		}
		return string(c.Args)
	}
	return c.RawArgs
}

// clip cuts s to at most n bytes on a rune boundary, saying how much was
// left out so the model does not take a cut text for the whole.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s … (%d more bytes)", s[:cut], len(s)-cut)
}

// oneLine keeps a step on one line of the listing, so [N] always starts
// one.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ").Replace(s)
}

// made says whether the run made the expected call a: at which step with
// the same arguments (compared as JSON values, so key order and spacing
// do not matter), with other arguments, or never. Each step answers one
// expected call, so a call expected twice needs two.
func made(t *probity.Trace, a probity.ToolCall, used map[int]bool) string {
	other := -1
	for i, s := range t.Steps {
		if used[i] || s.Kind != probity.KindToolCall || s.Tool == nil || s.Tool.Name != a.Name {
			continue
		}
		if args(*s.Tool) == args(a) {
			used[i] = true
			return fmt.Sprintf("made at step [%d]", s.Pos.Index)
		}
		if other < 0 {
			other = i
		}
	}
	if other >= 0 {
		used[other] = true
		s := t.Steps[other]
		return fmt.Sprintf("made at step [%d] with other arguments %s", s.Pos.Index, clip(args(*s.Tool), 400))
	}
	return "never made"
}
