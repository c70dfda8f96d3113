package eval

import (
	"context"
	"regexp"
)

// RegexSpec is a regex assertion: the output (at Path), as text, matches
// the RE2 Pattern (Regex is the shorthand spelling).
type RegexSpec struct {
	Path    string `yaml:"path,omitempty" json:"path,omitempty"`
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	Regex   string `yaml:"regex,omitempty" json:"regex,omitempty"`
}

func (a *RegexSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	p := a.Pattern + a.Regex
	if a.Pattern != "" && a.Regex != "" {
		v.fail(at+".regex", "give pattern or regex, not both")
	} else if p == "" {
		v.fail(at, "regex assertion needs a pattern")
	} else if _, err := regexp.Compile(p); err != nil {
		v.fail(at+".pattern", "bad regular expression: %v", err)
	}
}

func (a *RegexSpec) compile(*Suite, Options) (Assertion, error) {
	path := optionalPath(a.Path)
	re, err := regexp.Compile(a.Pattern + a.Regex)
	if err != nil {
		return nil, err // validate reports it with its position first
	}
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		if re.MatchString(text(got)) {
			return pass()
		}
		return fail("%s does not match /%s/", clip(quote(got), 120), re)
	}), nil
}
