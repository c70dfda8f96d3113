package provenance

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/taubench"
)

// loadTau reads a τ-bench-shaped file from the shared data.
func loadTau(tb testing.TB, elem ...string) []*probity.Trace {
	tb.Helper()
	p := shareddata.Path(tb, elem...)
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []*probity.Trace
	if err := taubench.Read(context.Background(), p, f, func(t *probity.Trace) error {
		out = append(out, t)
		return nil
	}); err != nil {
		tb.Fatalf("read %s: %v", p, err)
	}
	return out
}

func successful(ts []*probity.Trace) []*probity.Trace {
	var out []*probity.Trace
	for _, t := range ts {
		if t.Labels.Reward != nil && *t.Labels.Reward == 1 {
			out = append(out, t)
		}
	}
	return out
}

// TestDumpUnsupported prints every significant unsupported value in the
// successful real runs; it is a calibration aid, run with PROBITY_DUMP=1.
func TestDumpUnsupported(t *testing.T) {
	if os.Getenv("PROBITY_DUMP") == "" {
		t.Skip("set PROBITY_DUMP=1 to print unsupported values of clean runs")
	}
	for _, file := range [][]string{{"tau-bench", "gpt-4o-airline.json"}, {"agentrx-tau-retail", "trajectories.json"}} {
		for _, tr := range successful(loadTau(t, file...)) {
			a := Analyze(tr)
			for i, s := range tr.Steps {
				for _, r := range a.Values(i) {
					if r.Class == Grounded || r.Class == Derived || r.Atom.Weak() {
						continue
					}
					src := ""
					if r.Source != nil {
						src = fmt.Sprintf("%d %q", r.Source.Pos.Index, r.Source.Snippet())
					}
					tool := ""
					if s.Tool != nil {
						tool = s.Tool.Name
					}
					fmt.Printf("%s %s pos=%d %s %s %s %q path=%s prose=%v | %s | %s\n", file[0], tr.ID, s.Pos.Index, s.Kind, tool,
						r.Atom.Kind, r.Atom.Raw, r.Atom.Path, r.Atom.Prose, r.Class, r.Note+" "+src)
				}
			}
		}
	}
}

// TestDumpClasses prints, per atom kind, how the significant values agents
// state in clean runs are classified (PROBITY_DUMP=1).
func TestDumpClasses(t *testing.T) {
	if os.Getenv("PROBITY_DUMP") == "" {
		t.Skip("set PROBITY_DUMP=1")
	}
	counts := map[string]int{}
	notes := map[string]int{}
	for _, file := range [][]string{{"tau-bench", "gpt-4o-airline.json"}, {"agentrx-tau-retail", "trajectories.json"}} {
		for _, tr := range successful(loadTau(t, file...)) {
			a := Analyze(tr)
			for i, s := range tr.Steps {
				for _, r := range a.Values(i) {
					if r.Atom.Weak() {
						continue
					}
					counts[fmt.Sprintf("%s %s %s", s.Kind, r.Atom.Kind, r.Class)]++
					if r.Class == Derived {
						n := r.Note
						if len(n) > 14 {
							n = n[:14]
						}
						notes[n]++
					}
				}
			}
		}
	}
	for k, v := range counts {
		fmt.Println(v, k)
	}
	for k, v := range notes {
		fmt.Println("derived:", v, k)
	}
}
