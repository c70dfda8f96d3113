package detectbench

import (
	"os"
	"strings"
	"testing"

	"github.com/probity/probity/inject"
	"github.com/probity/probity/internal/shareddata"
)

// TestMeasure runs the whole measurement over ../shared/data and prints the
// README tables (go test ./internal/detectbench -run TestMeasure -v). It
// fails when a detector built here misses its own targets: recall >= 0.95
// on the faults it owns and at most 5% of untouched successful runs flagged
// high.
func TestMeasure(t *testing.T) {
	dir := shareddata.Dir(t)
	res, err := Measure(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.WriteMarkdown(&b)
	t.Log("\n" + b.String())
	if os.Getenv("DETECTBENCH_OUT") != "" {
		if err := os.WriteFile(os.Getenv("DETECTBENCH_OUT"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	own := map[string]bool{inject.FaultErrorAsSuccess: true, inject.FaultRepeatedCall: true, inject.FaultInjection: true}
	for _, f := range res.Faults {
		if f.Planted == 0 {
			t.Errorf("fault %s: planted in no run; the injector lost its footing", f.Class)
			continue
		}
		if got := float64(f.Found) / float64(f.Planted); own[f.Class] && got < 0.95 {
			t.Errorf("fault %s: recall %.3f (%d/%d), want >= 0.95", f.Class, got, f.Found, f.Planted)
		}
	}
	if got := float64(res.CleanHigh) / float64(res.CleanRuns); got > 0.05 {
		t.Errorf("untouched successful runs flagged high: %.3f (%d/%d), want <= 0.05", got, res.CleanHigh, res.CleanRuns)
	}
}
