package otlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/taubench"
)

// FuzzRead feeds Read arbitrary bytes. It must never panic; whatever it
// accepts must write as OTLP/JSON and read back to the same model. Seeds:
// the hand-made fixtures, the example, and real τ-bench runs converted to
// OTLP (when ../shared/data is present). Crashers found are kept in
// testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.otlp.json*"))
	files = append(files, filepath.Join("..", "examples", "support-billing.otlp.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(spanFile("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")))
	var buf bytes.Buffer
	if err := otlp.Write(&buf, handTrace()); err == nil {
		f.Add(buf.Bytes())
	}
	if dir, err := shareddata.Find(); err == nil {
		path := filepath.Join(dir, "tau-bench", "gpt-4o-airline.json")
		if r, err := os.Open(path); err == nil {
			n := 0
			_ = taubench.Read(context.Background(), path, r, func(t *probity.Trace) error {
				if n++; n <= 3 {
					var b bytes.Buffer
					if otlp.Write(&b, t) == nil {
						f.Add(b.Bytes())
					}
				}
				return nil
			})
			r.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		traces, err := readAll(t, "fuzz.json", data)
		if err != nil {
			if probity.ErrorCode(err) != probity.EINVALID {
				t.Fatalf("Read error %v has code %s, want invalid", err, probity.ErrorCode(err))
			}
			return
		}
		var out bytes.Buffer
		if err := otlp.Write(&out, traces...); err != nil {
			t.Fatalf("Write(Read(data)): %v", err)
		}
		back, err := readAll(t, "back.json", out.Bytes())
		if err != nil {
			t.Fatalf("Read(Write(Read(data))): %v\n%s", err, out.Bytes())
		}
		// Both readings name their own file; compare the traces as first read.
		for i := range traces {
			restoreOriginal(traces[i])
		}
		for i := range back {
			restoreOriginal(back[i])
		}
		if diff := cmp.Diff(traces, back); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
	})
}

// FuzzWrite builds a trace from arbitrary JSON in the model's own shape,
// writes it as OTLP/JSON and reads it back: every trace with valid kinds
// must survive unchanged. Seeds: the hand-built trace and real τ-bench runs.
func FuzzWrite(f *testing.F) {
	if b, err := json.Marshal(handTrace()); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"trace_id":"x","steps":[{"kind":"handoff"},{"kind":"handoff"},{"kind":"return"}]}`))
	if dir, err := shareddata.Find(); err == nil {
		path := filepath.Join(dir, "tau-bench", "gpt-4o-airline.json")
		if r, err := os.Open(path); err == nil {
			n := 0
			_ = taubench.Read(context.Background(), path, r, func(t *probity.Trace) error {
				if n++; n <= 3 {
					if b, err := json.Marshal(t); err == nil {
						f.Add(b)
					}
				}
				return nil
			})
			r.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// OTLP strings are UTF-8: invalid bytes (which importers reject
		// anyway) are written as U+FFFD, so they cannot round-trip.
		if !utf8.Valid(data) {
			return
		}
		var tr probity.Trace
		if json.Unmarshal(data, &tr) != nil {
			return
		}
		for _, s := range tr.Steps {
			if !s.Kind.Valid() {
				return
			}
		}
		var out bytes.Buffer
		if err := otlp.Write(&out, &tr); err != nil {
			t.Fatalf("Write: %v", err)
		}
		back, err := readAll(t, "back.json", out.Bytes())
		if err != nil {
			t.Fatalf("Read(Write(t)): %v", err)
		}
		if len(back) != 1 {
			t.Fatalf("%d traces back, want 1", len(back))
		}
		restoreOriginal(back[0])
		if diff := cmp.Diff(&tr, back[0], cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip differs (-want +got):\n%s", diff)
		}
	})
}
