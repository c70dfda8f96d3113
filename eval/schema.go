package eval

import (
	_ "embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SuiteSchema is the JSON Schema (draft 2020-12) of a suite file, published
// so editors complete and check suites (yaml-language-server:
// `# yaml-language-server: $schema=suite.schema.json`).
//
//go:embed suite.schema.json
var SuiteSchema []byte

// compileJSONSchema compiles doc (a decoded JSON Schema) once.
func compileJSONSchema(name string, doc any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	sch, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return sch, nil
}
