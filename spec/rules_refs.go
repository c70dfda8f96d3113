package spec

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/probity/probity"
)

func ruleUnknownTool() *Rule {
	return &Rule{
		ID:       "unknown-tool",
		Severity: probity.SeverityMedium,
		Title:    "the prompt names a tool that does not exist",
		Rationale: "The prompt tells the agent to use a tool it does not have (renamed, removed, or misspelt). A " +
			"literal interpreter calls a name that fails, or improvises with the nearest tool it has.",
		Fix:   "use the tool's real name, or remove the instruction",
		check: checkUnknownTool,
	}
}

func ruleUnknownArgument() *Rule {
	return &Rule{
		ID:       "unknown-argument",
		Severity: probity.SeverityMedium,
		Title:    "the prompt passes an argument the tool's schema lacks",
		Rationale: "The prompt shows a call with an argument the tool does not take. The model copies the example; " +
			"the call fails validation, or the server drops the argument silently and acts without it.",
		Fix:   "use the argument names of the tool's schema",
		check: checkUnknownArgument,
	}
}

func ruleDanglingPolicyRule() *Rule {
	return &Rule{
		ID:       "dangling-policy-rule",
		Severity: probity.SeverityMedium,
		Title:    "a policy rule for a tool that is not there",
		Rationale: "A policy rule names a tool that none of the given tool definitions has. The rule guards nothing: " +
			"the tool was renamed and the guard silently stopped applying, or the glob is misspelt.",
		Fix:   "name the tool as its definition does, or drop the rule",
		check: checkDanglingPolicy,
	}
}

var (
	// snakeRE finds snake_case identifiers, the usual shape of tool names in prose.
	snakeRE = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b`)
	// tickRE finds identifiers in backticks, where prompts name tools of any shape.
	tickRE = regexp.MustCompile("`([A-Za-z][A-Za-z0-9_.:-]*)(?:\\(\\))?`")
	// callRE finds call syntax: name(arg=..., arg: ...).
	callRE = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9_-]*)\s*\(([^()]{0,300})\)`)
	argRE  = regexp.MustCompile(`(?:^|,)\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*[=:]`)
	// toolWordRE says a backticked word is meant as a tool.
	toolWordRE = regexp.MustCompile(`(?i)\b(?:tool|function|call|calls|calling|invoke|use|using)\b`)
)

// toolIndex holds the names the prompt may refer to.
type toolIndex struct {
	tools map[string]*Tool
	args  map[string]bool // every argument name of every tool
}

func indexTools(ts []*Tool) toolIndex {
	ix := toolIndex{tools: map[string]*Tool{}, args: map[string]bool{}}
	for _, t := range ts {
		ix.tools[t.Name] = t
		for _, p := range t.params() {
			ix.args[p.name] = true
		}
	}
	return ix
}

func checkUnknownTool(in *Input, r *reporter) {
	if len(in.Tools) == 0 {
		return
	}
	ix := indexTools(in.Tools)
	var names []string
	for n := range ix.tools {
		names = append(names, n)
	}
	for _, d := range in.Docs {
		seen := map[string]bool{}
		report := func(name string, start, end int) {
			if seen[name] || ix.tools[name] != nil || ix.args[name] {
				return
			}
			seen[name] = true
			fix := "use the name of an existing tool, or remove the instruction"
			if near := nearest(name, names); near != "" {
				fix = fmt.Sprintf("did you mean %s?", near)
			}
			r.add(Finding{
				Span:    d.span(start, end),
				Quote:   name,
				Message: fmt.Sprintf("the prompt names %s, which is not among the %d tools given", name, len(in.Tools)),
				Fix:     fix,
			})
		}
		for _, m := range snakeRE.FindAllStringIndex(d.Text, -1) {
			if identifierAt(d.Text, m[0], m[1]) {
				report(d.Text[m[0]:m[1]], m[0], m[1])
			}
		}
		for _, m := range tickRE.FindAllStringSubmatchIndex(d.Text, -1) {
			name := d.Text[m[2]:m[3]]
			if strings.Contains(name, "_") {
				continue // snake_case is handled above
			}
			ctx := d.Text[max(0, m[0]-40):min(len(d.Text), m[1]+40)]
			if toolWordRE.MatchString(ctx) && (strings.Contains(name, "-") || hasHump(name)) {
				report(name, m[2], m[3])
			}
		}
	}
}

// identifierAt reports whether text[a:b] stands as a name in prose: not part
// of a path, a file name, an address, a URL or a YAML key.
func identifierAt(text string, a, b int) bool {
	if a > 0 && strings.ContainsRune("/.@\\-$%{", rune(text[a-1])) {
		return false
	}
	if b < len(text) {
		switch text[b] {
		case '/', '@', '\\', '-', '}':
			return false
		case '.':
			if b+1 < len(text) && isWordByte(text[b+1]) {
				return false // a file name or a dotted path
			}
		case ':':
			return false // a YAML key or a label
		}
	}
	// Inside a URL: the token before the space contains "://".
	ls := strings.LastIndexAny(text[:a], " \t\n")
	return !strings.Contains(text[ls+1:a], "://")
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func hasHump(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z' {
			return true
		}
	}
	return false
}

// nearest returns the name closest to s by edit distance, when it is close
// enough to be a likely misspelling.
func nearest(s string, names []string) string {
	best, bestD := "", len(s)/3+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD || d == bestD && best != "" && n < best {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func checkUnknownArgument(in *Input, r *reporter) {
	if len(in.Tools) == 0 {
		return
	}
	ix := indexTools(in.Tools)
	for _, d := range in.Docs {
		for _, m := range callRE.FindAllStringSubmatchIndex(d.Text, -1) {
			t := ix.tools[d.Text[m[2]:m[3]]]
			if t == nil || t.schema == nil {
				continue
			}
			has := map[string]bool{}
			var names []string
			for _, p := range t.params() {
				if !strings.Contains(p.path, ".") && !strings.Contains(p.path, "[") {
					has[p.name] = true
					names = append(names, p.name)
				}
			}
			argText := d.Text[m[4]:m[5]]
			for _, a := range argRE.FindAllStringSubmatchIndex(argText, -1) {
				arg := argText[a[2]:a[3]]
				if has[arg] {
					continue
				}
				fix := fmt.Sprintf("%s takes %s", t.Name, strings.Join(names, ", "))
				if len(names) == 0 {
					fix = t.Name + " takes no arguments"
				}
				if near := nearest(arg, names); near != "" {
					fix = fmt.Sprintf("did you mean %s? (%s)", near, fix)
				}
				start := m[4] + a[2]
				r.add(Finding{
					Span:    d.span(start, start+len(arg)),
					Tool:    t.Name,
					Quote:   oneLine(d.Text[m[0]:m[1]], 120),
					Message: fmt.Sprintf("the prompt calls %s with %s, which its schema (%s:%d) does not have", t.Name, arg, t.File, t.Pos().Line),
					Fix:     fix,
				})
			}
		}
	}
}

func checkDanglingPolicy(in *Input, r *reporter) {
	if in.Policy == nil || len(in.Tools) == 0 {
		return
	}
	matches := func(glob string) bool {
		for _, t := range in.Tools {
			if ok, _ := path.Match(glob, t.Name); ok {
				return true
			}
		}
		return false
	}
	check := func(kind, name string, line int, globs []string, how string) {
		for _, g := range globs {
			if matches(g) {
				continue
			}
			var names []string
			for _, t := range in.Tools {
				names = append(names, t.Name)
			}
			fix := "name a tool that exists, or drop the entry"
			if near := nearest(g, names); near != "" {
				fix = fmt.Sprintf("did you mean %s?", near)
			}
			r.add(Finding{
				Span:    in.Policy.find(line, g),
				Quote:   g,
				Message: fmt.Sprintf("%s %s %s %q, which matches none of the %d tools given", kind, name, how, g, len(in.Tools)),
				Fix:     fix,
			})
		}
	}
	for _, rule := range in.Policy.P.Rules {
		check("rule", rule.Name, rule.Line, rule.Tools, "selects")
		check("rule", rule.Name, rule.Line, rule.Refers(), "refers to")
	}
	for _, b := range in.Policy.P.Budgets {
		check("budget", b.Name, b.Line, b.Tools, "counts")
	}
}
