package eval

// ToolNotCalledSpec is a tool-not-called assertion: Tool is never called.
type ToolNotCalledSpec struct {
	Tool string `yaml:"tool,omitempty" json:"tool,omitempty"`
}

func (a *ToolNotCalledSpec) toolName() string { return a.Tool }

func (a *ToolNotCalledSpec) validate(v *validator, at string) {
	if a.Tool == "" {
		v.fail(at, "%s assertion needs a tool", AssertToolNotCalled)
	}
}

func (a *ToolNotCalledSpec) compile(*Suite, Options) (Assertion, error) {
	return toolCountAssertion(a.Tool, 0, 0), nil
}
