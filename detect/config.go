package detect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
	"github.com/probity/probity/toolclass"
)

// ToolClass is toolclass.Class, kept under its old name for the detect API.
type ToolClass = toolclass.Class

// The tool classes a configuration file may name (see package toolclass).
const (
	ClassUnknown    = toolclass.Unknown
	ClassSideEffect = toolclass.SideEffect
	ClassReadOnly   = toolclass.ReadOnly
	ClassCalculator = toolclass.Calculator
)

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
	// Config is the tools: and side_effects: classification, shared with
	// provenance (calculators), the policy language and the guard.
	toolclass.Config `yaml:",inline"`
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
		return nil, yamlx.Error(err)
	}
	// A class is a plain string to the decoder; check it here, with the
	// position of the offending value, by walking the syntax tree.
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil, yamlx.Error(err)
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
				class := toolclass.Class(strings.Trim(t.Value.String(), `"'`))
				if !class.Valid() {
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
	if err := cfg.Config.Validate(); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, Message: err.Error()}
	}
	if cfg.MaxStepBytes < 0 {
		return nil, &probity.Error{Code: probity.EINVALID, Message: "max_step_bytes must not be negative"}
	}
	return cfg, nil
}

// MaxStep returns the number of bytes of one step's text a detector scans.
func (c *Config) MaxStep() int {
	if c == nil || c.MaxStepBytes <= 0 {
		return DefaultMaxStepBytes
	}
	return c.MaxStepBytes
}

// Classes returns the tool classification of the configuration (nil for a
// nil *Config: classes by name).
func (c *Config) Classes() *toolclass.Config {
	if c == nil {
		return nil
	}
	return &c.Config
}

// Class returns the class of tool as the detectors read it: configured,
// else guessed from the verbs of its name (toolclass.Config.VerbClass; see
// SideEffecting for why it differs from containment's).
func (c *Config) Class(tool string) ToolClass { return c.Classes().VerbClass(tool) }

// SideEffecting reports whether tool is known to change the world: classed
// side-effect by configuration or by an action verb in its name
// (toolclass.Config.VerbClass). Unlike toolclass.Config.SideEffecting, which
// containment uses, an unknown tool is not, and neither is a shell, SQL or
// HTTP tool unless configured: a detector ranks findings by what is known
// to have happened, and counting every such call as an action raised
// cascades from reads to high on real coding-agent runs (SWE-bench bash
// calls: 13 of 76 resolved runs flagged high instead of at most 5%).
func (c *Config) SideEffecting(tool string) bool {
	return c.Classes().VerbClass(tool) == ClassSideEffect
}

// Calculator reports whether tool computes its result from its arguments, so
// that its output is derived, not independent evidence.
func (c *Config) Calculator(tool string) bool { return c.Classes().Calculator(tool) }

// ClassByName guesses a tool's class from its name as the detectors read it
// (toolclass.ByVerb: bash or sql_query are not known actions to them).
func ClassByName(tool string) ToolClass { return toolclass.ByVerb(tool) }
