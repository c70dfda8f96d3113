package eval

import "context"

// MaxStepsSpec is a max-steps assertion: the agent took at most Max steps
// (its messages, tool calls, handoffs and final answer).
type MaxStepsSpec struct {
	Max   any `yaml:"max,omitempty" json:"max,omitempty"`
	Value any `yaml:"value,omitempty" json:"value,omitempty"`
}

func (a *MaxStepsSpec) validate(v *validator, at string) {
	limitOf(&a.Max, &a.Value)
	if f, ok := number(a.Max); !ok || f < 0 {
		v.fail(at+".max", "%s needs max: a non-negative number", AssertMaxSteps)
	}
}

func (a *MaxStepsSpec) compile(*Suite, Options) (Assertion, error) {
	limit, _ := number(a.Max)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.Trace == nil {
			return fail("the target reported no trace, so steps cannot be counted")
		}
		n := agentSteps(c.Output.Trace)
		if float64(n) <= limit {
			return pass()
		}
		return fail("%d agent steps, limit %g", n, limit)
	}), nil
}

// limitOf moves value: into max: (the max-* assertions accept both),, the one place the limit is read.
func limitOf(maxV, value *any) {
	if *maxV == nil && *value != nil {
		*maxV, *value = *value, nil
	}
}
