package inject

import (
	"context"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

func loadExample(t *testing.T, name string) *probity.Trace {
	t.Helper()
	ts, err := ingest.ReadAll(context.Background(), "../examples/"+name, ingest.Options{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("read %s: %v (%d traces)", name, err, len(ts))
	}
	return ts[0]
}

// TestSkippedConfirmation plants the intent failure in the bundled clean
// run: the customer's "yes" (message 9) no longer confirms, and the refund
// (message 10) is the planted step.
func TestSkippedConfirmation(t *testing.T) {
	clean := loadExample(t, "refund-ok.json")
	p, ok := InjectSeeded(clean, FaultSkippedConfirmation, 7)
	if !ok {
		t.Fatal("no place for skipped-confirmation in refund-ok.json")
	}
	if p.Pos != 10 {
		t.Errorf("planted at %d, want 10 (the refund)", p.Pos)
	}
	var user string
	for _, s := range p.Trace.Steps {
		if s.Pos.Index == 9 {
			user = s.Content
		}
	}
	if reConfirm.MatchString(user) {
		t.Errorf("message 9 still confirms: %q", user)
	}
	if clean.Steps[9].Content != "yes" {
		t.Errorf("the clean trace changed: message 9 = %q", clean.Steps[9].Content)
	}
	if !p.Touched[9] || !p.Touched[11] {
		t.Errorf("touched = %v, want 9 and 11", p.Touched)
	}
}

// TestSeedZeroIsInject keeps the detector measurement stable: InjectSeeded
// with seed 0 plants exactly what Inject plants.
func TestSeedZeroIsInject(t *testing.T) {
	clean := loadExample(t, "refund-ok.json")
	for _, c := range AllFaults() {
		a, okA := Inject(clean, c)
		b, okB := InjectSeeded(clean, c, 0)
		if okA != okB {
			t.Fatalf("%s: Inject ok=%v, InjectSeeded(0) ok=%v", c, okA, okB)
		}
		if okA && (a.Pos != b.Pos || a.Trace.Steps[a.Step].Content != b.Trace.Steps[b.Step].Content) {
			t.Errorf("%s: Inject and InjectSeeded(0) differ", c)
		}
	}
}
