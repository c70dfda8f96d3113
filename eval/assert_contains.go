package eval

import (
	"context"
	"strings"
)

// ContainsSpec is a contains assertion: the output (at Path) contains Value
// as a substring or, for a list output, as an element.
type ContainsSpec struct {
	Path         string `yaml:"path,omitempty" json:"path,omitempty"`
	Value        any    `yaml:"value,omitempty" json:"value,omitempty"`
	Contains     any    `yaml:"contains,omitempty" json:"contains,omitempty"`
	ExpectedPath string `yaml:"expected_path,omitempty" json:"expected_path,omitempty"`
	IgnoreCase   bool   `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
}

func (a *ContainsSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	validPath(v, at+".expected_path", a.ExpectedPath)
	if a.Value != nil && a.Contains != nil {
		v.fail(at+".contains", "give value or contains, not both")
	}
}

func (a *ContainsSpec) compile(*Suite, Options) (Assertion, error) {
	path, expPath := optionalPath(a.Path), optionalPath(a.ExpectedPath)
	want := firstSet(a.Value, a.Contains)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		w, ok := comparand(c, want, path, expPath)
		if !ok {
			return fail("no value to look for: give value, or a case expected value")
		}
		// A list output contains a value when one of its elements equals it.
		if l, isList := got.([]any); isList {
			if _, wantStr := w.(string); !wantStr || !a.IgnoreCase {
				for _, x := range l {
					if jsonEqual(x, w) {
						return pass()
					}
				}
			}
		}
		gs, ws := text(got), text(w)
		if a.IgnoreCase {
			gs, ws = strings.ToLower(gs), strings.ToLower(ws)
		}
		if strings.Contains(gs, ws) {
			return pass()
		}
		return fail("%s does not contain %s", clip(quote(got), 120), clip(quote(w), 120))
	}), nil
}
