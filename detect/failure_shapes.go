package detect

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// This file reads the failure shapes that are not an error field or a
// leading "Error:": a stack trace (Java, Python without its header, Node,
// .NET), an HTML error page, a gRPC status, a process killed by a signal,
// and a short message that names a failure (a timeout, a refused
// connection, a violated database constraint). Each needs structure or
// brevity as well as a word, because data mentions errors all the time.

// signalExits are the exit codes of a process killed by a signal that
// means it crashed: 128 + SIGABRT (6), SIGBUS (7), SIGFPE (8), SIGKILL (9,
// the out-of-memory killer), SIGSEGV (11); Python's subprocess reports the
// same as the negative signal number. Such an exit is a failure even when
// the process printed nothing.
var signalExits = map[string]string{
	"134": "SIGABRT", "135": "SIGBUS", "136": "SIGFPE", "137": "SIGKILL", "139": "SIGSEGV",
	"-6": "SIGABRT", "-7": "SIGBUS", "-8": "SIGFPE", "-9": "SIGKILL", "-11": "SIGSEGV",
}

// crashLines are what a shell prints for a process a signal killed.
var crashLines = []string{"Segmentation fault", "core dumped", "Bus error", "Floating point exception",
	"Illegal instruction", "Aborted", "Killed"}

// signalFailure reports a crash by signal: a signal exit code, with the
// shell's crash line quoted when there is one.
func signalFailure(text, code string) (failure, bool) {
	sig, ok := signalExits[code]
	if !ok {
		return failure{}, false
	}
	q := "exit " + code + " (" + sig + ")"
	for _, l := range crashLines {
		if k := strings.Index(text, l); k >= 0 {
			line, _ := lineAt(text, k)
			q += ": " + strings.TrimSpace(line)
			break
		}
	}
	return failure{"non-zero-exit", clip(q, 200)}, true
}

// reFrame matches one frame of a stack trace: Java and .NET ("at
// pkg.Class.method(File.java:12)"), Node ("at fn (file.js:3:7)", "at
// file.js:3:7"), Python ('File "x.py", line 3').
var reFrame = regexp.MustCompile(`^\s+(?:at [\w$.<>\[\]/\\:-]+(?: \[[^\]]*\])? ?\(|at [^\s()]+:\d+:\d+\s*$|File "[^"\n]+", line \d+)`)

// reExceptionLine matches the line naming an exception: an optionally
// qualified type ending in Error or Exception (or a package path through
// an errors/exceptions module), with its message.
var reExceptionLine = regexp.MustCompile(`^(?:Exception in thread "[^"]*" |Caused by: |Uncaught |Unhandled exception\. )?(?:[A-Za-z_$][\w$]*\.)*(?:[A-Z][\w$]*(?:Error|Exception|Fault|Failure)|(?:errors|exceptions)\.[A-Z]\w*)\b(?::[^\n]{0,200}|\s*$)`)

// stackFailure reports an exception with its stack trace: at least one
// frame line and a line naming the exception, in any order (Java prints
// the exception first, Python last, and `| tail` may cut the header off).
func stackFailure(text string) (failure, bool) {
	if !strings.Contains(text, "at ") && !strings.Contains(text, `File "`) {
		return failure{}, false
	}
	frames := 0
	exc := ""
	for off := 0; off < len(text) && off < 1<<20; {
		end := strings.IndexByte(text[off:], '\n')
		if end < 0 {
			end = len(text) - off
		}
		line := strings.TrimRight(text[off:off+end], "\r")
		off += end + 1
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if reFrame.MatchString(line) {
				frames++
			}
			continue
		}
		if (exc == "" || frames > 0 && strings.Contains(text[:off], `File "`)) && reExceptionLine.MatchString(line) {
			// Java's first exception line is the one that says what went
			// wrong; Python's is its last.
			if exc == "" || !strings.HasPrefix(exc, "Exception in thread") && !strings.Contains(exc, "Exception:") {
				exc = line
			}
		}
	}
	if frames == 0 || exc == "" {
		return failure{}, false
	}
	return failure{"exception", clip(strings.TrimSpace(exc), 200)}, true
}

var (
	reHTMLTitle  = regexp.MustCompile(`(?is)<(title|h1)[^>]*>(.{0,200}?)</(?:title|h1)>`)
	reHTMLStatus = regexp.MustCompile(`(?i)\b[45]\d\d\b|\berror\b|\bunavailable\b|\bbad gateway\b|\bforbidden\b|\bnot found\b|\btimed? ?out\b|\btoo many requests\b|\bdenied\b`)
)

// htmlErrorPage reports an HTML document (what a proxy or a web server
// sends instead of the API's answer) whose title or first heading names
// an error status: "502 Bad Gateway", "Error 1020", "Service Unavailable".
func htmlErrorPage(text string) (failure, bool) {
	t := strings.TrimLeft(text, " \t\r\n")
	h := strings.ToLower(head(t, 16))
	if !strings.HasPrefix(h, "<!doctype html") && !strings.HasPrefix(h, "<html") && !strings.HasPrefix(h, "<head") &&
		!strings.HasPrefix(h, "<title") && !strings.HasPrefix(h, "<body") && !strings.HasPrefix(h, "<center") {
		return failure{}, false
	}
	for _, m := range reHTMLTitle.FindAllStringSubmatch(head(t, 8192), 2) {
		if title := strings.TrimSpace(m[2]); reHTMLStatus.MatchString(title) {
			return failure{"http-status", clip("<"+strings.ToLower(m[1])+">"+title, 200)}, true
		}
	}
	return failure{}, false
}

// grpcCodes are the gRPC status names that mean a call failed. OK,
// CANCELLED and UNKNOWN are left out: the first is success, and the others
// are also ordinary record states ("status": "CANCELLED").
var grpcCodes = `UNAVAILABLE|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED|PERMISSION_DENIED|UNAUTHENTICATED|FAILED_PRECONDITION|INTERNAL|UNIMPLEMENTED|ABORTED|DATA_LOSS|INVALID_ARGUMENT|NOT_FOUND|ALREADY_EXISTS|OUT_OF_RANGE`

// reGRPCName matches a JSON string that is a gRPC failure status name.
var reGRPCName = regexp.MustCompile(`^"(?:` + grpcCodes + `)"$`)

// reGRPC is a gRPC error status: the Go, Python and log-line forms, one
// group each. It runs only near its words (anchoredRE), and the rest of
// the line a status quotes is taken by grpcFailure, not by the pattern:
// bounded repeats made it a slow scan of every tool result.
var reGRPC = newAnchored(`(\brpc error: code = [A-Z]\w+)|(\bStatusCode\.(?:`+grpcCodes+`)\b)|((?i:\bgrpc\b)[^\n]{0,60}\b(?:`+grpcCodes+`)\b)|((?i:\b(?:status|code))"?\s*[:=]\s*"?(?:`+grpcCodes+`)\b)`,
	96, "rpc error: code", "statuscode.", "grpc", "status", "code")

// grpcQuote is how much of the status's line each form of reGRPC quotes
// after the status.
var grpcQuote = [...]int{160, 160, 120, 120}

// grpcFailure reports a gRPC error status, as Go ("rpc error: code =
// Unavailable desc = ..."), Python (StatusCode.UNAVAILABLE) or a log line
// ("status: DEADLINE_EXCEEDED") print it.
func grpcFailure(text string) (failure, bool) {
	h := head(text, 4096)
	var buf []byte
	loc := reGRPC.find(h, lowerBytes(h, &buf))
	if loc == nil {
		return failure{}, false
	}
	quote := 0
	if g := reGRPC.re.FindStringSubmatchIndex(h[loc[0]:loc[1]]); g != nil {
		for i, n := range grpcQuote {
			if g[2+2*i] >= 0 {
				quote = n
				break
			}
		}
	}
	// As [^\n]{0,quote} would: up to quote characters, not past the line.
	end := loc[1]
	for n := 0; n < quote && end < len(h) && h[end] != '\n'; n++ {
		_, size := utf8.DecodeRuneInString(h[end:])
		end += size
	}
	return failure{"error-result", clip(h[loc[0]:end], 200)}, true
}

// shortFailureLen bounds the results shortFailure reads: an answer that
// short is a message about the call, not data that may quote errors.
const shortFailureLen = 400

// reShortFailure are the phrases by which a short message says the call
// failed: timeouts, refused or reset connections, overload, rate limits,
// refused access, and the database errors of PostgreSQL, MySQL and SQLite.
var reShortFailure = regexp.MustCompile(`(?i)\b(?:timed? ?out|timeout(?:error|exception)?|deadline exceeded|ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EPIPE|connection (?:refused|reset|aborted|closed unexpectedly)|service (?:is )?(?:temporarily )?unavailable|temporarily unavailable|internal server error|bad gateway|gateway timeout|too many requests|rate[- ]limit(?:ed| exceeded)?|quota exceeded|throttl(?:ed|ing)|not authori[sz]ed|unauthori[sz]ed|permission denied|access denied|forbidden|failed to \w+|could not \w+|unable to \w+|violates [\w ]*constraint|constraint failed|duplicate (?:key|entry)|deadlock detected|lock wait timeout|syntax error at or near|SQLSTATE|no such (?:table|column)|(?:relation|column|table) "?[\w.]+"? does not exist)\b`)

// shortFailure reports a short, non-JSON result that names a failure.
func shortFailure(text string) (failure, bool) {
	t := strings.TrimSpace(text)
	if len(t) == 0 || len(t) > shortFailureLen || t[0] == '{' || t[0] == '[' {
		return failure{}, false
	}
	if loc := reShortFailure.FindStringIndex(t); loc != nil {
		line, _ := lineAt(t, loc[0])
		return failure{"error-result", clip(strings.TrimSpace(line), 200)}, true
	}
	return failure{}, false
}

// leadingException reports a result that opens with an exception line
// ("java.lang.IllegalStateException: ...", "sqlite3.IntegrityError: ...",
// "psycopg2.errors.UniqueViolation: ..."): the tool handed the agent its
// exception instead of an answer.
func leadingException(text string) (failure, bool) {
	line := firstLine(text)
	if !strings.Contains(line, ":") || !reExceptionLine.MatchString(line) {
		return failure{}, false
	}
	return failure{"exception", clip(line, 200)}, true
}
