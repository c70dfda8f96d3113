package detect

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/probity/probity"
)

// This file holds the text signals several detectors share: what a failed
// result looks like, what a claim of success looks like, what an
// acknowledgement of a problem looks like. They are deliberately generic
// (shell, Python, HTTP, JSON APIs, test runners) rather than tuned to one
// benchmark's wording.

// isAgent reports whether a step is something the agent itself produced.
func isAgent(s *probity.Step) bool {
	switch s.Kind {
	case probity.KindAssistant, probity.KindToolCall, probity.KindFinal, probity.KindHandoff:
		return true
	}
	return false
}

// isObservation reports whether a step is what the world answered: a tool
// result, a retrieved document, a sub-agent's return, or a command output
// that a shell-driving agent (mini-swe-agent, AutoGen's Computer_terminal)
// receives as a plain user-role message.
func isObservation(s *probity.Step) bool {
	switch s.Kind {
	case probity.KindToolResult, probity.KindRetrieval, probity.KindReturn:
		return true
	case probity.KindUser:
		return looksLikeCommandOutput(s.Content)
	}
	return false
}

func looksLikeCommandOutput(s string) bool {
	s = strings.TrimLeft(s, " \t\r\n")
	return strings.HasPrefix(s, "<returncode>") || strings.HasPrefix(s, "exitcode:") ||
		strings.HasPrefix(s, "<output>") || strings.HasPrefix(s, "Exit code:") || strings.HasPrefix(s, "exit code:")
}

// agentText returns what the agent said or passed at step s: its message
// text and its tool arguments.
func agentText(s *probity.Step) string {
	if s.Tool == nil {
		return s.Content
	}
	args := string(s.Tool.Args)
	if args == "" {
		args = s.Tool.RawArgs
	}
	if s.Content == "" {
		return args
	}
	return s.Content + "\n" + args
}

// failure describes why an observation reads as a failure.
type failure struct {
	kind  string // "error-result", "exception", "non-zero-exit", "failing-tests", "http-status"
	quote string // the text that says so
}

var (
	reReturnCode  = regexp.MustCompile(`(?i)(?:<returncode>|exit ?code[:= ]+|"exit_code"\s*:\s*|"returncode"\s*:\s*)(-?\d+)`)
	reTestsFailed = regexp.MustCompile(`(?m)(?:^=+ .*\b\d+ (?:failed|errors?)\b.*=+$|^FAILED [^\n]{1,200}|^FAIL:? [^\n]{1,200}|^--- FAIL: [^\n]{1,200}|\bTests?:\s+\d+ failed\b|^ERROR: [^\n]{1,200}|\b\d+ (?:tests? )?failed\b)`)
	reHTTPStatus  = regexp.MustCompile(`(?i)(?:HTTP/\d(?:\.\d)? ([45]\d\d)\b|"(?:status|status_code|statusCode|code)"\s*:\s*"?([45]\d\d)\b)`)
	reErrorLead   = regexp.MustCompile(`(?i)^\s*(?:error|exception|fatal|failed|failure|traceback)\b[^\n]{0,200}`)
	reErrorLine   = regexp.MustCompile(`(?m)^(?:[A-Za-z_][\w.]*(?:Error|Exception)(?::[^\n]{0,200})?|Traceback \(most recent call last\):|[^\n]{0,80}: command not found|[^\n]{0,120}: No such file or directory|panic: [^\n]{0,200}|fatal: [^\n]{0,200})$`)
)

// failureOf reports whether observation s signals a failure, and quotes it.
// Output that merely contains the word "error" (a source file, a log) is not
// a failure: the signal must be structural (an error field, a leading
// "Error:", a non-zero exit with error output, a test summary, a status).
func failureOf(s *probity.Step) (failure, bool) {
	if s.Error != nil {
		q := s.Error.Message
		if q == "" {
			q = firstLine(s.Content)
		}
		if s.Error.Code != "" {
			q = strings.TrimSpace("code " + s.Error.Code + ": " + q)
		}
		return failure{"error-result", clip(q, 200)}, true
	}
	text := s.Content
	if text == "" {
		return failure{}, false
	}
	if m := reErrorLead.FindString(text); m != "" {
		return failure{"error-result", clip(m, 200)}, true
	}
	if f, ok := jsonFailure(text); ok {
		return f, true
	}
	exit := 0
	if m := reReturnCode.FindStringSubmatch(head(text, 400)); m != nil {
		exit, _ = strconv.Atoi(m[1])
	}
	if m := reTestsFailed.FindString(text); m != "" && !reZeroFailed.MatchString(m) {
		return failure{"failing-tests", clip(strings.TrimSpace(m), 200)}, true
	}
	if exit != 0 {
		// A non-zero exit with no error text is how grep says "no match"
		// and test(1) says "false": not a failure the agent must address.
		// The last error line is the one that says what went wrong (a
		// traceback ends with the exception).
		ms := reErrorLine.FindAllString(text, -1)
		if len(ms) == 0 {
			return failure{}, false
		}
		m := strings.TrimSpace(ms[len(ms)-1])
		if m == "Traceback (most recent call last):" && len(ms) > 1 {
			m = strings.TrimSpace(ms[len(ms)-2])
		}
		if len(ms) == 1 && reAbsent.MatchString(m) {
			// "ls x: No such file or directory" answers a question about
			// existence, as grep's exit 1 does; it is not a failure.
			return failure{}, false
		}
		return failure{"non-zero-exit", clip("exit "+strconv.Itoa(exit)+": "+m, 200)}, true
	}
	if strings.Contains(text, "Traceback (most recent call last):") {
		if m := reErrorLine.FindAllString(text, -1); len(m) > 0 {
			return failure{"exception", clip(m[len(m)-1], 200)}, true
		}
		return failure{"exception", "Traceback (most recent call last):"}, true
	}
	if m := reHTTPStatus.FindStringSubmatch(head(text, 2000)); m != nil {
		return failure{"http-status", clip(m[0], 200)}, true
	}
	return failure{}, false
}

var reAbsent = regexp.MustCompile(`(?i)(?:No such file or directory|cannot access|does not exist|not found)$`)

var reZeroFailed = regexp.MustCompile(`\b0 (?:tests? )?(?:failed|errors?)\b`)

// jsonFailure recognises API results that are JSON objects saying they failed:
// {"error": ...} with a non-empty value, {"status": "error"|"failed"},
// {"success": false}, {"ok": false}.
func jsonFailure(text string) (failure, bool) {
	t := strings.TrimSpace(text)
	if len(t) < 2 || t[0] != '{' {
		return failure{}, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(t), &m) != nil {
		return failure{}, false
	}
	for k, v := range m {
		v = bytes.TrimSpace(v)
		switch strings.ToLower(k) {
		case "error", "errors", "error_message", "exception":
			if s := string(v); s != "null" && s != `""` && s != "false" && s != "[]" && s != "{}" {
				return failure{"error-result", clip(`"`+k+`": `+s, 200)}, true
			}
		case "status", "state", "result":
			switch strings.ToLower(strings.Trim(string(v), `"`)) {
			case "error", "failed", "failure", "fail":
				return failure{"error-result", clip(`"`+k+`": `+string(v), 200)}, true
			}
		case "success", "ok", "succeeded":
			if string(v) == "false" {
				return failure{"error-result", clip(`"`+k+`": false`, 200)}, true
			}
		}
	}
	return failure{}, false
}

// Words with which an agent acknowledges that something went wrong.
var reAcknowledge = regexp.MustCompile(`(?i)\b(?:error|errors|fail|fails|failed|failing|failure|unable|not able|couldn'?t|could not|cannot|can'?t|can not|unfortunately|sorry|apolog\w*|not available|unavailable|insufficient|not enough|not found|invalid|denied|declined|rejected|didn'?t work|did not work|doesn'?t work|does not work|wrong|incorrect|mistake|exception|traceback|retry|try again|alternative|not possible|not eligible|exceed\w*|it seems|seems that|there (?:was|is) (?:an? )?(?:issue|problem)|adjust\w*|investigate|forgot|missing|no such|reproduc\w*|confirms? the (?:issue|bug|error|problem|failure))\b`)

// Claims that something was done or works.
var reSuccessClaim = regexp.MustCompile(`(?i)\b(?:successfully|success|succeeded|has been (?:done|made|sent|paid|booked|cancelled|canceled|refunded|processed|completed|updated|modified|changed|created|issued|submitted|applied|fixed|resolved|exchanged|returned|transferred|upgraded|added|removed|deleted|placed|reserved|scheduled|confirmed|initiated)|have been (?:cancell?ed|canceled|refunded|updated|created|processed|done|made|sent|paid|booked|fixed|resolved)|is (?:now )?(?:confirmed|complete|completed|done|fixed|resolved|booked|cancelled|canceled|working)|(?:all )?(?:the )?tests? (?:now )?pass(?:es|ed)?|(?:script|test|check|fix|reproduction) (?:now )?(?:passes|passed|works|succeeds)|all set|done|completed|complete_task_and_submit\w*|i am ready to submit|ready to submit|works? (?:correctly|as expected|now)|working (?:correctly|as expected)|fix(?:ed)? the (?:issue|bug|problem)|(?:confirms|verified|verifies) (?:that )?the fix)\b`)

// claimsSuccess reports whether text claims success, and quotes the claim.
// A claim immediately negated ("not successfully", "could not be
// completed") is not a claim.
func claimsSuccess(text string) (string, bool) {
	q, _, ok := claimsSuccessAt(text)
	return q, ok
}

// claimsSuccessAt is claimsSuccess that also returns the claim's offset.
func claimsSuccessAt(text string) (string, int, bool) {
	for _, loc := range reSuccessClaim.FindAllStringIndex(text, 8) {
		before := strings.ToLower(text[max(0, loc[0]-24):loc[0]])
		if strings.Contains(before, "not ") || strings.Contains(before, "n't ") || strings.Contains(before, "unable") || strings.Contains(before, "never ") ||
			strings.Contains(before, "other ") || strings.Contains(before, "rest of") {
			// "the other tests pass" concedes that some did not.
			continue
		}
		q := quoteAround(text, loc[0], loc[1])
		if strings.Contains(strings.ToLower(q), "reproduc") {
			// "I successfully reproduced the issue": the failure was the
			// goal of that step.
			continue
		}
		return q, loc[0], true
	}
	return "", -1, false
}

// quoteAround returns the sentence-ish span around text[a:b], clipped.
func quoteAround(text string, a, b int) string {
	start := a
	for start > 0 && a-start < 100 && !strings.ContainsRune(".!?\n", rune(text[start-1])) {
		start--
	}
	end := b
	for end < len(text) && end-b < 100 && !strings.ContainsRune(".!?\n", rune(text[end])) {
		end++
	}
	if end < len(text) && text[end] != '\n' {
		end++
	}
	return clip(strings.TrimSpace(text[start:end]), 200)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutString(s, n)
}

// clip shortens s to about n bytes for quoting, at a rune boundary.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return cutString(s, n) + "…"
}
