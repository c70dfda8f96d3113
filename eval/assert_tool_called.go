package eval

import "context"

// ToolCalledSpec is a tool-called assertion: Tool is called at least Min
// times (default 1) and at most Max times (default: no limit).
type ToolCalledSpec struct {
	Tool string `yaml:"tool,omitempty" json:"tool,omitempty"`
	Min  *int   `yaml:"min,omitempty" json:"min,omitempty"`
	Max  any    `yaml:"max,omitempty" json:"max,omitempty"`
}

func (a *ToolCalledSpec) toolName() string { return a.Tool }

func (a *ToolCalledSpec) validate(v *validator, at string) {
	if a.Tool == "" {
		v.fail(at, "%s assertion needs a tool", AssertToolCalled)
	}
	if a.Min != nil && *a.Min < 0 {
		v.fail(at+".min", "min must not be negative")
	}
	if a.Max != nil {
		if _, ok := number(a.Max); !ok {
			v.fail(at+".max", "max must be a number of calls")
		}
	}
}

func (a *ToolCalledSpec) compile(*Suite, Options) (Assertion, error) {
	minCalls, maxCalls := 1, -1
	if a.Min != nil {
		minCalls = *a.Min
	}
	if f, ok := number(a.Max); ok {
		maxCalls = int(f)
	}
	return toolCountAssertion(a.Tool, minCalls, maxCalls), nil
}

// toolCountAssertion checks that tool is called between minCalls and
// maxCalls times (maxCalls < 0: no upper limit).
func toolCountAssertion(tool string, minCalls, maxCalls int) Assertion {
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.Trace == nil {
			return fail("the target reported no trace, so tool calls cannot be checked")
		}
		n := len(toolCalls(c.Output.Trace, tool))
		switch {
		case n < minCalls:
			return fail("%s called %d times, want at least %d (tools called: %s)", tool, n, minCalls, toolList(c.Output.Trace))
		case maxCalls >= 0 && n > maxCalls:
			if maxCalls == 0 {
				return fail("%s was called %d times; it must not be called", tool, n)
			}
			return fail("%s called %d times, want at most %d", tool, n, maxCalls)
		}
		return pass()
	})
}
