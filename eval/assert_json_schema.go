package eval

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/probity/probity"
)

// JSONSchemaSpec is a json-schema assertion: the output (at Path) matches
// the inline Schema or the one in SchemaFile (relative to the suite).
type JSONSchemaSpec struct {
	Path       string `yaml:"path,omitempty" json:"path,omitempty"`
	Schema     any    `yaml:"schema,omitempty" json:"schema,omitempty"`
	SchemaFile string `yaml:"schema_file,omitempty" json:"schema_file,omitempty"`
}

func (a *JSONSchemaSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	if (a.Schema == nil) == (a.SchemaFile == "") {
		v.fail(at, "json-schema assertion needs exactly one of schema or schema_file")
	}
}

// compile compiles the JSON Schema once.
func (a *JSONSchemaSpec) compile(s *Suite, _ Options) (Assertion, error) {
	path := optionalPath(a.Path)
	var doc any
	name := "inline-schema.json"
	if a.SchemaFile != "" {
		name = s.resolve(a.SchemaFile)
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		if doc, err = decodeJSON(b); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: name, Message: "schema is not JSON", Err: err}
		}
	} else {
		doc = normalize(a.Schema)
	}
	sch, err := compileJSONSchema(name, doc)
	if err != nil {
		return nil, err
	}
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		if err := sch.Validate(got); err != nil {
			return fail("output does not match the schema: %s", clip(strings.ReplaceAll(err.Error(), "\n", "; "), 300))
		}
		return pass()
	}), nil
}
