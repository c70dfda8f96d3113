package otlp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
)

// summary renders a trace one step per line, with every field a detector
// relies on, so a golden file shows at a glance what a fixture imports to.
func summary(t *probity.Trace) string {
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s format=%s task=%q meta=%v\n", t.ID, t.Format, t.Task, t.Meta)
	for _, s := range t.Steps {
		fmt.Fprintf(&b, "%d.%d", s.Pos.Index, s.Pos.Part)
		if s.Pos.Line != 0 {
			fmt.Fprintf(&b, " line=%d", s.Pos.Line)
		}
		fmt.Fprintf(&b, " span=%s %s actor=%s id=%s parent=%s", s.Pos.SpanID, s.Kind, s.Actor, s.ID, s.ParentID)
		if c := s.Tool; c != nil {
			fmt.Fprintf(&b, " tool=%s#%s", c.Name, c.ID)
			if c.Args != nil {
				fmt.Fprintf(&b, " args=%s", c.Args)
			}
			if c.RawArgs != "" {
				fmt.Fprintf(&b, " raw_args=%q", c.RawArgs)
			}
		}
		if e := s.Error; e != nil {
			fmt.Fprintf(&b, " error=%q code=%q", e.Message, e.Code)
		}
		if m := s.Model; m != nil {
			fmt.Fprintf(&b, " model=%s/%s", m.Provider, m.Name)
			if m.Temperature != nil {
				fmt.Fprintf(&b, " temp=%g", *m.Temperature)
			}
			if m.Seed != nil {
				fmt.Fprintf(&b, " seed=%d", *m.Seed)
			}
			fmt.Fprintf(&b, " tokens=%d/%d", m.InputTokens, m.OutputTokens)
		}
		if !s.Start.IsZero() {
			fmt.Fprintf(&b, " at=%s", s.Start.Format("05.000"))
		}
		fmt.Fprintf(&b, "\n    %q\n", s.Content)
	}
	return b.String()
}

// TestFixtures reads the hand-made OTLP files in testdata, one per
// convention (GenAI attributes, OpenInference, a sub-agent with message
// events, openllmetry attributes with a failing tool), and compares what
// they import to with the reviewed golden files. UPDATE_GOLDEN=1 rewrites
// the golden files.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.otlp.json*"))
	if err != nil || len(files) < 4 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			traces, err := readAll(t, f, data)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var got strings.Builder
			for _, tr := range traces {
				got.WriteString(summary(tr))
			}
			golden := strings.TrimSuffix(strings.TrimSuffix(f, ".jsonl"), ".json") + ".golden"
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("%s imports differently (-want +got):\n%s", f, diff)
			}
			// And each converts and reads back to the same model.
			back, _ := roundTrip(t, traces)
			if diff := cmp.Diff(traces, back); diff != "" {
				t.Errorf("round trip of %s (-want +got):\n%s", f, diff)
			}
		})
	}
}
