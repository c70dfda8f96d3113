package provenance

import (
	"context"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/taubench"
)

// loadTau reads a τ-bench-shaped file from the shared data.
func loadTau(tb testing.TB, elem ...string) []*probity.Trace {
	tb.Helper()
	p := shareddata.Path(tb, elem...)
	out, err := ingest.ReadAll(context.Background(), p, ingest.Options{Format: taubench.Format})
	if err != nil {
		tb.Fatalf("read %s: %v", p, err)
	}
	return out
}
