package ui_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBrowserOnlyInTests keeps the browser driver out of the product: the
// UI is tested through chromedp, and the probity binary must not link it.
func TestBrowserOnlyInTests(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, pkg := range []string{"github.com/probity/probity/ui", "github.com/probity/probity/cmd/probity"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "github.com/chromedp/") {
				t.Errorf("%s links %s; chromedp belongs in tests only", pkg, dep)
			}
		}
	}
}
