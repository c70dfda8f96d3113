package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
)

func TestNilConfigUsesNames(t *testing.T) {
	var c *Config
	if !c.SideEffecting("cancel_pending_order") {
		t.Errorf("nil Config: SideEffecting(cancel_pending_order) = false, want true")
	}
	if c.SideEffecting("get_user_details") {
		t.Errorf("nil Config: SideEffecting(get_user_details) = true, want false")
	}
	if got, want := c.MaxStep(), DefaultMaxStepBytes; got != want {
		t.Errorf("nil Config: MaxStep() = %d, want %d", got, want)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "probity.yaml")
	yaml := `# which tools change the world
tools:
  lookup_and_lock: side-effect
  "crm_*": side-effect
  crm_read_contact: read-only
  add_numbers: calculator
side_effects:
  transfer_to_human_agents: false
max_step_bytes: 1000
`
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	tests := []struct {
		tool string
		want ToolClass
	}{
		{"lookup_and_lock", ClassSideEffect},        // configured over a read-only name
		{"crm_merge", ClassSideEffect},              // glob
		{"crm_read_contact", ClassReadOnly},         // exact beats glob
		{"add_numbers", ClassCalculator},            // configured
		{"transfer_to_human_agents", ClassReadOnly}, // side_effects: false overrides the name
		{"cancel_order", ClassSideEffect},           // unconfigured: by name
	}
	for _, tt := range tests {
		if got := c.Class(tt.tool); got != tt.want {
			t.Errorf("Class(%q) = %q, want %q", tt.tool, got, tt.want)
		}
	}
	if got, want := c.MaxStep(), 1000; got != want {
		t.Errorf("MaxStep() = %d, want %d", got, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, where, msg string
	}{
		{"unknown class", "tools:\n  refund: dangerous\n", "line 2, column 11", "unknown class"},
		{"unknown key", "tols:\n  a: read-only\n", "line 1, column 1", "unknown field"},
		{"syntax", "tools:\n  a: [\n", "line 2", ""},
		{"wrong type", "max_step_bytes: lots\n", "line 1, column 17", ""},
		{"bad glob", "tools:\n  \"crm_[\": side-effect\n", "", "bad pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			var pe *probity.Error
			if !errors.As(err, &pe) {
				t.Fatalf("LoadConfig(%q) error = %v, want *probity.Error", tt.yaml, err)
			}
			if pe.Code != probity.EINVALID || pe.File != p || !strings.HasPrefix(pe.Where, tt.where) || !strings.Contains(pe.Error(), tt.msg) {
				t.Errorf("LoadConfig(%q) = code %q file %q where %q: %v; want EINVALID at %q containing %q",
					tt.yaml, pe.Code, pe.File, pe.Where, pe, tt.where, tt.msg)
			}
		})
	}
	_, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"))
	if got := probity.ErrorCode(err); got != probity.ENOTFOUND {
		t.Errorf("LoadConfig(missing) code = %q, want %q", got, probity.ENOTFOUND)
	}
}
