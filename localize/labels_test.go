package localize_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
)

// analyzeJSON is what `analyze --format json -` prints for b.
func analyzeJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	a := analysis.New(analysis.Options{})
	err := ingest.Each(context.Background(), []string{"-"}, ingest.Options{Stdin: bytes.NewReader(b)}, func(tr *probity.Trace) error {
		r := a.Run(tr)
		return json.NewEncoder(&out).Encode(&r)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestLabelsNeverReachTheLocaliser strips the attribution labels
// (mistake_step, mistake_agent, mistake_reason) from every Who&When log
// and gets byte-identical analysis, localisation included.
func TestLabelsNeverReachTheLocaliser(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(shareddata.Path(t, "who-and-when", "algorithm-generated"), "*.json"))
	if len(files) == 0 {
		t.Fatal("no Who&When logs")
	}
	localised := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["mistake_step"]; !ok {
			t.Fatalf("%s has no mistake_step: nothing to strip", f)
		}
		delete(m, "mistake_step")
		delete(m, "mistake_agent")
		delete(m, "mistake_reason")
		stripped, _ := json.Marshal(m)
		got, want := analyzeJSON(t, stripped), analyzeJSON(t, b)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: output changes when the labels are stripped:\n with: %s\n without: %s", filepath.Base(f), want, got)
		}
		if bytes.Contains(want, []byte(`"localization":{`)) {
			localised++
		}
	}
	// The comparison means something only if runs were localised.
	if localised < len(files)/2 {
		t.Errorf("%d of %d runs localised; want most of them (all failed)", localised, len(files))
	}
}
