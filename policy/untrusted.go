package policy

import (
	"regexp"

	"github.com/probity/probity/provenance"
)

// instructionPatterns are phrasings by which text addressed to a model tries
// to take control of it. They are deliberately narrow: ordinary imperative
// text in tool results and tool descriptions ("Use this tool to read a file",
// "Only works within allowed directories") must not match, or every run would
// look tainted.
var instructionPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*(previous|prior|above|earlier|preceding|system|original)\s+(instructions?|prompts?|rules|directions|guidelines)`),
	regexp.MustCompile(`(?i)\b(do\s+not|don'?t|never)\s+(tell|inform|mention\s+(this\s+)?to|reveal\s+(this\s+)?to|notify|alert)\s+(the\s+)?user\b`),
	regexp.MustCompile(`(?i)\b(do\s+not|don'?t|never)\s+mention\s+that\b`),
	regexp.MustCompile(`(?i)<\s*/?\s*(important|system|instructions?|admin|secret)\s*>`),
	regexp.MustCompile(`(?i)\[\s*(INST|SYSTEM)\s*\]`),
	regexp.MustCompile(`(?i)\byou\s+are\s+now\s+(a|an|in|the)\b`),
	regexp.MustCompile(`(?i)\bnew\s+(system\s+)?instructions?\s*:`),
	regexp.MustCompile(`(?i)\b(read|open|cat|send|upload|include|pass)\b[^.\n]{0,60}(~/\.ssh|id_rsa|\.env\b|mcp\.json|credentials|private\s+key|api[_\s-]?key)`),
	regexp.MustCompile(`(?i)\botherwise\s+the\s+tool\s+(will\s+not|won'?t)\s+work\b`),
}

// InstructionLike reports whether text holds instruction-like text aimed at
// a model (prompt injection in a tool result, tool poisoning in a tool
// description) and returns the matching passage.
func InstructionLike(text string) (quote string, ok bool) {
	if i, j, ok := InstructionAt(text); ok {
		return provenance.Excerpt(text, i, j), true
	}
	return "", false
}

// InstructionAt is InstructionLike for callers that point at the passage:
// it returns the byte range text[i:j] of the first instruction-like match.
// Only the first MiB of text is read.
func InstructionAt(text string) (i, j int, ok bool) {
	if len(text) > 1<<20 {
		text = text[:1<<20]
	}
	best := -1
	for _, re := range instructionPatterns {
		if loc := re.FindStringIndex(text); loc != nil && (best < 0 || loc[0] < i) {
			best, i, j = 0, loc[0], loc[1]
		}
	}
	return i, j, best == 0
}
