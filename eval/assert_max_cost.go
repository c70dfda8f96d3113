package eval

import "context"

// MaxCostSpec is a max-cost assertion: the trial cost at most Max USD.
type MaxCostSpec struct {
	Max   any `yaml:"max,omitempty" json:"max,omitempty"`
	Value any `yaml:"value,omitempty" json:"value,omitempty"`
}

func (a *MaxCostSpec) validate(v *validator, at string) {
	limitOf(&a.Max, &a.Value)
	if f, ok := number(a.Max); !ok || f < 0 {
		v.fail(at+".max", "%s needs max: a non-negative number", AssertMaxCost)
	}
}

func (a *MaxCostSpec) compile(*Suite, Options) (Assertion, error) {
	limit, _ := number(a.Max)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.CostUSD <= limit {
			return pass()
		}
		return fail("cost $%.4f, limit $%.4f", c.Output.CostUSD, limit)
	}), nil
}
