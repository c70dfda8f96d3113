package blindinject_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/blindinject"
)

func loadExample(t *testing.T, name string) *probity.Trace {
	t.Helper()
	ts, err := ingest.ReadAll(context.Background(), "../../examples/"+name, ingest.Options{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("ReadAll(%s) = %d traces, %v; want 1", name, len(ts), err)
	}
	return ts[0]
}

// Every class plants into the bundled examples (they need no shared data):
// each plant is valid, deterministic, leaves the base alone, changes the
// trace, and names the detector its class expects.
func TestPlantExamples(t *testing.T) {
	for _, file := range []string{"refund-ok.json", "refund-cascade.json"} {
		base := loadExample(t, file)
		orig, _ := json.Marshal(base)
		for _, c := range blindinject.Classes() {
			planted := map[string]bool{}
			for seed := int64(1); seed <= 30; seed++ {
				pt, truth, err := blindinject.Plant(base, c, seed)
				if errors.Is(err, blindinject.ErrNotApplicable) {
					continue
				}
				if err != nil {
					t.Fatalf("Plant(%s, %s, %d): %v", file, c, seed, err)
				}
				planted[truth.Variant] = true
				if truth.Class != c || truth.Detector != c.Detector() || truth.Note == "" {
					t.Errorf("Plant(%s, %s, %d) truth = %+v, want class %s, detector %s and a note", file, c, seed, truth, c, c.Detector())
				}
				if err := blindinject.Validate(pt, truth); err != nil {
					t.Errorf("Validate(Plant(%s, %s, %d)) = %v", file, c, seed, err)
				}
				a, _ := json.Marshal(pt)
				if bytes.Equal(a, orig) {
					t.Errorf("Plant(%s, %s, %d) returned the base trace unchanged", file, c, seed)
				}
				again, _, _ := blindinject.Plant(base, c, seed)
				b, _ := json.Marshal(again)
				if !bytes.Equal(a, b) {
					t.Errorf("Plant(%s, %s, %d) twice gave different traces", file, c, seed)
				}
			}
			if c != blindinject.SwallowedError || file == "refund-cascade.json" {
				if len(planted) == 0 {
					t.Errorf("Plant(%s, %s, 1..30) planted nothing", file, c)
				}
			}
		}
		if now, _ := json.Marshal(base); !bytes.Equal(now, orig) {
			t.Errorf("planting changed the base trace %s", file)
		}
	}
}

// The planted content is the fault the truth describes.
func TestPlantedContent(t *testing.T) {
	base := loadExample(t, "refund-ok.json")
	stepsAt := func(tr *probity.Trace, pos int) []probity.Step {
		var out []probity.Step
		for _, s := range tr.Steps {
			if s.Pos.Index == pos {
				out = append(out, s)
			}
		}
		return out
	}
	for seed := int64(1); seed <= 20; seed++ {
		pt, truth, err := blindinject.Plant(base, blindinject.NearMissID, seed)
		if err != nil {
			t.Fatal(err)
		}
		call := stepsAt(pt, truth.Step)
		orig := stepsAt(base, truth.Origin[truth.Step])
		if len(call) != 1 || call[0].Kind != probity.KindToolCall || bytes.Equal(call[0].Tool.Args, orig[0].Tool.Args) {
			t.Errorf("near-miss seed %d: step %d = %+v, want a call whose arguments changed", seed, truth.Step, call)
		}
	}
	for seed := int64(1); seed <= 40; seed++ {
		pt, truth, err := blindinject.Plant(base, blindinject.InjectedInstruction, seed)
		if err != nil {
			t.Fatal(err)
		}
		carrier := stepsAt(pt, truth.Step)[0]
		action := stepsAt(pt, truth.Step+1)
		if !carrier.Kind.IsInput() || carrier.Kind == probity.KindUser || len(action) != 1 || action[0].Kind != probity.KindToolCall {
			t.Fatalf("injection seed %d: steps %d, %d are %s, %v; want untrusted input then the call it asks for", seed, truth.Step, truth.Step+1, carrier.Kind, action)
		}
		// Read the carrier as a model would: zero-width characters
		// dropped, tag characters decoded.
		var b strings.Builder
		for _, r := range carrier.Content {
			switch {
			case r >= 0xE0020 && r <= 0xE007E:
				b.WriteRune(r - 0xE0000)
			case r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff' || r >= 0xE0000:
			default:
				b.WriteRune(r)
			}
		}
		read := b.String()
		// The instruction names the tool or the values the call then uses.
		tool := action[0].Tool.Name
		named := strings.Contains(read, tool)
		var args map[string]any
		_ = json.Unmarshal(action[0].Tool.Args, &args)
		for _, v := range args {
			if s, ok := v.(string); ok && len(s) > 3 && strings.Contains(read, s) {
				named = true
			}
		}
		if !named {
			t.Errorf("injection seed %d (%s): the carrier asks for neither %s nor its arguments %s:\n%s", seed, truth.Variant, tool, action[0].Tool.Args, read)
		}
		if !slices.Contains(truth.At, truth.Step+1) {
			t.Errorf("injection seed %d: accepted positions %v miss the action at %d", seed, truth.At, truth.Step+1)
		}
	}
}

// CheckTrace accepts the examples and rejects each way a trace can break.
func TestCheckTrace(t *testing.T) {
	good := loadExample(t, "refund-ok.json")
	if err := blindinject.CheckTrace(good); err != nil {
		t.Fatalf("CheckTrace(refund-ok) = %v", err)
	}
	clone := func() *probity.Trace {
		b, _ := json.Marshal(good)
		var c probity.Trace
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	cases := []struct {
		name   string
		mutate func(*probity.Trace)
		want   string
	}{
		{"gap in positions", func(tr *probity.Trace) { tr.Steps[4].Pos.Index += 1 }, "follows"},
		{"result without its call", func(tr *probity.Trace) { tr.Steps[3].Tool.ID = "call_nowhere" }, "no earlier call"},
		{"call without result", func(tr *probity.Trace) { tr.Steps = append(tr.Steps[:3], tr.Steps[4:]...); renumber(tr) }, "no result"},
		{"arguments not JSON", func(tr *probity.Trace) { tr.Steps[2].Tool.Args = json.RawMessage(`{"a":`) }, "not JSON"},
		{"unknown kind", func(tr *probity.Trace) { tr.Steps[1].Kind = "thought" }, "unknown kind"},
		{"two actors in one record", func(tr *probity.Trace) { tr.Steps[3].Pos.Index = 2; tr.Steps[3].Pos.Part = 2 }, "two actors"},
	}
	for _, c := range cases {
		tr := clone()
		c.mutate(tr)
		err := blindinject.CheckTrace(tr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: CheckTrace = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// renumber closes the gap a test left by deleting a record.
func renumber(tr *probity.Trace) {
	pos, last := -1, -1
	for i := range tr.Steps {
		if tr.Steps[i].Pos.Index != last {
			pos++
			last = tr.Steps[i].Pos.Index
		}
		tr.Steps[i].Pos.Index = pos
	}
}

func TestPlantRejects(t *testing.T) {
	base := loadExample(t, "refund-ok.json")
	if _, _, err := blindinject.Plant(base, "no-such-class", 1); err == nil || errors.Is(err, blindinject.ErrNotApplicable) {
		t.Errorf("Plant(unknown class) = %v, want an error naming the class", err)
	}
	if _, _, err := blindinject.Plant(&probity.Trace{ID: "empty"}, blindinject.Loop, 1); !errors.Is(err, blindinject.ErrNotApplicable) {
		t.Errorf("Plant(empty trace) = %v, want ErrNotApplicable", err)
	}
}

func TestClassesAndVariants(t *testing.T) {
	known := []string{"ungrounded-argument", "contradicted-claim", "cascade", "swallowed-error", "unverified-success", "loop", "injected-instruction"}
	for _, c := range blindinject.Classes() {
		if !slices.Contains(known, c.Detector()) {
			t.Errorf("%s.Detector() = %q, not a detector id of the README", c, c.Detector())
		}
		if n := len(blindinject.Variants(c)); n < 3 {
			t.Errorf("Variants(%s) has %d variants, want several carriers or phrasings", c, n)
		}
	}
}
