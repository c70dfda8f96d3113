package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/probity/probity/policy"
)

// compilePolicy loads and compiles a policy file once (package policy, the
// same rules that guard agents at run time) and fails a trial whose trace
// violates any rule or budget. Offline every match counts, whatever the
// rule's mode.
func compilePolicy(s *Suite, a *AssertSpec) (Assertion, error) {
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
