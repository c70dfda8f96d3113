package eval

import "context"

// JSONPathSpec is a json-path assertion: Path exists in the output (or,
// with exists: false, does not), holding Value or Equals when one is given.
type JSONPathSpec struct {
	Path   string `yaml:"path,omitempty" json:"path,omitempty"`
	Value  any    `yaml:"value,omitempty" json:"value,omitempty"`
	Equals any    `yaml:"equals,omitempty" json:"equals,omitempty"`
	Exists *bool  `yaml:"exists,omitempty" json:"exists,omitempty"`
}

func (a *JSONPathSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	if a.Path == "" {
		v.fail(at, "json-path assertion needs a path")
	}
}

func (a *JSONPathSpec) compile(*Suite, Options) (Assertion, error) {
	path := optionalPath(a.Path)
	want := firstSet(a.Value, a.Equals)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := path.get(c.Output.Value)
		if l, isList := got.([]any); ok && isList && path.multi && len(l) == 0 {
			ok = false
		}
		if a.Exists != nil && !*a.Exists {
			if ok {
				return fail("%s exists (%s)", path, clip(quote(got), 80))
			}
			return pass()
		}
		if !ok {
			return fail("output has nothing at %s", path)
		}
		if want != nil && !jsonEqual(got, want) {
			return fail("%s is %s, want %s", path, clip(quote(got), 120), clip(quote(want), 120))
		}
		return pass()
	}), nil
}
