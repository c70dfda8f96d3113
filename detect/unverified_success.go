package detect

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/probity/probity"
	"github.com/probity/probity/toolclass"
)

// UnverifiedSuccess finds a claim of success that the evidence does not
// back:
//
//   - the agent tells the user an action was done ("your order has been
//     cancelled") but no side-effecting tool call succeeded before it: high;
//   - the run ends with a submission or a claim of success while the last
//     test run failed: high;
//   - the run ends so while nothing was run to verify the last change to the
//     code: medium.
//
// The finding sits on the claim; its evidence points at what contradicts it.
type UnverifiedSuccess struct{}

// ID returns "unverified-success".
func (UnverifiedSuccess) ID() string { return "unverified-success" }

// Completed-action claims: "has been cancelled", "I've refunded",
// "successfully booked". The verb says which kind of action must have
// succeeded.
var reActionClaim = newAnchored(`(?i)\b(?:(?:has|have) (?:now |also |already )?been|(?:i|we) have|i've|we've|successfully|is now|are now)\s+(?:(?:also|just|now|already|successfully|gone ahead and)\s+)*(cancel+ed|refunded|booked|updated|modified|changed|exchanged|returned|sent|transferred|created|issued|processed|submitted|placed|applied|added|removed|deleted|upgraded|downgraded|credited|charged|paid|reserved|scheduled|rebooked|emailed|notified|opened|filed|logged|escalated|waived|granted|arranged|generated)\b`, 64,
	"been", " have ", "i've", "we've", "successfully", " now ")

// Commands that run tests or a reproduction: what verifying a change means
// for a coding agent.
var reTestCommand = newAnchored(`(?i)(?:\bpytest\b|\bpy\.test\b|-m\s+(?:pytest|unittest)\b|\btox\b|\bnosetests\b|runtests\.py|\bgo test\b|\bnpm (?:run )?test\b|\byarn test\b|\bcargo test\b|\bmake (?:test|check)\b|\bmvn test\b|\bgradle test\b|\bbin/test\b|\bphpunit\b|\brspec\b|\bjest\b|\bpython[\d.]*\s+\S*(?:test|repro|reproduce|check|verify|demo|example|debug)\w*\.py\b)`, 64,
	"pytest", "py.test", "unittest", "tox", "nosetests", "runtests", "go test", "npm", "yarn test", "cargo test",
	"make test", "make check", "mvn test", "gradle test", "bin/test", "phpunit", "rspec", "jest", "python")

// Commands that change the code under work.
var reEditCommand = newAnchored(`(?:\bsed\s+-i|\bperl\s+-[a-z]*i|>\s*[\w./-]+\.\w+|\btee\s+[\w./-]+|\bpatch\b|\bgit apply\b|\bapply_patch\b|\bopen\([^)]*['"][wa]\+?['"]|\.write\(|\bed\s+-s\b)`, 64,
	"sed", "perl", ">", "tee", "patch", "git apply", "open(", ".write(", "ed ")

// Detect implements Detector.
func (d UnverifiedSuccess) Detect(c *Context) []probity.Finding {
	var out []probity.Finding
	out = append(out, d.actionClaims(c)...)
	out = append(out, d.workClaimsOf(c)...)
	if f, ok := d.finalClaim(c); ok {
		out = append(out, f)
	}
	return out
}

// actionClaims checks every message that says an action was completed.
func (d UnverifiedSuccess) actionClaims(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	succeeded := map[string]bool{} // side-effecting tools that succeeded so far
	anySide := false
	for i := range steps {
		s := &steps[i]
		if s.Kind == probity.KindToolCall && s.Tool != nil && c.class(s.Tool.Name) != ClassReadOnly && c.class(s.Tool.Name) != ClassCalculator {
			// A tool of unknown class (a shell) may have done the action.
			if r := c.resultFor(i); r < 0 || !c.failed(r) {
				succeeded[s.Tool.Name] = true
				anySide = true
			}
			continue
		}
		if !speaksToUser(s) {
			continue
		}
		// Claims of this kind open or close a message; long messages are
		// read at both ends only.
		text := commandEnds(s.Content)
		m, verb := unbackedClaim(text, succeeded, anySide)
		if m == nil {
			continue
		}
		msg := fmt.Sprintf("the agent says something was %s, but no side-effecting tool call has succeeded in this run", verb)
		if anySide {
			msg = fmt.Sprintf("the agent says something was %s, but no tool call that could do that succeeded in this run", verb)
		}
		out = append(out, c.finding(i, probity.Finding{
			Detector: d.ID(), Severity: probity.SeverityHigh, Confidence: 0.8,
			Message: msg,
			Evidence: append([]probity.Evidence{
				{Kind: "success-claim", Value: verb, Source: quoteAround(text, m[0], m[1]), SourceStep: s.Pos.Index, Note: "what the agent claims"},
			}, failedActions(c, i)...),
		}))
		break // one such claim explains the run; later ones repeat it
	}
	return out
}

// backingWords says, for a claimed action, which words in a tool's name
// could have done it: "refunded" is done by a refund, a cancellation or a
// return; "emailed" by a send or a notify. A verb not listed ("processed",
// "updated", "applied") is generic: any successful side-effecting call
// backs it.
var backingWords = map[string][]string{
	"cancelled": {"cancel"}, "canceled": {"cancel"},
	"refunded": {"refund", "cancel", "return", "exchange", "modify", "update"},
	"booked":   {"book", "reserve", "create", "update", "modify", "exchange"},
	"reserved": {"book", "reserve", "create", "update", "modify"}, "rebooked": {"book", "reserve", "update", "modify", "exchange"},
	"exchanged": {"exchange", "modify", "update"}, "returned": {"return", "exchange"},
	"sent": {"send", "email", "notify", "transfer", "sms", "issue"}, "emailed": {"send", "email", "notify"},
	"notified": {"send", "email", "notify", "sms"}, "transferred": {"transfer"},
	"issued":   {"issue", "send", "refund", "cancel", "book", "create", "grant", "return", "exchange", "modify", "update"},
	"credited": {"refund", "send", "issue", "credit", "cancel", "return", "grant", "exchange", "modify", "update"},
	"granted":  {"grant", "send", "issue", "add", "update", "modify"}, "waived": {"waive", "update", "modify", "cancel", "refund"},
	"opened": {"open", "create", "file", "submit", "transfer"}, "filed": {"file", "create", "submit", "open"},
	"logged": {"log", "create", "file", "submit", "write"}, "escalated": {"escalate", "transfer"},
	"charged": {"charge", "pay", "book", "update", "modify", "exchange"}, "paid": {"pay", "charge", "book", "update", "modify"},
	"added":   {"add", "update", "modify", "book", "create", "insert", "set"},
	"removed": {"remove", "delete", "update", "modify", "cancel"}, "deleted": {"delete", "remove", "cancel"},
	"upgraded": {"upgrade", "update", "modify", "change", "exchange"}, "downgraded": {"downgrade", "update", "modify", "change"},
	"scheduled": {"schedule", "book", "create", "update"},
}

// unbackedClaim returns the first completed-action claim in text that no
// successful side-effecting call of the run could have done (see
// backingWords), with its verb; nil when every claim is backed.
func unbackedClaim(text string, succeeded map[string]bool, anySide bool) ([]int, string) {
	var buf []byte
	lower := lowerBytes(text, &buf)
	for _, loc := range reActionClaim.findAll(text, lower, 8) {
		m := reActionClaim.re.FindStringSubmatchIndex(text[loc[0]:loc[1]])
		if m == nil {
			continue
		}
		for k := range m {
			if m[k] >= 0 {
				m[k] += loc[0]
			}
		}
		verb := strings.ToLower(text[m[2]:m[3]])
		if negated(text, m[0]) || conditional(text, m[0]) {
			continue
		}
		if !anySide {
			return m, verb
		}
		words, specific := backingWords[verb]
		if !specific {
			continue // a generic verb: the side-effecting calls made back it
		}
		backed := false
		for tool := range succeeded {
			tw := toolclass.Words(tool)
			if toolclass.ByVerb(tool) == toolclass.Unknown {
				backed = true // a shell or an unknown tool may have done anything
			}
			for _, w := range tw {
				for _, b := range words {
					if w == b {
						backed = true
					}
				}
			}
		}
		if !backed {
			return m, verb
		}
	}
	return nil, ""
}

// failedActions quotes the side-effecting calls before step i that failed:
// the evidence that the claimed action did not happen.
func failedActions(c *Context, i int) []probity.Evidence {
	steps := c.Trace.Steps
	var ev []probity.Evidence
	for j := 0; j < i; j++ {
		s := &steps[j]
		if s.Kind != probity.KindToolCall || s.Tool == nil || !c.SideEffecting(s.Tool.Name) {
			continue
		}
		if r := c.resultFor(j); r >= 0 {
			if f, ok := c.failure(r); ok {
				ev = append(ev, probity.Evidence{Kind: f.kind, Value: s.Tool.Name, Source: f.quote, SourceStep: steps[r].Pos.Index, Note: "this action failed"})
			}
		}
	}
	return ev
}

func negated(text string, at int) bool {
	before := strings.ToLower(text[max(0, at-30):at])
	for _, w := range []string{"not ", "n't ", "never ", "unable", "cannot", "once ", "if ", "until ", "before "} {
		if strings.Contains(before, w) {
			return true
		}
	}
	return false
}

// conditional reports whether the claim is part of a question or an offer
// ("Would you like it to be cancelled?", "once it has been processed").
func conditional(text string, at int) bool {
	end := strings.IndexAny(text[at:], ".!?\n")
	if end >= 0 && text[at+end] == '?' {
		return true
	}
	return false
}

// finalClaim checks the run's end: a submission, or a last message claiming
// success, against the last test run and the last change.
func (d UnverifiedSuccess) finalClaim(c *Context) (probity.Finding, bool) {
	steps := c.Trace.Steps
	final := -1
	for i := len(steps) - 1; i >= 0; i-- {
		if speaksToUser(&steps[i]) && strings.TrimSpace(steps[i].Content) != "" {
			final = i
			break
		}
	}
	if final < 0 {
		return probity.Finding{}, false
	}
	// A claim sits at the start or the end of a final message; a final
	// that is a long diff or report is not read whole.
	claim, ok := claimsSuccess(commandEnds(steps[final].Content))
	if !ok && c.Trace.Labels.ExitStatus != "" && strings.EqualFold(c.Trace.Labels.ExitStatus, "submitted") {
		claim, ok = "exit status: "+c.Trace.Labels.ExitStatus, true
	}
	if !ok {
		return probity.Finding{}, false
	}
	// Walk the commands: the last test run, its outcome, the last edit.
	// Walk back from the end: the last test run, and the last edit if it
	// came after that run. Nothing before the last test run matters.
	lastTest, lastTestRes, lastEdit := -1, -1, -1
	var buf []byte
	for i := final - 1; i >= 0 && lastTest < 0; i-- {
		s := &steps[i]
		if s.Kind != probity.KindToolCall || s.Tool == nil {
			continue
		}
		cmd := commandEnds(argsText(s.Tool))
		lower := lowerBytes(cmd, &buf)
		isTest := reTestCommand.find(cmd, lower) != nil
		if isTest {
			lastTest, lastTestRes = i, c.resultFor(i)
		} else if lastEdit < 0 && (reEditCommand.find(cmd, lower) != nil || isFileWriteTool(c, s.Tool.Name)) {
			lastEdit = i
		}
	}
	claimEv := probity.Evidence{Kind: "success-claim", Source: claim, SourceStep: steps[final].Pos.Index, Note: "what the agent claims"}
	if lastTest >= 0 && lastTestRes >= 0 {
		if f, failed := c.failure(lastTestRes); failed && f.kind != "error-result" || failed && strings.Contains(strings.ToLower(f.quote), "fail") {
			sev, conf, msg := probity.SeverityHigh, 0.85, "the run claims success, but the last test run failed"
			// An agent that said, after the failing run, why it does not
			// matter ("pre-existing failure", "the known error") made an
			// informed call: worth a look, not an alarm.
			for j := lastTestRes + 1; j <= final; j++ {
				if speaksToUser(&steps[j]) && firstAck(head(steps[j].Content, reactionWindow), f.quote) >= 0 {
					sev, conf, msg = probity.SeverityMedium, 0.5, "the run claims success although the last test run failed (the agent acknowledged the failure)"
					break
				}
			}
			return c.finding(final, probity.Finding{
				Detector: d.ID(), Severity: sev, Confidence: conf,
				Message:  msg,
				Evidence: []probity.Evidence{claimEv, {Kind: f.kind, Value: clip(argsText(steps[lastTest].Tool), 120), Source: f.quote, SourceStep: steps[lastTestRes].Pos.Index, Note: "the last test run"}},
			}), true
		}
	}
	if lastEdit >= 0 && lastTest < lastEdit {
		return c.finding(final, probity.Finding{
			Detector: d.ID(), Severity: probity.SeverityMedium, Confidence: 0.6,
			Message:  "the run claims success, but nothing was run to verify the last change",
			Evidence: []probity.Evidence{claimEv, {Kind: "unverified-change", Value: clip(argsText(steps[lastEdit].Tool), 120), SourceStep: steps[lastEdit].Pos.Index, Note: "the last change; no test ran after it"}},
		}), true
	}
	return probity.Finding{}, false
}

// commandEnds returns the head and tail of a command: where the program it
// runs and the file it writes are named. The body of a heredoc in between
// is file content, not a command, and can be long.
func commandEnds(cmd string) string {
	const n = 400
	if len(cmd) <= 2*n {
		return cmd
	}
	tail := len(cmd) - n
	for tail < len(cmd) && !utf8.RuneStart(cmd[tail]) {
		tail++
	}
	return head(cmd, n) + "\n" + cmd[tail:]
}

// isFileWriteTool recognises file-editing tools of coding agents
// (str_replace_editor, write_file, apply_patch, edit_file).
func isFileWriteTool(c *Context, name string) bool {
	if c.class(name) != ClassSideEffect {
		return false
	}
	for _, w := range toolclass.Words(name) {
		switch w {
		case "write", "edit", "patch", "replace", "str", "file", "editor", "insert":
			return true
		}
	}
	return false
}
