package eval

import (
	"context"
	"strings"
)

// EqualsSpec is an equals assertion: the output (at Path) equals Value, or
// the case's expected value (at ExpectedPath).
type EqualsSpec struct {
	Path         string `yaml:"path,omitempty" json:"path,omitempty"`
	Value        any    `yaml:"value,omitempty" json:"value,omitempty"`
	Equals       any    `yaml:"equals,omitempty" json:"equals,omitempty"`
	ExpectedPath string `yaml:"expected_path,omitempty" json:"expected_path,omitempty"`
	IgnoreCase   bool   `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
}

func (a *EqualsSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	validPath(v, at+".expected_path", a.ExpectedPath)
	if a.Value != nil && a.Equals != nil {
		v.fail(at+".equals", "give value or equals, not both")
	}
}

func (a *EqualsSpec) compile(*Suite, Options) (Assertion, error) {
	path, expPath := optionalPath(a.Path), optionalPath(a.ExpectedPath)
	want := firstSet(a.Value, a.Equals)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		w, ok := comparand(c, want, path, expPath)
		if !ok {
			return fail("no value to compare with: give value, or a case expected value")
		}
		if a.IgnoreCase {
			gs, ws := text(got), text(w)
			if strings.EqualFold(gs, ws) {
				return pass()
			}
			return fail("got %s, want %s (ignoring case)", clip(quote(got), 120), clip(quote(w), 120))
		}
		if jsonEqual(got, w) {
			return pass()
		}
		return fail("got %s, want %s", clip(quote(got), 120), clip(quote(w), 120))
	}), nil
}
