package detect

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/probity/probity/toolclass"
)

// The structural half of injected-instruction. A phrase list finds the
// wordings it was written for; an attacker writes others. What every
// injection shares is structure: untrusted content that addresses the
// agent (by role or name, in a field named for it, through hidden text,
// markup inside data, or a chat template's role delimiters) and instructs
// an action (an imperative naming a tool of the run or a side-effecting
// verb). Both must hold near each other; either alone is ordinary data (a
// README says "run the tests", a log names the assistant).

// hiddenRunes are characters that render as nothing: zero-width spaces and
// joiners, the word joiner, the byte-order mark, the soft hyphen. Text
// sprinkled with them is written for a machine, not for a reader.
func hiddenRune(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e':
		return true
	}
	return false
}

// revealHidden removes invisible characters and decodes Unicode tag
// characters (U+E0020..U+E007E, invisible ASCII) into the text they
// spell, reporting whether there were any.
func revealHidden(s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s, false
	}
	var b strings.Builder
	hidden := false
	for _, r := range s {
		switch {
		case hiddenRune(r):
			hidden = true
		case r >= 0xE0020 && r <= 0xE007E:
			hidden = true
			b.WriteRune(r - 0xE0000)
		case r >= 0xE0000 && r <= 0xE007F:
			hidden = true
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), hidden
}

// reCarrier finds carriers that have no business in data and exist to
// reach a model: chat-template role delimiters, forged turn headers, fake
// ends of a tool's output, hidden HTML, comments in data.
var reCarrier = regexp.MustCompile(`(?i)` + strongCarriers + `|(?m:^\s*(?:#{1,6}\s*|\*\*)?(?:system|assistant|human|developer)(?:\*\*)?\s*:)|\b(?:end of (?:tool )?(?:output|result|response)|new instructions|updated instructions)\b|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0\b|color\s*:\s*(?:white|#fff\b|#ffffff)|<[a-z]+[^>]*\shidden\b|left\s*:\s*-\d{3,}|<!--|\[//\]:\s*#`)

// strongCarriers are the role delimiters of chat templates and forged
// system turns: no tool output or document has a reason to hold them, so
// they address the model wherever they appear, code output included.
const strongCarriers = `<\|(?:im_start|im_end|system|user|assistant|start_header_id|end_header_id|eot_id|begin_of_text)\|>|\[/?INST\]|<</?SYS>>|<start_of_turn>|<end_of_turn>|</?(?:system_message|system-message|system|tool_output|tool_result|function_results)>`

// strongCarrierIn matches a strong carrier, run only near the delimiters'
// openings (anchoredRE): it reads whole tool outputs.
var strongCarrierIn = newAnchored(`(?i)`+strongCarriers, 32, "<|", "[inst]", "[/inst]", "<<sys>>", "<</sys>>", "<start_of_turn>",
	"<end_of_turn>", "<system", "</system", "<tool_", "</tool_", "<function_results", "</function_results")

// reAddressee names the agent: its role, its kind, common model names, in
// English and the languages agents are most often run in.
var reAddressee = regexp.MustCompile(`(?i)\b(?:ai|a\.i\.|assistants?|agents?|llms?|(?:language|ai) models?|chat ?bots?|copilot|claude|gpt|chatgpt|automated systems?|asistente|assistente|assistent(?:in)?|agente)\b|助手|助理|人工智能|智能体`)

// reDirective marks an instruction: a modal or a request before a verb.
var reDirective = regexp.MustCompile(`(?i)\b(?:please|kindly|must|should|shall|need to|needs to|required to|is to|are to|will now|now|immediately|next step is(?: to)?|proceed to|go ahead and|make sure to|be sure to|remember to|don't forget to|do not forget to|asks? (?:you|that you) to|requests? that you|instructed to|authori[sz]ed to|expected to|has to|have to|you'?ll|you will|then)\b`)

// actionVerbs are verbs of doing, beyond the tool-name verbs of
// toolclass: what an injection asks a shopping, travel or coding agent
// to do.
var actionVerbs = []string{"call", "invoke", "run", "execute", "issue", "send", "cancel", "refund", "transfer", "book",
	"update", "modify", "change", "delete", "remove", "grant", "give", "apply", "waive", "upgrade", "add", "pay",
	"charge", "credit", "compensate", "approve", "exchange", "return", "ship", "forward", "email", "share", "export",
	"install", "download", "curl", "wget", "pip", "push", "commit", "upload", "post", "append", "write", "copy",
	"disable", "reset", "rebook", "reissue", "process", "escalate", "provide", "offer", "confirm", "set"}

var reActionVerb = regexp.MustCompile(`(?i)\b(?:` + strings.Join(actionVerbs, "|") + `)\b`)

// rePayload matches what an instruction hidden in code or documents asks a
// coding agent to run: a download piped into a shell, a package from
// another index, a forced push, a key added to authorized_keys, the
// environment sent away. A sentence telling its reader to do one of these
// is aimed at an agent that runs commands.
var rePayload = regexp.MustCompile(`(?i)\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b|--(?:extra-)?index-url\s+\S+|\bgit\s+push\s+(?:-f|--force)\b|\bgit\s+push\b[^\n]{0,80}--force|authorized_keys|\b(?:env|printenv|set)\b\s*\|\s*(?:curl|wget|nc)\b|\bnc\s+-e\b|\$\((?:env|printenv)\)`)

// payloadIn and addresseeIn run rePayload and reAddressee only near the
// words every match holds (anchoredRE): scanning whole tool outputs, the
// bare patterns were most of analyze's time on coding runs (rePayload's
// bounded repeats cost about 7 ms per 64 KiB).
var (
	// payloadIn is rePayload one branch at a time, each behind its own
	// words: "nc" is inside too many words to run the whole pattern there.
	payloadIn = []*anchoredRE{
		newAnchored(`(?i)\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b`, 240, "curl", "wget"),
		newAnchored(`(?i)--(?:extra-)?index-url\s+\S+`, 64, "index-url"),
		newAnchored(`(?i)\bgit\s+push\s+(?:-f|--force)\b|\bgit\s+push\b[^\n]{0,80}--force`, 120, "push"),
		newAnchored(`(?i)authorized_keys`, 0, "authorized_keys"),
		newAnchored(`(?i)\b(?:env|printenv|set)\b\s*\|\s*(?:curl|wget|nc)\b|\bnc\s+-e\b`, 64, "curl", "wget", "nc"),
		newAnchored(`(?i)\$\((?:env|printenv)\)`, 16, "$("),
	}
	addresseeIn = newAnchored(reAddressee.String(), 24, `\bai\b`, "a.i.", "assistant", "agent", "llm", "model", "chat", "copilot",
		"claude", "gpt", "system", "asistente", "assistente", "assistent", "agente", "助手", "助理", "人工智能", "智能体")
)

// hasPayload reports whether rePayload matches text; lower is text with
// ASCII letters lower-cased.
func hasPayload(text string, lower []byte) bool {
	for _, p := range payloadIn {
		if p.find(text, lower) != nil {
			return true
		}
	}
	return false
}

// structuralInjection returns the location in text of an instruction
// addressed to the agent, judged by structure, or nil. tools are the
// names of the run's tools; a multi-word tool name counts as naming an
// action wherever it appears.
func structuralInjection(text string, tools []string) []int {
	view, hidden := revealHidden(text)
	var leaves []jsonLeaf
	if t := strings.TrimSpace(view); len(t) > 1 && (t[0] == '{' || t[0] == '[') && len(t) < 1<<20 {
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			leaves = stringLeaves(v, "", nil, 0)
		}
	}
	if leaves != nil {
		// Data: every string value is judged on its own, with its key.
		// A string in a record that addresses the reader and tells it to
		// act is an instruction hidden in data.
		for _, l := range leaves {
			val, hid := revealHidden(l.val)
			keyAddressed := reAddressee.MatchString(keySpaces.Replace(l.key)) ||
				strings.Contains(strings.ToLower(l.key), "instruction") || strings.Contains(strings.ToLower(l.key), "directive")
			carrier := hidden || hid || reCarrier.MatchString(val)
			if loc := instructionIn(val, tools, keyAddressed || carrier, true); loc != nil {
				if k := strings.Index(text, head(l.val, 40)); k >= 0 {
					return []int{k, min(len(text), k+len(l.val))}
				}
				return []int{0, min(len(text), 200)}
			}
		}
		return nil
	}
	// Outside data (command output, source, documents) imperatives and
	// comments are ordinary: only hidden text or a chat template's role
	// delimiters address the model by themselves.
	var buf []byte
	carrier := hidden || strongCarrierIn.find(view, lowerBytes(view, &buf)) != nil
	if loc := instructionIn(view, tools, carrier, false); loc != nil {
		if view != text {
			return []int{0, min(len(text), 200)}
		}
		return loc
	}
	return nil
}

// keySpaces turns the separators of a name (a JSON key, a field or
// category value) into spaces, so "note_to_assistant" names its addressee
// as a word and "economy-plus" compares with "economy plus". Made once:
// a Replacer is costly to build.
var keySpaces = strings.NewReplacer("_", " ", "-", " ")

type jsonLeaf struct{ key, val string }

// stringLeaves lists the string values of a decoded JSON document with the
// key that holds each (keys of nested objects joined by dots).
func stringLeaves(v any, key string, out []jsonLeaf, depth int) []jsonLeaf {
	if depth > 12 || len(out) > 4096 {
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = stringLeaves(x[k], key+"."+k, out, depth+1)
		}
	case []any:
		for _, e := range x {
			out = stringLeaves(e, key, out, depth+1)
		}
	case string:
		if len(x) >= 12 {
			out = append(out, jsonLeaf{key, x})
		}
	}
	if out == nil {
		out = []jsonLeaf{}
	}
	return out
}

// instructionIn finds a sentence of text that instructs an action and is
// addressed to the agent: it names the agent, or addressed says the
// carrier already addresses it (a field named for the assistant, hidden
// text, role delimiters). In data (inData), a request to the reader to
// act is addressed to whoever reads it: the agent.
func instructionIn(text string, tools []string, addressed, inData bool) []int {
	if len(text) < 12 {
		return nil
	}
	h := head(text, 64<<10)
	var buf []byte
	lower := lowerBytes(h, &buf)
	// An instruction counts only near an addressee, a payload or (in data)
	// a directive. Sentences split after a non-word character, so a
	// sentence that has one means the whole text has it: when the text has
	// none, no sentence can be an instruction, and the per-sentence verb
	// search, the costly part on long tool output, is skipped.
	if !addressed && addresseeIn.find(h, lower) == nil && !hasPayload(h, lower) &&
		(!inData || !reDirective.MatchString(strings.ToLower(h))) {
		return nil
	}
	units := sentences(h)
	for k, u := range units {
		low := strings.ToLower(u.text)
		if !instructs(u.text, low, tools) {
			continue
		}
		near := addressed || inData && reDirective.MatchString(low) || hasPayload(u.text, lower[u.start:u.start+len(u.text)])
		if !near {
			// The addressee may open the instruction ("AI assistant:") or
			// stand in the sentence before it.
			near = reAddressee.MatchString(u.text) || k > 0 && reAddressee.MatchString(units[k-1].text)
		}
		if near {
			return []int{u.start, u.start + len(u.text)}
		}
	}
	return nil
}

// instructs reports whether a sentence tells its reader to act: it names
// a multi-word tool of the run, or it has an action verb that opens the
// sentence (an imperative, after an optional addressee or "please") or
// follows a directive ("you must", "the next step is to", "kindly").
func instructs(s, low string, tools []string) bool {
	for _, t := range tools {
		if strings.Contains(s, t) && len(toolclass.Words(t)) >= 2 {
			return true
		}
	}
	locs := reActionVerb.FindAllStringIndex(low, 4)
	for _, loc := range locs {
		before := low[:loc[0]]
		if d := reDirective.FindAllStringIndex(before, -1); d != nil && loc[0]-d[len(d)-1][1] <= 24 {
			return true
		}
		// An imperative: the verb opens the sentence, after markup, an
		// addressee ("AI assistant:", "Agent,") or a courtesy.
		lead := strings.TrimSpace(strings.Trim(before, " \t\n-*#>[](){}:;,.!\"'`/"))
		if lead == "" || reAddressee.MatchString(lead) && utf8.RuneCountInString(lead) <= 40 && strings.ContainsAny(before, ":,") {
			return true
		}
	}
	return false
}
