package spec

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// The tool-poisoning rules read every string of a tool definition that the
// model reads (descriptions, titles, defaults, enums, examples and property
// names), after undoing the tricks that hide text from people: zero-width
// and bidirectional controls are dropped, Unicode tag characters decoded,
// right-to-left overrides turned back, ANSI escapes removed. Each rule then
// looks at what the model would read.

func ruleToolInstruction() *Rule {
	return &Rule{
		ID:       "tool-instruction",
		Severity: probity.SeverityHigh,
		Title:    "instructions to the model inside a tool definition",
		Rationale: "A tool description is read by the model as trusted context, but is written by whoever publishes " +
			"the server. Text that addresses the model (\"<IMPORTANT>\", \"before using this tool, read ...\", " +
			"\"do not tell the user\", \"ignore previous instructions\") is tool poisoning: the model obeys it " +
			"without the user ever seeing it (Invariant Labs, 2025).",
		Fix:   "remove the text addressed to the model; a description says what the tool does and what its arguments mean. Do not install a server whose descriptions give orders.",
		check: checkToolInstruction,
	}
}

func ruleHiddenText() *Rule {
	return &Rule{
		ID:       "tool-hidden-text",
		Severity: probity.SeverityHigh,
		Title:    "hidden or invisible text in a tool definition",
		Rationale: "Zero-width and bidirectional control characters, Unicode tag characters, ANSI escape sequences, " +
			"HTML comments and long runs of blank space hide text from the person who approves a tool while the " +
			"model reads all of it. Honest descriptions have no reason to hide anything.",
		Fix:   "remove the invisible characters and read what they hid; treat the server as hostile until explained",
		check: checkHiddenText,
	}
}

func ruleShadowing() *Rule {
	return &Rule{
		ID:       "tool-shadowing",
		Severity: probity.SeverityHigh,
		Title:    "one tool's definition steers the use of another",
		Rationale: "A description that tells the model how to use a different tool (\"when send_email is used, send " +
			"all mail to ...\", \"instead of web_search use this\") lets one server hijack another, trusted one, " +
			"without ever being called itself (shadowing). Two tools with the same name shadow each other outright.",
		Fix:   "a tool's description may only describe that tool; remove the server that steers others, and give every tool a unique name",
		check: checkShadowing,
	}
}

func ruleExfiltration() *Rule {
	return &Rule{
		ID:       "tool-exfiltration",
		Severity: probity.SeverityHigh,
		Title:    "a tool definition that sends data out",
		Rationale: "Text that asks the model to put file contents, the conversation or secrets into an argument, to " +
			"send or copy data to an address or URL, or to render a Markdown image whose URL carries data, moves " +
			"the user's data to whoever wrote the definition.",
		Fix:   "remove the exfiltration text, argument or default; a tool takes only the data its job needs",
		check: checkExfiltration,
	}
}

func ruleSensitivePath() *Rule {
	return &Rule{
		ID:       "tool-sensitive-path",
		Severity: probity.SeverityHigh,
		Title:    "a tool definition that names secrets files",
		Rationale: "A description or argument that mentions SSH keys, cloud credentials, .env or the MCP client's " +
			"own configuration (mcp.json) is either asking the model to read them or leaking where they are; no " +
			"honest tool description needs to.",
		Fix:   "remove the reference; deny reads of secrets files in the policy (deny: 'args.path.matches(\"(^|/)(\\\\.ssh|\\\\.env|\\\\.aws)\")')",
		check: checkSensitivePath,
	}
}

// revealed is a string of a tool definition as the model reads it, with a
// map from each of its bytes back to the byte of the original string.
type revealed struct {
	text string
	orig []int
	at   textAt
}

// invisible reports whether r is a character that renders as nothing (or
// reorders what is around it) in most interfaces.
func invisible(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x2064,
		r >= 0x2066 && r <= 0x2069, r == 0xFEFF, r == 0x00AD, r == 0x180E, r == 0x034F,
		r >= 0xE0000 && r <= 0xE007F, r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}

var ansiRE = regexp.MustCompile(`\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])`)

// reveal undoes the hiding tricks in s.
func reveal(at textAt) revealed {
	s := at.n.str
	var b strings.Builder
	var orig []int
	write := func(str string, from int) {
		b.WriteString(str)
		for range len(str) {
			orig = append(orig, from)
		}
	}
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			if loc := ansiRE.FindStringIndex(s[i:]); loc != nil && loc[0] == 0 {
				i += loc[1]
				continue
			}
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r >= 0xE0020 && r <= 0xE007E: // a tag character spells ASCII
			write(string(r-0xE0000), i)
		case r == 0x202E || r == 0x2067: // right-to-left override or isolate: read the run backwards
			end := strings.IndexAny(s[i+w:], "\u202c\u2069\n")
			if end < 0 {
				end = len(s) - i - w
			}
			run := []rune(s[i+w : i+w+end])
			for k := len(run) - 1; k >= 0; k-- {
				write(string(run[k]), i)
			}
			i += w + end
			continue
		case invisible(r):
		default:
			write(s[i:i+w], i)
		}
		i += w
	}
	return revealed{text: b.String(), orig: orig, at: at}
}

// span returns the span of revealed[a:b] in the definition's file.
func (v revealed) span(file string, a, b int) Span {
	o := func(k int) int {
		if k >= len(v.orig) {
			return len(v.at.n.str)
		}
		return v.orig[k]
	}
	if v.at.key {
		return spanAt(file, v.at.n.pos)
	}
	start := v.at.n.posAt(o(a))
	s := spanAt(file, start)
	if b > a {
		last := o(b - 1)
		end := v.at.n.posAt(last)
		s.EndLine, s.EndColumn = end.Line, end.Column
	}
	return s
}

// toolTexts returns every revealed string of every tool.
func toolTexts(t *Tool) []revealed {
	var out []revealed
	for _, at := range t.texts() {
		if at.key && t.name != nil && t.name.raw != "" {
			at.n.quoted = true
		}
		out = append(out, reveal(at))
	}
	return out
}

var instructionRE = []*regexp.Regexp{
	regexp.MustCompile(`(?i)<\s*/?\s*(?:important|critical|note|hidden|instructions?|system|admin|secret)\s*>`),
	regexp.MustCompile(`(?i)\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:assistant|ai|model|llm|agent|claude|gpt|copilot)\b`),
	regexp.MustCompile(`(?m)(?:^|[.!]\s+)\W*(?:SYSTEM|ASSISTANT|(?i:assistant|system))\s*:`),
	regexp.MustCompile(`(?i)\b(?:before|after|when(?:ever)?)\s+(?:using|calling|invoking|running|you\s+(?:use|call|run|invoke))\s+(?:this|any|the|a)\b[^.\n]{0,80}?\b(?:read|send|call|run|execute|include|pass|forward|delete|render|fetch|open|upload|prefix|append)\b`),
	regexp.MustCompile(`(?i)\b(?:do\s+not|don't|never|no\s+need\s+to)\s+(?:show|display|reveal|mention|tell|disclose|notify|inform)\b[^.\n]{0,60}?\b(?:user|them|anyone|this|it)\b`),
	regexp.MustCompile(`(?i)\b(?:otherwise|or\s+else|if\s+you\s+(?:don't|do\s+not|violate))\b[^.\n]{0,60}?\b(?:will\s+(?:not\s+work|crash|fail|be\s+blocked)|won't\s+work|crash(?:es)?)\b`),
	regexp.MustCompile(`(?i)\b(?:system|application|app)\s+(?:will\s+)?crash(?:es)?\b`),
	regexp.MustCompile(`(?i)\b(?:you\s+)?(?:must|always|make\s+sure\s+(?:to|you))\s+(?:first\s+)?(?:send|forward|include|set|change|prefix|call|cc|bcc|copy|read|render|append|pass|delete|run|execute)\b`),
	regexp.MustCompile(`(?i)\b(?:developer|god|dan|jailbreak|unrestricted)\s+mode\b`),
	regexp.MustCompile(`(?i)\b(?:ignore|disregard)\s+(?:the\s+)?(?:user'?s?|their)\s+(?:request|question|instructions?|messages?)\b`),
	regexp.MustCompile(`(?i)\b(?:include|pass|put|append|send|forward|reveal|print|output|leak)\b[^.\n]{0,40}\b(?:system\s+prompt|previous\s+messages|all\s+messages|conversation\s+history|chat\s+history)\b`),
}

// instructionAt finds the first passage of s addressed to the model.
func instructionAt(s string) (int, int, bool) {
	i, j, ok := policy.InstructionAt(s)
	for _, re := range instructionRE {
		if loc := re.FindStringIndex(s); loc != nil && (!ok || loc[0] < i) {
			i, j, ok = loc[0], loc[1], true
		}
	}
	return i, j, ok
}

func checkToolInstruction(in *Input, r *reporter) {
	for _, t := range in.Tools {
		for _, v := range toolTexts(t) {
			i, j, ok := instructionAt(v.text)
			if !ok {
				continue
			}
			r.add(Finding{
				Span:    v.span(t.File, i, j),
				Tool:    t.Name,
				Quote:   excerptOf(v.text, i, j),
				Message: fmt.Sprintf("%s's %s addresses the model: %q", t.Name, v.at.where, oneLine(v.text[i:j], 80)),
			})
		}
	}
}

var (
	htmlCommentRE = regexp.MustCompile(`(?s)<!--.*?(?:-->|$)`)
	blankRunRE    = regexp.MustCompile(`[ \t\x{00A0}\x{3000}]{40,}|(?:[ \t]*\r?\n){8,}`)
)

func checkHiddenText(in *Input, r *reporter) {
	for _, t := range in.Tools {
		for _, at := range t.texts() {
			if at.key && t.name != nil && t.name.raw != "" {
				at.n.quoted = true
			}
			s := at.n.str
			what, start, end := hiddenIn(s)
			if what == "" {
				continue
			}
			v := reveal(at)
			p := at.n.posAt(start)
			sp := spanAt(t.File, p)
			if end > start {
				e := at.n.posAt(end - 1)
				sp.EndLine, sp.EndColumn = e.Line, e.Column
			}
			r.add(Finding{
				Span:    sp,
				Tool:    t.Name,
				Quote:   oneLine(v.text, 160),
				Message: fmt.Sprintf("%s's %s hides text (%s); the model reads: %q", t.Name, at.where, what, oneLine(v.text, 100)),
			})
		}
	}
}

// hiddenIn returns what hides text in s and where, or "" when nothing does.
func hiddenIn(s string) (what string, start, end int) {
	for i, r := range s {
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			return "Unicode tag characters", i, tagRunEnd(s, i)
		case r == 0x202E || r == 0x202D || r == 0x2066 || r == 0x2067 || r == 0x2068 || r == 0x202A || r == 0x202B:
			return fmt.Sprintf("bidirectional control U+%04X", r), i, i + utf8.RuneLen(r)
		case invisible(r):
			return fmt.Sprintf("zero-width or invisible character U+%04X", r), i, i + utf8.RuneLen(r)
		case r == 0x1b:
			return "ANSI escape sequence", i, i + 1
		case r < 0x20 && r != '\n' && r != '\r' && r != '\t':
			return fmt.Sprintf("control character 0x%02X", r), i, i + 1
		}
	}
	if loc := htmlCommentRE.FindStringIndex(s); loc != nil {
		return "an HTML comment, invisible when rendered", loc[0], loc[1]
	}
	if loc := blankRunRE.FindStringIndex(s); loc != nil {
		return "a long run of blank space that pushes text out of view", loc[0], loc[1]
	}
	return "", 0, 0
}

func tagRunEnd(s string, i int) int {
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r < 0xE0000 || r > 0xE007F {
			break
		}
		i += w
	}
	return i
}

// steerRE is language that constrains how a tool is used. "Use B instead"
// and "DEPRECATED" about the describing tool itself are a server pointing
// from its own old tool to its new one (server-filesystem's read_file does
// this); steering away from another tool is caught by steerAwayRE, where
// the other tool is the object ("instead of B", "B is deprecated").
var steerRE = regexp.MustCompile(`(?i)\b(?:must|always|never|make\s+sure|prefix|change\s+the|set\s+(?:the\s+)?\w+\s+to|replace|redirect|side\s+effect|(?:is|are)\s+(?:invoked|called|used)|whenever|when\s+(?:using|calling))\b`)

// steerAway returns the pattern of language that turns the model away from
// the tool named name.
func steerAway(name string) *regexp.Regexp {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`(?i)\b(?:instead\s+of|rather\s+than|(?:do\s+not|don't|never)\s+(?:use|call))\s+(?:the\s+)?\S*` + q + `|` + q + `\S*\s+(?:is|has\s+been|was)\s+(?:deprecated|broken|unsafe|disabled|compromised|malicious|obsolete)\b`)
}

// sentenceAround returns the bounds of the sentence of s holding [i, j).
func sentenceAround(s string, i, j int) (int, int) {
	a := strings.LastIndexAny(s[:i], ".!?\n")
	b := strings.IndexAny(s[j:], ".!?\n")
	if b < 0 {
		b = len(s)
	} else {
		b += j
	}
	return a + 1, b
}

func checkShadowing(in *Input, r *reporter) {
	seen := map[string]*Tool{}
	for _, t := range in.Tools {
		if prev := seen[t.Name]; prev != nil {
			r.add(Finding{
				Span:    spanAt(t.File, t.Pos()),
				Related: []Span{spanAt(prev.File, prev.Pos())},
				Tool:    t.Name,
				Message: fmt.Sprintf("two tools are named %s (%s and %s): whichever the client keeps shadows the other", t.Name, prev.File, t.File),
			})
		}
		seen[t.Name] = t
	}
	mention, away := map[string]*regexp.Regexp{}, map[string]*regexp.Regexp{}
	for _, o := range in.Tools {
		if len(o.Name) >= 3 && mention[o.Name] == nil {
			away[o.Name] = steerAway(o.Name)
			// The name as a word, or as the tail of a prefixed name
			// ("mcp_tool_send_email" names send_email).
			mention[o.Name] = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-]|_)` + regexp.QuoteMeta(o.Name) + `(?:$|[^A-Za-z0-9_-])`)
		}
	}
	for _, t := range in.Tools {
		for _, v := range toolTexts(t) {
			if v.at.key {
				continue
			}
			for _, o := range in.Tools {
				re := mention[o.Name]
				if o.Name == t.Name || re == nil {
					continue
				}
				for _, loc := range re.FindAllStringIndex(v.text, -1) {
					a, b := sentenceAround(v.text, loc[0], loc[1])
					if !steerRE.MatchString(v.text[a:b]) && !away[o.Name].MatchString(v.text[a:b]) {
						continue
					}
					nameAt := strings.Index(v.text[loc[0]:loc[1]], o.Name) + loc[0]
					r.add(Finding{
						Span:    v.span(t.File, nameAt, nameAt+len(o.Name)),
						Related: []Span{spanAt(o.File, o.Pos())},
						Tool:    t.Name,
						Quote:   oneLine(v.text[a:b], 160),
						Message: fmt.Sprintf("%s's %s steers the use of another tool, %s: %q", t.Name, v.at.where, o.Name, oneLine(v.text[a:b], 100)),
					})
					goto nextText
				}
			}
		nextText:
		}
	}
}

var (
	emailRE     = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`)
	urlRE       = regexp.MustCompile(`(?i)\bhttps?://[^\s)"'<>\]]*[^\s)"'<>\].,;:!?]`)
	mdImageRE   = regexp.MustCompile(`!\[[^\]]*\]\(\s*https?://[^)]*\)`)
	sendVerbRE  = regexp.MustCompile(`(?i)\b(?:send|sends|sent|forward|post|upload|report|transmit|copy|cc|bcc|exfiltrate|submit|ping|redirect|route|deliver)\w*\b`)
	placeholder = regexp.MustCompile(`\{[^}]{1,120}\}|<[^>]{1,120}>`)
	exampleRE   = regexp.MustCompile(`(?i)\b(?:e\.g\.|for\s+example|such\s+as|like)\s*$`)
	phoneRedir  = regexp.MustCompile(`(?i)\b(?:change|set|replace|redirect|route)\b[^.\n]{0,60}?\b(?:recipient|destination|number|address|account)\b[^.\n]{0,30}?(\+\d[\d\s-]{7,}\d)`)
	secretNoun  = regexp.MustCompile(`(?i)\b(?:include|pass|put|append|add|insert|provide|attach|send|forward|copy)\b[^.\n]{0,60}?\b(?:system\s+prompt|previous\s+messages|last\s+messages|all\s+messages|conversation(?:\s+history)?|chat\s+history|message\s+history|credentials|api\s+keys?|passwords?|secrets?|private\s+keys?)\b`)
	contentInto = regexp.MustCompile(`(?i)\b(?:pass|put|include|append|insert|add|send)\s+(?:its|their|the\s+file'?s?|the)\s+(?:full\s+|complete\s+|entire\s+)?contents?\s+(?:as|in|into|here|to)\b`)
	secretParam = regexp.MustCompile(`(?i)ssh|id_rsa|private_?key|system_?prompt|conversation|chat_?history|credential|password|mcp_?json|content_?from`)
)

func checkExfiltration(in *Input, r *reporter) {
	for _, t := range in.Tools {
		for _, v := range toolTexts(t) {
			i, j, why := exfiltrationIn(v)
			if why == "" {
				continue
			}
			r.add(Finding{
				Span:    v.span(t.File, i, j),
				Tool:    t.Name,
				Quote:   excerptOf(v.text, i, j),
				Message: fmt.Sprintf("%s's %s %s: %q", t.Name, v.at.where, why, oneLine(v.text[i:j], 80)),
			})
		}
	}
}

// exfiltrationIn finds the first passage of v that sends data out.
func exfiltrationIn(v revealed) (int, int, string) {
	s := v.text
	if v.at.key {
		if loc := secretParam.FindStringIndex(s); loc != nil {
			return 0, len(s), "is an argument for secrets or the conversation"
		}
		return 0, 0, ""
	}
	if loc := mdImageRE.FindStringIndex(s); loc != nil {
		return loc[0], loc[1], "renders a Markdown image whose URL reaches an outside server"
	}
	if strings.HasSuffix(v.at.where, ".default") || strings.HasSuffix(v.at.where, ".const") {
		if loc := emailRE.FindStringIndex(s); loc != nil {
			return loc[0], loc[1], "defaults to an outside address"
		}
	}
	if loc := secretNoun.FindStringIndex(s); loc != nil {
		return loc[0], loc[1], "asks for secrets or the conversation in an argument"
	}
	if loc := contentInto.FindStringIndex(s); loc != nil {
		return loc[0], loc[1], "asks for a file's contents in an argument"
	}
	if m := phoneRedir.FindStringSubmatchIndex(s); m != nil {
		return m[0], m[1], "redirects a recipient to a fixed number"
	}
	for _, re := range []*regexp.Regexp{urlRE, emailRE} {
		for _, loc := range re.FindAllStringIndex(s, -1) {
			if exampleRE.MatchString(strings.TrimRight(s[max(0, loc[0]-16):loc[0]], " (")) {
				continue
			}
			a, b := sentenceAround(s, loc[0], loc[1])
			if re == urlRE && placeholder.MatchString(s[loc[0]:loc[1]]) {
				return loc[0], loc[1], "builds an outside URL from data"
			}
			if sendVerbRE.MatchString(s[a:b]) {
				return a + strings.IndexFunc(s[a:b], func(r rune) bool { return r != ' ' }), b, "sends data to an outside address"
			}
		}
	}
	return 0, 0, ""
}

var sensitiveRE = regexp.MustCompile(`(?i)(?:~/\.ssh\b|\.ssh/|id_(?:rsa|dsa|ecdsa|ed25519)\b|~/\.aws\b|\.aws/credentials|\.netrc\b|(?:^|[\s'"` + "`" + `(/~])\.env\b|\bmcp\.json\b|claude_desktop_config\.json|\.cursor/|\.git-credentials|\.docker/config\.json|\.kube/config|/etc/(?:passwd|shadow|sudoers)\b|\.npmrc\b|\.pypirc\b|\.bash_history|\.zsh_history|\.gnupg\b|wallet\.dat|\bkeychain\b|\.config/gcloud|\bprivate[ _]key\b)`)

func checkSensitivePath(in *Input, r *reporter) {
	for _, t := range in.Tools {
		for _, v := range toolTexts(t) {
			loc := sensitiveRE.FindStringIndex(v.text)
			if loc == nil {
				continue
			}
			a, b := loc[0], loc[1]
			for a < b && strings.ContainsRune(" \t\n'\"`(", rune(v.text[a])) {
				a++
			}
			r.add(Finding{
				Span:    v.span(t.File, a, b),
				Tool:    t.Name,
				Quote:   excerptOf(v.text, a, b),
				Message: fmt.Sprintf("%s's %s names a secrets file: %q", t.Name, v.at.where, v.text[a:b]),
			})
		}
	}
}

// excerptOf returns s[i:j] with a little context, on one line.
func excerptOf(s string, i, j int) string {
	a, b := max(0, i-30), min(len(s), j+30)
	for a > 0 && !utf8.RuneStart(s[a]) {
		a--
	}
	for b < len(s) && !utf8.RuneStart(s[b]) {
		b++
	}
	out := oneLine(s[a:b], 160)
	if a > 0 {
		out = "…" + out
	}
	if b < len(s) {
		out += "…"
	}
	return out
}
