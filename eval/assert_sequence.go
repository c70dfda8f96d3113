package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// SequenceSpec is a sequence assertion: Tools are called in this order (a
// subsequence of the calls), one right after another when Contiguous, or
// in any order when AnyOrder (OrderInsensitive is another spelling).
type SequenceSpec struct {
	Tools            []string `yaml:"tools,omitempty" json:"tools,omitempty"`
	AnyOrder         bool     `yaml:"any_order,omitempty" json:"any_order,omitempty"`
	OrderInsensitive bool     `yaml:"order_insensitive,omitempty" json:"order_insensitive,omitempty"`
	Contiguous       bool     `yaml:"contiguous,omitempty" json:"contiguous,omitempty"`
}

func (a *SequenceSpec) validate(v *validator, at string) {
	a.AnyOrder = a.AnyOrder || a.OrderInsensitive
	if len(a.Tools) == 0 {
		v.fail(at, "sequence assertion needs a list of tools")
	}
	if a.AnyOrder && a.Contiguous {
		v.fail(at+".contiguous", "contiguous and any_order contradict each other")
	}
}

func (a *SequenceSpec) compile(*Suite, Options) (Assertion, error) {
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.Trace == nil {
			return fail("the target reported no trace, so the tool sequence cannot be checked")
		}
		var names []string
		for _, tc := range toolCalls(c.Output.Trace, "") {
			names = append(names, tc.Name)
		}
		if ok, msg := matchSequence(names, a.Tools, a.AnyOrder, a.Contiguous); !ok {
			return fail("%s", msg)
		}
		return pass()
	}), nil
}

// matchSequence checks want against the called tools: as a subsequence in
// order (default), as contiguous calls, or as a multiset in any order.
func matchSequence(called, want []string, anyOrder, contiguous bool) (bool, string) {
	got := strings.Join(called, " → ")
	if got == "" {
		got = "no tool calls"
	}
	switch {
	case anyOrder:
		left := slices.Clone(called)
		for _, w := range want {
			i := slices.Index(left, w)
			if i < 0 {
				return false, fmt.Sprintf("%s not called (any order); calls: %s", w, got)
			}
			left = slices.Delete(left, i, i+1)
		}
		return true, ""
	case contiguous:
		for i := 0; i+len(want) <= len(called); i++ {
			if slices.Equal(called[i:i+len(want)], want) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("calls %s do not contain %s in a row", got, strings.Join(want, " → "))
	}
	j := 0
	for _, n := range called {
		if j < len(want) && n == want[j] {
			j++
		}
	}
	if j == len(want) {
		return true, ""
	}
	return false, fmt.Sprintf("calls %s lack %s in order (stuck at %s)", got, strings.Join(want, " → "), want[j])
}
