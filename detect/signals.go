package detect

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

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
	reReturnCode = regexp.MustCompile(`(?i)(?:<returncode>|exit ?code[:= ]+|"exit_code"\s*:\s*|"returncode"\s*:\s*)(-?\d+)`)
	reHTTPStatus = regexp.MustCompile(`(?i)(?:HTTP/\d(?:\.\d)? ([45]\d\d)\b|"(?:status|status_code|statusCode|code)"\s*:\s*"?([45]\d\d)\b)`)
	reErrorLead  = regexp.MustCompile(`(?i)^\s*(?:error|exception|fatal|failed|failure|traceback|invalid|unauthori[sz]ed|forbidden|permission denied|access denied|not found|cannot|can't|could not|unable to|timed? ?out|request failed|operation failed|service unavailable|internal server error|bad request|(?:HTTP/\d(?:\.\d)?\s+)?[45]\d\d\s+[A-Z][a-z])\b[^\n]{0,200}`)
	reErrorLine  = regexp.MustCompile(`(?m)^(?:\s*[A-Za-z_][\w.]*(?:Error|Exception)(?::[^\n]{0,200})?|Traceback \(most recent call last\):|[^\n]{0,80}: command not found|[^\n]{0,120}: No such file or directory|[^\n]{0,160}: (?:Permission denied|Operation not permitted|Read-only file system|Is a directory|cannot [^\n]{0,120})|(?:panic|fatal|error|ERROR|Error|FATAL|E):? [^\n]{0,200}|[^\n]{0,80}\(execution failed\)[^\n]{0,80})$`)
)

// failureOf reports whether observation s signals a failure, and quotes it.
// Output that merely contains the word "error" (a source file, a log) is not
// a failure: the signal must be structural (an error field, a leading
// "Error:", a non-zero exit with error output, a test summary, a status).
func failureOf(s *probity.Step) (failure, bool) {
	if s.Error != nil && s.Error.Message == "" && isExitCode(s.Error.Code) {
		// The source only says the command exited non-zero: judge it as
		// a non-zero exit read from the text (grep's "no match" is not a
		// failure), but never miss one the text shows.
		if f, ok := exitFailure(s.Content, s.Error.Code); ok {
			return f, true
		}
		if f, ok := textFailure(s.Content); ok {
			return f, true
		}
		return failure{}, false
	}
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
	return textFailure(s.Content)
}

// failureLeads are the lower-case openings reErrorLead can match; checking
// them first keeps the expression off the many results that open with "{",
// "[" or "<returncode>".
var failureLeads = []string{"error", "exception", "fatal", "failed", "failure", "traceback", "invalid", "unauthori",
	"forbidden", "permission denied", "access denied", "not found", "cannot", "can't", "could not", "unable to",
	"time", "request failed", "operation failed", "service unavailable", "internal server error", "bad request", "http/",
	"4", "5"}

// errorLead returns the opening line of text when it opens with a failure
// ("Error: ...", "Permission denied", "503 Service Unavailable"), else "".
func errorLead(text string) string {
	t := strings.TrimLeft(text, " \t\r\n")
	var buf [32]byte
	n := copy(buf[:], t)
	for i := range n {
		if 'A' <= buf[i] && buf[i] <= 'Z' {
			buf[i] += 'a' - 'A'
		}
	}
	lead := string(buf[:n])
	for _, p := range failureLeads {
		if strings.HasPrefix(lead, p) {
			return reErrorLead.FindString(text)
		}
	}
	return ""
}

// textFailure reads a failure from a result's text alone.
func textFailure(text string) (failure, bool) {
	if text == "" {
		return failure{}, false
	}
	if m := errorLead(text); m != "" {
		return failure{"error-result", clip(m, 200)}, true
	}
	if f, ok := jsonFailure(text); ok {
		return f, true
	}
	if f, ok := failingTests(text); ok {
		return f, true
	}
	// Every reReturnCode match holds "returncode" or "exit" in some case.
	if h := head(text, 400); strings.Contains(h, "returncode") || strings.Contains(h, "xit") || strings.Contains(h, "XIT") {
		if m := reReturnCode.FindStringSubmatch(h); m != nil && m[1] != "0" {
			return exitFailure(text, m[1])
		}
	}
	if strings.Contains(text, "Traceback (most recent call last):") {
		if m := errorLines(text); len(m) > 0 {
			last := strings.TrimSpace(m[len(m)-1])
			if last != "Traceback (most recent call last):" {
				return failure{"exception", clip(last, 200)}, true
			}
		}
		return failure{"exception", "Traceback (most recent call last):"}, true
	}
	if h := head(text, 2000); (strings.Contains(h, "HTTP/") || strings.Contains(h, `"status`) || strings.Contains(h, `"code"`)) && reHTTPStatus.MatchString(h) {
		m := reHTTPStatus.FindStringSubmatch(h)
		return failure{"http-status", clip(m[0], 200)}, true
	}
	for _, shape := range []func(string) (failure, bool){leadingException, stackFailure, htmlErrorPage, grpcFailure, shortFailure} {
		if f, ok := shape(text); ok {
			return f, true
		}
	}
	return failure{}, false
}

// failingTests finds a test runner's report of failures: a line starting
// FAILED, FAIL, --- FAIL or ERROR: (pytest, unittest, go test), or a count
// "N failed" with N > 0 (pytest, jest, mocha summaries). It reads lines
// around markers instead of running an expression over the whole output.
func failingTests(text string) (failure, bool) {
	for _, mark := range []string{"FAIL", "ERROR: "} {
		for off := 0; off < len(text); {
			k := strings.Index(text[off:], mark)
			if k < 0 {
				break
			}
			k += off
			off = k + len(mark)
			line, start := lineAt(text, k)
			rest := strings.TrimLeft(line, "-= ")
			if start+len(line)-len(rest) != k && !strings.HasPrefix(line, "--- FAIL") {
				continue // the marker is not at the start of its line
			}
			if strings.HasPrefix(rest, "FAILED ") || strings.HasPrefix(rest, "FAIL:") || strings.HasPrefix(rest, "FAIL ") ||
				strings.HasPrefix(line, "--- FAIL: ") || strings.HasPrefix(rest, "ERROR: ") || rest == "FAILED" || rest == "FAIL" {
				return failure{"failing-tests", clip(strings.TrimSpace(line), 200)}, true
			}
		}
	}
	for off := 0; off < len(text); {
		k := strings.Index(text[off:], " failed")
		if k < 0 {
			break
		}
		k += off
		off = k + 7
		if off < len(text) && isWordByte(text[off]) {
			continue
		}
		// "N failed" or "N tests failed".
		j := k
		if strings.HasSuffix(text[:j], " tests") {
			j -= 6
		} else if strings.HasSuffix(text[:j], " test") {
			j -= 5
		}
		d := j
		for d > 0 && text[d-1] >= '0' && text[d-1] <= '9' {
			d--
		}
		if d == j || (d > 0 && isWordByte(text[d-1])) {
			continue
		}
		if n, _ := strconv.Atoi(text[d:j]); n > 0 {
			line, _ := lineAt(text, k)
			return failure{"failing-tests", clip(strings.TrimSpace(line), 200)}, true
		}
	}
	return failure{}, false
}

// errorMarkers are substrings every reErrorLine match contains.
var errorMarkers = []string{"Error", "Exception", "Traceback (most recent call last):", ": command not found",
	": No such file or directory", "panic", "fatal", "error", "ERROR", "FATAL", ": Permission denied", ": Operation not permitted",
	": Read-only file system", ": Is a directory", ": cannot ", "(execution failed)", "E "}

// errorLines returns the lines of text that read as error lines (an
// exception, "command not found", a panic), in order. Only lines holding a
// marker are matched, so long outputs cost a substring search.
func errorLines(text string) []string {
	var starts []int
	for _, m := range errorMarkers {
		for off := 0; off < len(text); {
			k := strings.Index(text[off:], m)
			if k < 0 {
				break
			}
			_, start := lineAt(text, k+off)
			starts = append(starts, start)
			off = k + off + len(m)
			if e := strings.IndexByte(text[off:], '\n'); e >= 0 {
				off += e // one candidate per line and marker
			} else {
				off = len(text)
			}
		}
	}
	sort.Ints(starts)
	var out []string
	last := -1
	for _, st := range starts {
		if st == last {
			continue
		}
		last = st
		line, _ := lineAt(text, st)
		if m := reErrorLine.FindString(line); m != "" && len(m) == len(line) {
			out = append(out, line)
		}
	}
	return out
}

// lineAt returns the line of text containing offset k and its start.
func lineAt(text string, k int) (string, int) {
	start := strings.LastIndexByte(text[:k], '\n') + 1
	end := strings.IndexByte(text[k:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += k
	}
	return strings.TrimRight(text[start:end], "\r"), start
}

func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

func isExitCode(code string) bool {
	if code == "" {
		return false
	}
	_, err := strconv.Atoi(code)
	return err == nil && code != "0"
}

// exitFailure judges a non-zero exit by its output: failing tests or an
// error line make it a failure; silence (grep found nothing) or a lone
// "No such file" (ls answered a question) do not.
func exitFailure(text, code string) (failure, bool) {
	if f, ok := failingTests(text); ok {
		return f, true
	}
	if f, ok := signalFailure(text, code); ok {
		return f, true
	}
	// The last error line is the one that says what went wrong (a
	// traceback ends with the exception).
	ms := errorLines(text)
	if len(ms) == 0 {
		return failure{}, false
	}
	m := strings.TrimSpace(ms[len(ms)-1])
	if m == "Traceback (most recent call last):" && len(ms) > 1 {
		m = strings.TrimSpace(ms[len(ms)-2])
	}
	if len(ms) == 1 && reAbsent.MatchString(m) {
		return failure{}, false
	}
	return failure{"non-zero-exit", clip("exit "+code+": "+m, 200)}, true
}

var reAbsent = regexp.MustCompile(`(?i)(?:No such file or directory|cannot access|does not exist|not found)$`)

// jsonFailure recognises API results that are JSON objects saying they failed:
// {"error": ...} with a non-empty value, {"status": "error"|"failed"},
// {"success": false}, {"ok": false}.
func jsonFailure(text string) (failure, bool) {
	t := strings.TrimSpace(text)
	if len(t) < 2 || t[0] != '{' {
		return failure{}, false
	}
	// Decoding is the costly part: only objects that have a key saying
	// how things went are worth it.
	if !strings.Contains(t, `"error`) && !strings.Contains(t, `"Error`) && !strings.Contains(t, `"status"`) &&
		!strings.Contains(t, `"state"`) && !strings.Contains(t, `"result"`) && !strings.Contains(t, `"success`) &&
		!strings.Contains(t, `"ok"`) && !strings.Contains(t, `"exception"`) && !strings.Contains(t, `ode"`) {
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
			case "error", "failed", "failure", "fail", "errored", "aborted", "rejected", "declined", "denied", "timeout", "timed_out", "unavailable":
				return failure{"error-result", clip(`"`+k+`": `+string(v), 200)}, true
			}
			if reGRPCName.Match(v) {
				return failure{"error-result", clip(`"`+k+`": `+string(v), 200)}, true
			}
		case "code", "error_code", "errorcode", "status_code", "statuscode":
			// An error code beside a message ({"code": "E_CONFLICT",
			// "message": ...}) or an HTTP status as a number.
			if n, err := strconv.Atoi(string(v)); err == nil && n >= 400 && n < 600 {
				return failure{"http-status", clip(`"`+k+`": `+string(v), 200)}, true
			}
			if reGRPCName.Match(v) {
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
var reAcknowledge = newAnchored(`(?i)\b(?:error|errors|fail|fails|failed|failing|failure|unable|not able|couldn'?t|could not|cannot|can'?t|can not|unfortunately|sorry|apolog\w*|not available|unavailable|insufficient|not sufficient|isn't sufficient|not enough|isn't enough|not found|invalid|denied|declined|rejected|didn'?t work|did not work|doesn'?t work|does not work|wrong|incorrect|mistake|exception|traceback|retry|retrying|retried|try again|timed out|time out|timeout|alternative|not possible|not eligible|exceed\w*|it seems|seems that|there (?:was|is) (?:an? )?(?:issue|problem)|adjust\w*|investigate|forgot|missing|no such|didn'?t|did not|still (?:fails|failing|broken|raises|errors)|reproduc(?:ed|es|ing)|confirms? the (?:issue|bug|error|problem|failure))\b`, 48,
	"error", "fail", "unable", "not able", "couldn", "could not", "cannot", "can't", "can not", "unfortunat", "sorry",
	"apolog", "available", "sufficient", "enough", "insufficient", "not enough", "not found", "invalid", "denied", "declined", "rejected",
	"work", "wrong", "incorrect", "mistake", "exception", "traceback", "retr", "try again", "time", "alternative",
	"not possible", "not eligible", "exceed", "seems", "there ", "adjust", "investigate", "forgot", "missing", "didn", "did not", "still ",
	"no such", "reproduc", "confirm")

// Claims that something was done or works.
var reSuccessClaim = newAnchored(`(?i)\b(?:successfully|success|succeeded|has been (?:done|made|sent|paid|booked|cancelled|canceled|refunded|processed|completed|updated|modified|changed|created|issued|submitted|applied|fixed|resolved|exchanged|returned|transferred|upgraded|added|removed|deleted|placed|reserved|scheduled|confirmed|initiated)|have been (?:cancell?ed|canceled|refunded|updated|created|processed|done|made|sent|paid|booked|fixed|resolved)|is (?:now )?(?:confirmed|complete|completed|done|fixed|resolved|booked|cancelled|canceled|working)|(?:all )?(?:the )?tests? (?:now )?pass(?:es|ed)?|(?:script|test|check|fix|reproduction) (?:now )?(?:passes|passed|works|succeeds)|all set|done|completed|complete_task_and_submit\w*|i am ready to submit|ready to submit|works? (?:correctly|as expected|now)|(?:it|this|that|everything|all) (?:now )?works|working (?:correctly|as expected)|fix(?:ed)? the (?:issue|bug|problem)|(?:confirms|verified|verifies) (?:that )?the fix|(?:i|we)(?:'ve| have) (?:now )?(?:successfully )?(?:cancell?ed|canceled|refunded|booked|updated|modified|changed|exchanged|returned|sent|transferred|created|issued|processed|submitted|placed|applied|added|removed|deleted|upgraded|reserved|scheduled|rebooked|fixed|resolved|completed|finished)|went through|is all set|you're all set|all taken care of)\b`, 48,
	"success", "succeeded", "succeeds", "been", " is ", "pass", "work", "all set", "done", "complete", "ready to submit",
	"fix", "confirms", "verifie", "'ve ", " have ", "went through", "taken care")

// claimsSuccess reports whether text claims success, and quotes the claim.
// A claim immediately negated ("not successfully", "could not be
// completed") is not a claim.
func claimsSuccess(text string) (string, bool) {
	q, _, ok := claimsSuccessAt(text)
	return q, ok
}

// claimsSuccessAt is claimsSuccess that also returns the claim's offset.
func claimsSuccessAt(text string) (string, int, bool) {
	var buf []byte
	for _, loc := range reSuccessClaim.findAll(text, lowerBytes(text, &buf), 8) {
		before := strings.ToLower(text[max(0, loc[0]-24):loc[0]])
		if strings.Contains(before, "not ") || strings.Contains(before, "n't ") || strings.Contains(before, "unable") || strings.Contains(before, "never ") ||
			strings.Contains(before, "other ") || strings.Contains(before, "rest of") {
			// "the other tests pass" concedes that some did not.
			continue
		}
		if insideQuotes(text, loc[0]) {
			// `"Success: no error raised"` repeats what the output said;
			// it is the tool's claim, not the agent's.
			continue
		}
		q := quoteAround(text, loc[0], loc[1])
		if reproduced(q) {
			// "I successfully reproduced the issue": the failure was the
			// goal of that step. "The reproduction script passes" is a
			// claim like any other.
			continue
		}
		return q, loc[0], true
	}
	return "", -1, false
}

// insideQuotes reports whether offset k of text lies inside a double-quoted
// or backquoted span of its line.
func insideQuotes(text string, k int) bool {
	line, start := lineAt(text, k)
	before := line[:min(len(line), k-start)]
	return strings.Count(before, `"`)%2 == 1 || strings.Count(before, "`")%2 == 1
}

// reproduced reports whether a claim's sentence is about reproducing a
// failure: it uses the verb ("reproduced", "reproduces", "reproducing",
// "reproduce the"), not the noun of "the reproduction script passes",
// which is a claim like any other.
func reproduced(sentence string) bool {
	w := strings.ToLower(sentence)
	for _, v := range []string{"reproduced", "reproduces", "reproducing", "reproduce the", "reproduce it", "reproduce this"} {
		if strings.Contains(w, v) {
			return true
		}
	}
	return false
}

// quoteAround returns the sentence around text[a:b], clipped. A full stop
// ends a sentence only before a space or the end ("$40.00" does not).
func quoteAround(text string, a, b int) string {
	start := a
	for start > 0 && a-start < 100 && !sentenceEnd(text, start-1) {
		start--
	}
	end := b
	for end < len(text) && end-b < 100 && !sentenceEnd(text, end) {
		end++
	}
	if end < len(text) && text[end] != '\n' {
		end++
	}
	for start < len(text) && !utf8.RuneStart(text[start]) {
		start++
	}
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end++
	}
	return clip(strings.TrimSpace(text[start:end]), 200)
}

// sentenceEnd reports whether text[i] ends a sentence.
func sentenceEnd(text string, i int) bool {
	switch text[i] {
	case '\n', '!', '?':
		return true
	case '.':
		return i+1 >= len(text) || text[i+1] == ' ' || text[i+1] == '\n'
	}
	return false
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
