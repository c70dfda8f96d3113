package eval

import "context"

// NumericSpec is a numeric assertion: the output (at Path) is a number
// within Tolerance of Value or of the case's expected value; Relative makes
// the tolerance a fraction of the expected number.
type NumericSpec struct {
	Path         string  `yaml:"path,omitempty" json:"path,omitempty"`
	Value        any     `yaml:"value,omitempty" json:"value,omitempty"`
	ExpectedPath string  `yaml:"expected_path,omitempty" json:"expected_path,omitempty"`
	Tolerance    float64 `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
	Relative     bool    `yaml:"relative,omitempty" json:"relative,omitempty"`
}

func (a *NumericSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	validPath(v, at+".expected_path", a.ExpectedPath)
	if a.Tolerance < 0 {
		v.fail(at+".tolerance", "tolerance must not be negative")
	}
}

func (a *NumericSpec) compile(*Suite, Options) (Assertion, error) {
	path, expPath := optionalPath(a.Path), optionalPath(a.ExpectedPath)
	want := a.Value
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		g, ok := number(got)
		if !ok {
			return fail("%s is not a number", clip(quote(got), 80))
		}
		wv, ok := comparand(c, want, path, expPath)
		if !ok {
			return fail("no number to compare with: give value, or a case expected value")
		}
		w, ok := number(wv)
		if !ok {
			return fail("expected %s is not a number", clip(quote(wv), 80))
		}
		tol := a.Tolerance
		if a.Relative {
			tol *= abs(w)
		}
		if abs(g-w) <= tol {
			return pass()
		}
		return fail("got %g, want %g ± %g", g, w, tol)
	}), nil
}
