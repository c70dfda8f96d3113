package drill

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

func readTraces(t testing.TB, paths ...string) []*probity.Trace {
	t.Helper()
	var out []*probity.Trace
	err := ingest.Each(context.Background(), paths, ingest.Options{}, func(tr *probity.Trace) error {
		out = append(out, tr)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func examples(t testing.TB) []*probity.Trace {
	return readTraces(t, "../examples/refund-ok.json", "../examples/refund-cascade.json", "../examples/support-billing.otlp.json")
}

func makeSet(t testing.TB, traces []*probity.Trace, o Options) (*Set, string) {
	t.Helper()
	s, err := Make(context.Background(), traces, o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// readDir returns every file of dir by name.
func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestMakeDeterministic: the same seed and inputs give byte-identical
// files; another seed gives another set.
func TestMakeDeterministic(t *testing.T) {
	o := Options{Count: 12, Seed: 42}
	_, d1 := makeSet(t, examples(t), o)
	_, d2 := makeSet(t, examples(t), o)
	a, b := readDir(t, d1), readDir(t, d2)
	if len(a) != 13 {
		t.Fatalf("made %d files, want 12 drills and key.json", len(a))
	}
	for name, x := range a {
		if !bytes.Equal(x, b[name]) {
			t.Errorf("%s differs between two runs with seed 42", name)
		}
	}
	o.Seed = 43
	_, d3 := makeSet(t, examples(t), o)
	if bytes.Equal(a[KeyFile], readDir(t, d3)[KeyFile]) {
		t.Error("seeds 42 and 43 made the same key")
	}
}

// TestMakeKinds: --kinds naming a fault class plants only that class.
func TestMakeKinds(t *testing.T) {
	s, _ := makeSet(t, examples(t), Options{Count: 3, Seed: 2, Kinds: []string{"skipped-confirmation", OriginProbability}})
	planted := 0
	for _, e := range s.Key.Drills {
		switch e.Origin {
		case OriginPlanted:
			planted++
			if *e.Answer.Class != "skipped-confirmation" {
				t.Errorf("%s: planted %s, want only skipped-confirmation", e.ID, *e.Answer.Class)
			}
		case OriginProbability:
		default:
			t.Errorf("%s: origin %s, want planted or probability", e.ID, e.Origin)
		}
	}
	if planted == 0 {
		t.Error("no planted drill")
	}
	if _, err := Make(t.Context(), nil, Options{Count: 1, Kinds: []string{"gossip"}}); err == nil || !strings.Contains(err.Error(), `unknown kind "gossip"`) {
		t.Errorf("Make with kind gossip: %v, want an error naming it", err)
	}
}

// TestWriteReplacesASet: a smaller set written over a bigger one leaves no
// stale drill behind.
func TestWriteReplacesASet(t *testing.T) {
	_, dir := makeSet(t, examples(t), Options{Count: 6, Seed: 1})
	s, err := Make(t.Context(), examples(t), Options{Count: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Drills) != 2 {
		t.Errorf("after writing 2 drills over 6, Load reads %d", len(got.Drills))
	}
}
