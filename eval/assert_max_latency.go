package eval

import (
	"context"
	"fmt"
	"time"
)

// MaxLatencySpec is a max-latency assertion: the trial took at most Max (a
// duration like 2s, or a number of seconds).
type MaxLatencySpec struct {
	Max   any `yaml:"max,omitempty" json:"max,omitempty"`
	Value any `yaml:"value,omitempty" json:"value,omitempty"`
}

func (a *MaxLatencySpec) validate(v *validator, at string) {
	limitOf(&a.Max, &a.Value)
	if _, err := latencyLimit(a.Max); err != nil {
		v.fail(at+".max", "max-latency needs max: a duration like 2s or 500ms (%v)", err)
	}
}

func (a *MaxLatencySpec) compile(*Suite, Options) (Assertion, error) {
	limit, _ := latencyLimit(a.Max)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.Latency <= limit {
			return pass()
		}
		return fail("latency %s, limit %s", c.Output.Latency.Round(time.Millisecond), limit)
	}), nil
}

func latencyLimit(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		return time.ParseDuration(x)
	case nil:
		return 0, fmt.Errorf("missing")
	}
	if f, ok := number(v); ok && f >= 0 {
		return time.Duration(f * float64(time.Second)), nil // a bare number is seconds
	}
	return 0, fmt.Errorf("got %v", v)
}
