package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/probity/probity/policy"
)

// PolicySpec is a policy assertion: the trial's trace violates no rule or
// budget of the policy File (package policy, the same rules that guard
// agents at run time). Offline every match counts, whatever the rule's mode.
type PolicySpec struct {
	File string `yaml:"file,omitempty" json:"file,omitempty"`
}

func (a *PolicySpec) validate(v *validator, at string) {
	if a.File == "" {
		v.fail(at, "policy assertion needs a file")
	}
}

// compile loads and compiles the policy once.
func (a *PolicySpec) compile(s *Suite, _ Options) (Assertion, error) {
	p, err := policy.LoadFile(s.resolve(a.File))
	if err != nil {
		return nil, err
	}
	return assertFunc(func(ctx context.Context, c *Check) AssertResult {
		if c.Output.Trace == nil {
			return fail("the target reported no trace, so the policy has nothing to check")
		}
		fs := p.FindingsContext(ctx, c.Output.Trace)
		if len(fs) == 0 {
			return pass()
		}
		var msgs []string
		for _, f := range fs {
			msgs = append(msgs, fmt.Sprintf("%s at step %d: %s", f.Detector, f.Step, f.Message))
		}
		return fail("%d policy violation(s): %s", len(fs), clip(strings.Join(msgs, "; "), 400))
	}), nil
}
