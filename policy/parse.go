package policy

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
	"github.com/probity/probity/toolclass"
)

// The YAML shape of a policy file. The core keys (mode, rules: name, tools,
// side_effects, deny, when, action, message, require_before; budgets: name,
// tools, max_calls, sum, max, per, key) are a contract; unknown keys are
// rejected so a misspelt key cannot silently disable a rule.
type fileRule struct {
	Name              string     `yaml:"name"`
	Tools             stringList `yaml:"tools"`
	SideEffects       *bool      `yaml:"side_effects"`
	Deny              string     `yaml:"deny"`
	When              string     `yaml:"when"`
	Action            string     `yaml:"action"`
	Mode              string     `yaml:"mode"`
	Message           string     `yaml:"message"`
	Severity          string     `yaml:"severity"`
	RequireBefore     stringList `yaml:"require_before"`
	ForbidAfter       stringList `yaml:"forbid_after"`
	NotAfterUntrusted bool       `yaml:"not_after_untrusted"`
	MaxPerTurn        int        `yaml:"max_per_turn"`
	MaxPerRun         int        `yaml:"max_per_run"`
	MaxPerMessage     int        `yaml:"max_per_message"`
	Confirm           string     `yaml:"confirm"`
	FailOpen          bool       `yaml:"fail_open"`
}

type fileBudget struct {
	Name        string     `yaml:"name"`
	Tools       stringList `yaml:"tools"`
	SideEffects *bool      `yaml:"side_effects"`
	MaxCalls    int        `yaml:"max_calls"`
	Sum         string     `yaml:"sum"`
	Max         *float64   `yaml:"max"`
	Per         string     `yaml:"per"`
	Key         string     `yaml:"key"`
	Mode        string     `yaml:"mode"`
	Message     string     `yaml:"message"`
}

type file struct {
	Mode        string          `yaml:"mode"`
	SideEffects map[string]bool `yaml:"side_effects"`
	Rules       []fileRule      `yaml:"rules"`
	Budgets     []fileBudget    `yaml:"budgets"`
}

// stringList accepts one string or a list of strings, so `tools: write_file`
// and `tools: [write_file]` mean the same.
type stringList []string

// UnmarshalYAML implements yaml.BytesUnmarshaler.
func (s *stringList) UnmarshalYAML(b []byte) error {
	var one string
	if err := yaml.Unmarshal(b, &one); err == nil {
		if one != "" {
			*s = stringList{one}
		}
		return nil
	}
	var many []string
	if err := yaml.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// LoadFile reads and compiles the policy in file. Errors are *probity.Error
// values (ENOTFOUND for a missing file, EINVALID otherwise) that name the
// file and the line and column of the fault.
func LoadFile(file string, opts ...Option) (*Policy, error) {
	b, err := yamlx.ReadFile(file, "policy file", yamlx.MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	p, err := Parse(b, opts...)
	if err != nil {
		var pe *probity.Error
		if errors.As(err, &pe) {
			pe.File = file
			return nil, pe
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: file, Message: "policy", Err: err}
	}
	p.File = file
	return p, nil
}

// Parse compiles a policy from YAML. Errors are *probity.Error values with
// code EINVALID whose Where is "line L, column C".
func Parse(src []byte, opts ...Option) (*Policy, error) {
	var f file
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, Message: "empty policy: want at least one rule or budget"}
	}
	if err := yamlx.Check("", src, yamlx.MaxConfigBytes); err != nil {
		return nil, err
	}
	astFile, err := decodeYAML(src, &f)
	if err != nil {
		return nil, err
	}
	loc := locator{f: astFile, src: src}
	p := &Policy{
		Mode:      Enforce,
		costLimit: DefaultCostLimit,
		plans:     map[string]*plan{},
	}
	for _, o := range opts {
		o(p)
	}
	if p.logger == nil {
		p.logger = discardLogger()
	}
	if p.sideEffect == nil {
		for pat := range f.SideEffects {
			if _, err := path.Match(pat, ""); err != nil {
				return nil, loc.errorf("$.side_effects", "bad glob %q", pat)
			}
		}
		var cfg *toolclass.Config
		if len(f.SideEffects) > 0 {
			cfg = &toolclass.Config{SideEffects: f.SideEffects}
		}
		p.sideEffect = cfg.SideEffecting
	}
	switch f.Mode {
	case "", string(Enforce):
	case string(Shadow):
		p.Mode = Shadow
	default:
		return nil, loc.errorf("$.mode", "unknown mode %q (want enforce or shadow)", f.Mode)
	}
	if len(f.Rules) == 0 && len(f.Budgets) == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, Message: "policy has no rules and no budgets"}
	}
	if p.env, err = newEnv(); err != nil {
		return nil, fmt.Errorf("policy: cel environment: %w", err)
	}
	names := map[string]string{}
	for i, fr := range f.Rules {
		at := fmt.Sprintf("$.rules[%d]", i)
		r, err := p.compileRule(loc, at, fr)
		if err != nil {
			return nil, err
		}
		if prev, dup := names[r.Name]; dup {
			return nil, loc.errorf(at+".name", "duplicate name %q (first used by %s)", r.Name, prev)
		}
		names[r.Name] = fmt.Sprintf("rule at line %d", r.Line)
		r.index = len(p.Rules)
		p.Rules = append(p.Rules, r)
	}
	for i, fb := range f.Budgets {
		at := fmt.Sprintf("$.budgets[%d]", i)
		b, err := p.compileBudget(loc, at, fb)
		if err != nil {
			return nil, err
		}
		if prev, dup := names[b.Name]; dup {
			return nil, loc.errorf(at+".name", "duplicate name %q (first used by %s)", b.Name, prev)
		}
		names[b.Name] = fmt.Sprintf("budget at line %d", b.Line)
		b.index = len(p.Budgets)
		p.Budgets = append(p.Budgets, b)
	}
	return p, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

func (p *Policy) compileRule(loc locator, at string, fr fileRule) (*Rule, error) {
	r := &Rule{
		Name:              fr.Name,
		Message:           fr.Message,
		Tools:             fr.Tools,
		SideEffects:       fr.SideEffects,
		FailOpen:          fr.FailOpen,
		Line:              loc.line(at),
		requireBefore:     fr.RequireBefore,
		forbidAfter:       fr.ForbidAfter,
		notAfterUntrusted: fr.NotAfterUntrusted,
		maxPerTurn:        fr.MaxPerTurn,
		maxPerRun:         fr.MaxPerRun,
		maxPerMessage:     fr.MaxPerMessage,
	}
	if !validName.MatchString(r.Name) {
		if r.Name == "" {
			return nil, loc.errorf(at, "rule without a name")
		}
		return nil, loc.errorf(at+".name", "bad rule name %q (letters, digits, _ . : - only)", r.Name)
	}
	switch fr.Action {
	case "", "deny":
		r.Action = Deny
	case "approve":
		r.Action = Approve
	case "log":
		r.Action = Log
	default:
		return nil, loc.errorf(at+".action", "rule %s: unknown action %q (want deny, approve or log)", r.Name, fr.Action)
	}
	switch fr.Mode {
	case "":
	case string(Enforce), string(Shadow):
		r.Mode = Mode(fr.Mode)
	default:
		return nil, loc.errorf(at+".mode", "rule %s: unknown mode %q (want enforce or shadow)", r.Name, fr.Mode)
	}
	r.Severity = map[Effect]probity.Severity{Deny: probity.SeverityHigh, Approve: probity.SeverityMedium, Log: probity.SeverityLow}[r.Action]
	if fr.Severity != "" {
		s, err := probity.ParseSeverity(fr.Severity)
		if err != nil {
			return nil, loc.errorf(at+".severity", "rule %s: %v", r.Name, err)
		}
		r.Severity = s
	}
	for key, globs := range map[string][]string{"tools": fr.Tools, "require_before": fr.RequireBefore, "forbid_after": fr.ForbidAfter} {
		for _, g := range globs {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				return nil, loc.errorf(at+"."+key, "rule %s: bad glob %q", r.Name, g)
			}
		}
	}
	for key, n := range map[string]int{"max_per_turn": fr.MaxPerTurn, "max_per_run": fr.MaxPerRun, "max_per_message": fr.MaxPerMessage} {
		if n < 0 {
			return nil, loc.errorf(at+"."+key, "rule %s: %s must not be negative", r.Name, key)
		}
	}
	if fr.Confirm != "" {
		re, err := regexp.Compile(fr.Confirm)
		if err != nil {
			return nil, loc.errorf(at+".confirm", "rule %s: bad regular expression: %v", r.Name, err)
		}
		r.confirm = re
	}
	var err error
	if fr.When != "" {
		if r.when, err = p.compile(loc, at+".when", fr.When, boolResult); err != nil {
			return nil, err
		}
	}
	if fr.Deny != "" {
		if r.deny, err = p.compile(loc, at+".deny", fr.Deny, boolResult); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (p *Policy) compileBudget(loc locator, at string, fb fileBudget) (*Budget, error) {
	b := &Budget{
		Name:        fb.Name,
		Message:     fb.Message,
		Tools:       fb.Tools,
		SideEffects: fb.SideEffects,
		MaxCalls:    fb.MaxCalls,
		Line:        loc.line(at),
	}
	if !validName.MatchString(b.Name) {
		if b.Name == "" {
			return nil, loc.errorf(at, "budget without a name")
		}
		return nil, loc.errorf(at+".name", "bad budget name %q (letters, digits, _ . : - only)", b.Name)
	}
	for _, g := range fb.Tools {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return nil, loc.errorf(at+".tools", "budget %s: bad glob %q", b.Name, g)
		}
	}
	switch fb.Per {
	case "", string(PerRun):
		b.Per = PerRun
	case string(PerHour), string(PerDay):
		b.Per = Period(fb.Per)
	default:
		return nil, loc.errorf(at+".per", "budget %s: unknown period %q (want run, hour or day)", b.Name, fb.Per)
	}
	switch fb.Mode {
	case "":
	case string(Enforce), string(Shadow):
		b.Mode = Mode(fb.Mode)
	default:
		return nil, loc.errorf(at+".mode", "budget %s: unknown mode %q (want enforce or shadow)", b.Name, fb.Mode)
	}
	if fb.MaxCalls < 0 {
		return nil, loc.errorf(at+".max_calls", "budget %s: max_calls must not be negative", b.Name)
	}
	var err error
	switch {
	case fb.Sum != "" && fb.Max == nil:
		return nil, loc.errorf(at+".sum", "budget %s: sum needs max", b.Name)
	case fb.Sum == "" && fb.Max != nil:
		return nil, loc.errorf(at+".max", "budget %s: max needs sum (use max_calls to count calls)", b.Name)
	case fb.Sum != "":
		if math.IsNaN(*fb.Max) || *fb.Max < 0 {
			return nil, loc.errorf(at+".max", "budget %s: max must be a non-negative number", b.Name)
		}
		b.Max = *fb.Max
		if b.sum, err = p.compile(loc, at+".sum", fb.Sum, numberResult); err != nil {
			return nil, err
		}
	case fb.MaxCalls == 0:
		return nil, loc.errorf(at, "budget %s: want max_calls, or sum and max", b.Name)
	}
	if fb.Key != "" {
		if b.key, err = p.compile(loc, at+".key", fb.Key, anyResult); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// locator finds the YAML position of a path in the parsed file.
type locator struct {
	f   *ast.File
	src []byte
}

func (l locator) node(at string) ast.Node {
	pth, err := yaml.PathString(at)
	if err != nil {
		return nil
	}
	n, err := pth.FilterFile(l.f)
	if err != nil {
		return nil
	}
	return n
}

func (l locator) pos(at string) (line, col int) {
	for at != "" {
		if n := l.node(at); n != nil {
			// A mapping's own token is its first ':'; point at its first key.
			switch m := n.(type) {
			case *ast.MappingNode:
				if len(m.Values) > 0 {
					n = m.Values[0].Key
				}
			case *ast.MappingValueNode:
				n = m.Key
			}
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				return tk.Position.Line, tk.Position.Column
			}
		}
		// Fall back to the enclosing node: "$.rules[2].deny" -> "$.rules[2]".
		i := strings.LastIndexAny(at, ".[")
		if i <= 1 {
			break
		}
		at = at[:i]
	}
	return 0, 0
}

func (l locator) line(at string) int {
	line, _ := l.pos(at)
	return line
}

func (l locator) errorf(at, format string, args ...any) *probity.Error {
	e := &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf(format, args...)}
	if line, col := l.pos(at); line > 0 {
		e.Where = fmt.Sprintf("line %d, column %d", line, col)
	}
	return e
}

// exprPos maps a position in the text of the scalar at `at` (1-based line
// and 0-based column, as CEL reports them) to a line and 1-based column in
// the file. The scalar's text is found line by line in the source: a plain
// or quoted scalar starts at its token (past the opening quote), a block
// scalar (| or >) on the next line; folding and indentation are undone by
// walking the source lines, so errors on the second line of a long rule
// point at the right character.
func (l locator) exprPos(at string, celLine, celCol int) (line, col int) {
	n := l.node(at)
	if n == nil {
		return l.pos(at)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return l.pos(at)
	}
	// The offset of the fault in the expression text.
	text := n.String()
	if sn, ok := n.(*ast.StringNode); ok {
		text = sn.Value
	} else if ln, ok := n.(*ast.LiteralNode); ok && ln.Value != nil {
		text = ln.Value.Value
	}
	lines := strings.Split(string(l.src), "\n")
	off := 0
	for i, ln := range strings.SplitAfter(text, "\n") {
		if i == celLine-1 {
			off += celCol
			break
		}
		off += len(ln)
	}
	startLine, startCol := tk.Position.Line, tk.Position.Column
	blockIndent := -1 // block scalars keep indentation beyond the block's own
	if _, ok := n.(*ast.LiteralNode); ok {
		startLine, startCol = startLine+1, 0
		for ln := startLine; ln <= len(lines); ln++ {
			if t := strings.TrimLeft(lines[ln-1], " "); t != "" {
				blockIndent = len(lines[ln-1]) - len(t)
				break
			}
		}
	} else if tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType {
		startCol++
	}
	for ln := startLine; ln <= len(lines); ln++ {
		src := lines[ln-1]
		first := 1 // 1-based column of the segment's first character
		if ln == startLine && startCol > 0 {
			first = startCol
		} else if blockIndent >= 0 {
			first = blockIndent + 1
		} else {
			first = len(src) - len(strings.TrimLeft(src, " \t")) + 1
		}
		seg := len(strings.TrimRight(src, " \t\r")) - (first - 1)
		if seg < 0 {
			seg = 0
		}
		if off <= seg {
			return ln, first + off
		}
		off -= seg + 1 // the newline, or the space it folded into
	}
	return startLine, startCol
}

// decodeYAML decodes src into f and parses its syntax tree for positions.
// The YAML library can panic on some malformed documents (found by
// FuzzParse: "rules:  ! "); bad input must be an error, never a crash.
func decodeYAML(src []byte, f *file) (astFile *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			astFile, err = nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("malformed YAML (%v)", r)}
		}
	}()
	if err := yaml.UnmarshalWithOptions(src, f, yaml.DisallowUnknownField()); err != nil {
		return nil, yamlx.Error(err)
	}
	astFile, err = parser.ParseBytes(src, 0)
	if err != nil {
		return nil, yamlx.Error(err)
	}
	return astFile, nil
}
