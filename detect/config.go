package detect

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
)

// ToolClass says what calling a tool does to the world. Detectors rank a
// finding higher when the value reached a side-effecting tool, and
// provenance treats a calculator's output as derived rather than grounded.
type ToolClass string

// The tool classes a configuration file may name.
const (
	ClassUnknown    ToolClass = ""            // neither configured nor recognisable by name
	ClassSideEffect ToolClass = "side-effect" // changes the world: refund, cancel, send, write
	ClassReadOnly   ToolClass = "read-only"   // only reads: get, list, search
	ClassCalculator ToolClass = "calculator"  // computes from its arguments; its output is derived
)

func (c ToolClass) valid() bool {
	switch c {
	case ClassSideEffect, ClassReadOnly, ClassCalculator:
		return true
	}
	return false
}

// DefaultMaxStepBytes bounds how much of one step's text a detector scans.
// Real steps are far smaller (the largest SWE-bench observation in the
// shared data is under 100 KB); the bound exists so that a hostile or broken
// trace with a multi-megabyte step costs linear time and says so in a
// "truncated" finding instead of stalling a pipeline.
const DefaultMaxStepBytes = 256 << 10

// Config tunes the detectors: which tools have side effects beyond what their
// names say, and resource bounds. A nil *Config is valid and means defaults.
//
// The YAML form:
//
//	tools:
//	  issue_refund: side-effect   # or read-only, calculator
//	  "crm_*": side-effect        # a path.Match glob
//	side_effects:                 # shorthand: true = side-effect, false = read-only
//	  transfer_to_human_agents: false
//	max_step_bytes: 262144
type Config struct {
	// Tools maps a tool name or glob to its class. Exact names win over
	// globs; among globs the longest pattern wins.
	Tools map[string]ToolClass `yaml:"tools"`
	// SideEffects maps a tool name (or glob) to true when calling it changes
	// the world, false to override a name-based guess. It is shorthand for
	// Tools entries; Tools wins when both name a tool.
	SideEffects map[string]bool `yaml:"side_effects"`
	// MaxStepBytes bounds the text scanned per step; 0 means
	// DefaultMaxStepBytes.
	MaxStepBytes int `yaml:"max_step_bytes"`
}

// LoadConfig reads a detector configuration from a YAML file. Errors are
// *probity.Error values with code EINVALID (ENOTFOUND for a missing file)
// that name the file and the line and column of the problem.
func LoadConfig(file string) (*Config, error) {
	b, err := yamlx.ReadFile(file, "config file", yamlx.MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		var pe *probity.Error
		if errors.As(err, &pe) {
			pe.File = file
			return nil, pe
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: file, Message: "config", Err: err}
	}
	return cfg, nil
}

// ParseConfig parses a detector configuration from YAML bytes. Unknown keys
// and unknown tool classes are errors, located by line and column, because a
// misspelt key would otherwise silently change nothing.
func ParseConfig(b []byte) (*Config, error) {
	cfg := &Config{}
	if len(strings.TrimSpace(string(b))) == 0 {
		return cfg, nil
	}
	if err := yamlx.Check("", b, yamlx.MaxConfigBytes); err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalWithOptions(b, cfg, yaml.DisallowUnknownField()); err != nil {
		return nil, yamlError(err)
	}
	// A class is a plain string to the decoder; check it here, with the
	// position of the offending value, by walking the syntax tree.
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil, yamlError(err)
	}
	for _, doc := range f.Docs {
		top, ok := doc.Body.(*ast.MappingNode)
		if !ok {
			continue
		}
		for _, kv := range top.Values {
			if kv.Key.String() != "tools" {
				continue
			}
			tools, ok := kv.Value.(*ast.MappingNode)
			if !ok {
				continue
			}
			for _, t := range tools.Values {
				class := ToolClass(strings.Trim(t.Value.String(), `"'`))
				if !class.valid() {
					tk := t.Value.GetToken()
					return nil, &probity.Error{
						Code:    probity.EINVALID,
						Where:   fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column),
						Message: fmt.Sprintf("tool %s: unknown class %q (want side-effect, read-only or calculator)", t.Key.String(), string(class)),
					}
				}
			}
		}
	}
	for pat := range cfg.Tools {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("tools: bad pattern %q", pat), Err: err}
		}
	}
	for pat := range cfg.SideEffects {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("side_effects: bad pattern %q", pat), Err: err}
		}
	}
	if cfg.MaxStepBytes < 0 {
		return nil, &probity.Error{Code: probity.EINVALID, Message: "max_step_bytes must not be negative"}
	}
	return cfg, nil
}

// yamlError turns a go-yaml error into a *probity.Error located by line and
// column, keeping the library's message without its source excerpt.
func yamlError(err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pe := &probity.Error{Code: probity.EINVALID, Message: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pe.Where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
		}
		return pe
	}
	return &probity.Error{Code: probity.EINVALID, Message: "yaml", Err: err}
}

// MaxStep returns the number of bytes of one step's text a detector scans.
func (c *Config) MaxStep() int {
	if c == nil || c.MaxStepBytes <= 0 {
		return DefaultMaxStepBytes
	}
	return c.MaxStepBytes
}

// Class returns the class of tool: from the configuration first (exact name,
// then the longest matching glob; Tools before SideEffects), else guessed
// from its name (see ClassByName).
func (c *Config) Class(tool string) ToolClass {
	if c != nil {
		if cl, ok := c.Tools[tool]; ok {
			return cl
		}
		if v, ok := c.SideEffects[tool]; ok {
			return boolClass(v)
		}
		best, bestClass := -1, ClassUnknown
		for _, pat := range sortedKeys(c.Tools) {
			if ok, _ := path.Match(pat, tool); ok && len(pat) > best {
				best, bestClass = len(pat), c.Tools[pat]
			}
		}
		if best < 0 {
			for _, pat := range sortedKeys(c.SideEffects) {
				if ok, _ := path.Match(pat, tool); ok && len(pat) > best {
					best, bestClass = len(pat), boolClass(c.SideEffects[pat])
				}
			}
		}
		if best >= 0 {
			return bestClass
		}
	}
	return ClassByName(tool)
}

// SideEffecting reports whether calling tool changes the world, by
// configuration first, else by its name.
func (c *Config) SideEffecting(tool string) bool { return c.Class(tool) == ClassSideEffect }

// Calculator reports whether tool computes its result from its arguments, so
// that its output is derived, not independent evidence.
func (c *Config) Calculator(tool string) bool { return c.Class(tool) == ClassCalculator }

func boolClass(v bool) ToolClass {
	if v {
		return ClassSideEffect
	}
	return ClassReadOnly
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Verbs that, as a whole word of a tool name, mean the call changes the world.
var sideEffectWords = map[string]bool{
	"cancel": true, "modify": true, "update": true, "send": true, "create": true, "delete": true,
	"remove": true, "refund": true, "transfer": true, "book": true, "exchange": true, "return": true,
	"write": true, "edit": true, "pay": true, "charge": true, "submit": true, "post": true, "put": true,
	"patch": true, "insert": true, "upsert": true, "set": true, "add": true, "place": true,
	"purchase": true, "buy": true, "sell": true, "approve": true, "reject": true, "deploy": true,
	"execute": true, "exec": true, "run": true, "move": true, "rename": true, "upload": true,
	"publish": true, "email": true, "notify": true, "reply": true, "commit": true, "push": true,
	"merge": true, "drop": true, "reset": true, "restart": true, "kill": true, "terminate": true,
	"grant": true, "revoke": true, "assign": true, "schedule": true, "reserve": true, "issue": true,
	"apply": true, "save": true, "store": true, "change": true, "replace": true, "erase": true,
	"archive": true, "close": true, "register": true, "enroll": true, "withdraw": true,
	"deposit": true, "sms": true,
}

// Verbs that, as the first word of a tool name, mean it only reads. They
// win over side-effect words later in the name: get_refund_status reads.
var readOnlyWords = map[string]bool{
	"get": true, "list": true, "search": true, "find": true, "read": true, "fetch": true,
	"lookup": true, "query": true, "check": true, "view": true, "show": true, "describe": true,
	"retrieve": true, "load": true, "count": true, "validate": true, "verify": true, "think": true,
	"browse": true, "inspect": true, "preview": true, "estimate": true, "is": true, "has": true,
}

var calculatorWords = map[string]bool{"calculate": true, "calculator": true, "calc": true, "compute": true, "math": true, "eval": true}

// ClassByName guesses a tool's class from its name, split into words at
// underscores, hyphens, dots, spaces and camelCase humps: "cancel_pending_order",
// "sendEmail", "crm.update-contact". A read-only first word wins over later
// side-effect words; otherwise any side-effect word makes it side-effecting.
func ClassByName(tool string) ToolClass {
	words := splitName(tool)
	if len(words) == 0 {
		return ClassUnknown
	}
	for _, w := range words {
		if calculatorWords[w] {
			return ClassCalculator
		}
	}
	if readOnlyWords[words[0]] {
		return ClassReadOnly
	}
	for _, w := range words {
		if sideEffectWords[w] {
			return ClassSideEffect
		}
	}
	for _, w := range words {
		if readOnlyWords[w] {
			return ClassReadOnly
		}
	}
	return ClassUnknown
}

// splitName splits a snake, kebab, dotted or camelCase name into lower-case
// words; "HTTPGetURL" gives http, get, url.
func splitName(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r):
			// A hump starts a word: "sendEmail", and the last capital of an
			// acronym followed by lower case: "HTTPGet" -> HTTP, Get.
			if len(cur) > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					flush()
				}
			}
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}
