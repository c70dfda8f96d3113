package provenance

import (
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/toolclass"
)

// TestConfiguredCalculator: a tool the user classes calculator makes its
// output derived, though its name says nothing; without the configuration
// the same value is grounded in the tool's result like any fact.
func TestConfiguredCalculator(t *testing.T) {
	tr := &probity.Trace{Steps: []probity.Step{
		toolResult("tax_helper", "1234.5"),
		step(probity.KindAssistant, "assistant", "That is $1,234.50."),
	}}
	cfg := &toolclass.Config{Tools: map[string]toolclass.Class{"tax_helper": toolclass.Calculator}}
	tests := []struct {
		cfg  *toolclass.Config
		want Class
		note string
	}{
		{nil, Grounded, ""},
		{cfg, Derived, "computed by tool tax_helper"},
	}
	for _, tt := range tests {
		rs := Analyze(tr, WithToolClasses(tt.cfg)).Values(1)
		if len(rs) != 1 || rs[0].Class != tt.want || !strings.Contains(rs[0].Note, tt.note) {
			t.Errorf("configured %v: Values = %+v, want one %s value noting %q", tt.cfg != nil, rs, tt.want, tt.note)
		}
	}
}
