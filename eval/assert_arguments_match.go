package eval

import "context"

// ArgumentsMatchSpec is an arguments-match assertion: some call to Tool has
// Args among its arguments (all of them and nothing else when Exact).
type ArgumentsMatchSpec struct {
	Tool  string         `yaml:"tool,omitempty" json:"tool,omitempty"`
	Args  map[string]any `yaml:"args,omitempty" json:"args,omitempty"`
	Exact bool           `yaml:"exact,omitempty" json:"exact,omitempty"`
}

func (a *ArgumentsMatchSpec) toolName() string { return a.Tool }

func (a *ArgumentsMatchSpec) validate(v *validator, at string) {
	if a.Tool == "" {
		v.fail(at, "%s assertion needs a tool", AssertToolArgs)
	}
	if a.Args == nil {
		v.fail(at, "arguments-match assertion needs args")
	}
}

func (a *ArgumentsMatchSpec) compile(*Suite, Options) (Assertion, error) {
	want := normalize(a.Args)
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.Trace == nil {
			return fail("the target reported no trace, so tool arguments cannot be checked")
		}
		calls := toolCalls(c.Output.Trace, a.Tool)
		if len(calls) == 0 {
			return fail("%s was never called (tools called: %s)", a.Tool, toolList(c.Output.Trace))
		}
		var last any
		for _, tc := range calls {
			got, _ := decodeJSON(tc.Args)
			last = got
			if a.Exact && jsonEqual(got, want) || !a.Exact && subsetMatch(want, got) {
				return pass()
			}
		}
		return fail("no call to %s has arguments matching %s (last: %s)", a.Tool, clip(quote(want), 120), clip(quote(last), 120))
	}), nil
}
