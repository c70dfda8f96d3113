package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/provenance"
	"github.com/probity/probity/sweagent"
	"github.com/probity/probity/taubench"
	"github.com/probity/probity/whowhen"
)

// provLoadTau reads a τ-bench-shaped file of the shared data.
func provLoadTau(tb testing.TB, elem ...string) []*probity.Trace {
	tb.Helper()
	p := shareddata.Path(tb, elem...)
	out, err := ingest.ReadAll(context.Background(), p, ingest.Options{Format: taubench.Format})
	if err != nil {
		tb.Fatalf("read %s: %v", p, err)
	}
	return out
}

// provClean returns the runs with reward 1: the negatives.
func provClean(ts []*probity.Trace) []*probity.Trace {
	var out []*probity.Trace
	for _, t := range ts {
		if t.Labels.Reward != nil && *t.Labels.Reward == 1 {
			out = append(out, t)
		}
	}
	return out
}

// provRun runs detectors over t with fresh provenance and default config.
func provRun(t *probity.Trace, ds ...Detector) []probity.Finding {
	c := &Context{Trace: t, Prov: provenance.Analyze(t)}
	var fs []probity.Finding
	for _, d := range ds {
		fs = append(fs, d.Detect(c)...)
	}
	return fs
}

func provMsg(pos int, kind probity.Kind, actor, content string) probity.Step {
	return probity.Step{Pos: probity.Position{Index: pos}, Kind: kind, Actor: actor, Content: content}
}

func provCall(pos int, name, args string) probity.Step {
	return probity.Step{Pos: probity.Position{Index: pos}, Kind: probity.KindToolCall, Actor: "assistant",
		Tool: &probity.ToolCall{Name: name, Args: json.RawMessage(args)}}
}

func provResult(pos int, name, content string) probity.Step {
	return probity.Step{Pos: probity.Position{Index: pos}, Kind: probity.KindToolResult, Actor: "tool",
		Tool: &probity.ToolCall{Name: name}, Content: content}
}

// provRefundCascade is the flow of examples/refund-cascade.json: the agent
// looks up #W4817216, then speaks of #W4871216 (two digits swapped), refunds
// it and emails about it.
func provRefundCascade() *probity.Trace {
	return &probity.Trace{ID: "refund", Steps: []probity.Step{
		provMsg(0, probity.KindSystem, "system", "You are Acme's support agent."),
		provMsg(1, probity.KindUser, "user", "Hi, I'm maya.chen@example.com. My blender arrived cracked."),
		provCall(2, "get_user_details", `{"email":"maya.chen@example.com"}`),
		provResult(3, "get_user_details", `{"user_id": "maya_chen_5127", "orders": ["#W4817216", "#W9021837"], "payment_methods": {"credit_card_4410": {"last_four": "4410"}}}`),
		provCall(4, "get_order_details", `{"order_id":"#W4817216"}`),
		provResult(5, "get_order_details", `{"order_id": "#W4817216", "status": "delivered", "items": [{"name": "Blender", "item_id": "6312958840", "price": 129.99}]}`),
		provMsg(6, probity.KindAssistant, "assistant", "I found your blender order #W4871216 (delivered, $129.99, paid with your Visa ending in 4410). Shall I refund $129.99?"),
		provMsg(7, probity.KindUser, "user", "Yes, please."),
		provCall(8, "refund_order", `{"order_id":"#W4871216","amount":129.99,"payment_method_id":"credit_card_4410"}`),
		provResult(9, "refund_order", `{"status": "refund_pending", "order_id": "#W4871216", "amount": 129.99}`),
		provCall(10, "send_email", `{"to":"maya.chen@example.com","subject":"Your refund for order #W4871216","body":"We refunded $129.99."}`),
		provResult(11, "send_email", `{"sent": true}`),
		provMsg(12, probity.KindAssistant, "assistant", "Done! Your refund of $129.99 for order #W4871216 is on its way."),
	}}
}

func TestCascadeBlastRadius(t *testing.T) {
	fs := provRun(provRefundCascade(), Cascade{})
	if len(fs) != 1 {
		t.Fatalf("Cascade found %d findings, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if got, want := f.Step, 6; got != want {
		t.Errorf("cascade step = %d, want %d (where the corrupted id was born)", got, want)
	}
	if diff := cmp.Diff([]int{8, 9, 10, 12}, f.BlastRadius); diff != "" {
		t.Errorf("blast radius (-want +got):\n%s", diff)
	}
	if f.Severity != probity.SeverityHigh {
		t.Errorf("severity = %v, want high (the id reached refund_order)", f.Severity)
	}
	if !strings.Contains(f.Message, "refund_order at step 8") || !strings.Contains(f.Message, "send_email at step 10") {
		t.Errorf("message %q does not name the side-effecting actions", f.Message)
	}
	if got, want := f.Evidence[0], (probity.Evidence{Value: "#W4871216", Kind: "id", Class: "near-miss",
		Source: f.Evidence[0].Source, SourceStep: 3, Note: "two adjacent digits swapped: w4871216 vs w4817216"}); got != want {
		t.Errorf("evidence[0] = %+v, want %+v", got, want)
	}
	if !strings.Contains(f.Evidence[0].Source, "#W4817216") {
		t.Errorf("evidence source %q does not quote the original id", f.Evidence[0].Source)
	}
}

func TestCascadeNotOnGroundedValues(t *testing.T) {
	tr := provRefundCascade()
	for i := range tr.Steps {
		s := &tr.Steps[i]
		s.Content = strings.ReplaceAll(s.Content, "W4871216", "W4817216")
		if s.Tool != nil {
			s.Tool.Args = json.RawMessage(strings.ReplaceAll(string(s.Tool.Args), "W4871216", "W4817216"))
		}
	}
	if fs := provRun(tr, Cascade{}, UngroundedArgument{}, ContradictedClaim{}); len(fs) != 0 {
		t.Errorf("clean refund flow: got findings %+v, want none", fs)
	}
}

// TestCleanRunsRarelyHigh measures, on the successful real runs, how many get
// a high finding from the provenance detectors. The target is at
// most 5%.
func TestCleanRunsRarelyHigh(t *testing.T) {
	for _, file := range [][]string{{"tau-bench", "gpt-4o-airline.json"}, {"agentrx-tau-retail", "trajectories.json"}} {
		clean := provClean(provLoadTau(t, file...))
		perDetector := map[string]int{}
		high, medium := 0, 0
		for _, tr := range clean {
			flagged := false
			for _, f := range provRun(tr, UngroundedArgument{}, ContradictedClaim{}, Cascade{}) {
				if f.Severity == probity.SeverityHigh {
					perDetector[f.Detector]++
					flagged = true
					if testing.Verbose() {
						t.Logf("%s %s step %d: %s", file[0], tr.ID, f.Step, f.Message)
					}
				}
			}
			if flagged {
				high++
			} else if MaxSeverity(provRun(tr, UngroundedArgument{}, ContradictedClaim{}, Cascade{})) == probity.SeverityMedium {
				medium++
			}
		}
		rate := float64(high) / float64(len(clean))
		t.Logf("%s: %d of %d clean runs flagged high (%.1f%%), %d more medium; high findings per detector %v",
			file[0], high, len(clean), 100*rate, medium, perDetector)
		if rate > 0.05 {
			t.Errorf("%s: %.1f%% of clean runs flagged high, want <= 5%%", file[0], 100*rate)
		}
	}
}

// provPlant is one fault planted into a clean run: it edits the trace and
// returns the index of the step where a detector must fire, or -1 when the
// run offers no place for it.
type provPlant func(t *probity.Trace) int

// provCorrupt changes one digit of s (the last but one), or swaps two adjacent
// different digits when swap is set; ok is false when s has too few digits.
func provCorrupt(s string, swap bool) (string, bool) {
	b := []byte(s)
	var pos []int
	for i, c := range b {
		if c >= '0' && c <= '9' {
			pos = append(pos, i)
		}
	}
	if len(pos) < 3 {
		return s, false
	}
	if swap {
		for k := len(pos) - 1; k > 0; k-- {
			i, j := pos[k-1], pos[k]
			if j == i+1 && b[i] != b[j] && !(b[j] == '0' && (i == 0 || b[i-1] < '0' || b[i-1] > '9')) {
				b[i], b[j] = b[j], b[i]
				return string(b), true
			}
		}
		return s, false
	}
	i := pos[len(pos)-2]
	b[i] = '0' + (b[i]-'0'+3)%10
	return string(b), true
}

func provClone(t *probity.Trace) *probity.Trace {
	c := *t
	c.Steps = make([]probity.Step, len(t.Steps))
	copy(c.Steps, t.Steps)
	for i := range c.Steps {
		if c.Steps[i].Tool != nil {
			tc := *c.Steps[i].Tool
			c.Steps[i].Tool = &tc
		}
	}
	return &c
}

// provGroundedArg finds the first side-effecting call that the tool accepted
// with a grounded (or derived) argument of one of kinds, and returns the
// step and the value as written.
func provGroundedArg(tr *probity.Trace, kinds ...provenance.Kind) (int, string) {
	a := provenance.Analyze(tr)
	var cfg *Config
	for i, s := range tr.Steps {
		if s.Kind != probity.KindToolCall || s.Tool == nil || !cfg.SideEffecting(s.Tool.Name) {
			continue
		}
		if j := tr.ResultFor(i); j >= 0 && tr.Steps[j].Error != nil {
			continue // the tool rejected it: provPlant where the action took effect
		}
		for _, r := range a.Values(i) {
			if r.Class != provenance.Grounded && r.Class != provenance.Derived || r.Atom.Prose || r.Atom.Path == "" {
				continue
			}
			for _, k := range kinds {
				if r.Atom.Kind == k && (len(r.Atom.Raw) >= 5 || k == provenance.KindMoney && len(r.Atom.Raw) >= 3) {
					return i, r.Atom.Raw
				}
			}
		}
	}
	return -1, ""
}

func provReplaceArg(s *probity.Step, old, new string) {
	s.Tool.Args = json.RawMessage(strings.Replace(string(s.Tool.Args), `"`+old+`"`, `"`+new+`"`, 1))
}

func provHasFinding(fs []probity.Finding, detector string, step int, min probity.Severity) bool {
	for _, f := range fs {
		if f.Detector == detector && f.StepIndex == step && f.Severity >= min {
			return true
		}
	}
	return false
}

// provPlantAmount replaces the first grounded amount an assistant message
// states with change(amount).
func provPlantAmount(change func(raw string) (string, bool)) provPlant {
	return func(tr *probity.Trace) int {
		a := provenance.Analyze(tr)
		for i, s := range tr.Steps {
			if s.Kind != probity.KindAssistant {
				continue
			}
			for _, r := range a.Values(i) {
				if r.Atom.Kind != provenance.KindMoney || r.Class != provenance.Grounded || r.Atom.Weak() {
					continue
				}
				bad, ok := change(r.Atom.Raw)
				if !ok || bad == r.Atom.Raw {
					continue
				}
				tr.Steps[i].Content = s.Content[:r.Atom.Start] + bad + s.Content[r.Atom.End:]
				return i
			}
		}
		return -1
	}
}

// provenanceCents reads "$1,234.5" as 123450.
func provenanceCents(raw string) (int64, bool) {
	f, err := strconv.ParseFloat(strings.NewReplacer("$", "", ",", "").Replace(raw), 64)
	if err != nil {
		return 0, false
	}
	return int64(f*100 + 0.5), true
}

// TestPlantedFaultsRecall plants faults into the clean real runs and checks
// each is found at the planted step.
func TestPlantedFaultsRecall(t *testing.T) {
	var clean []*probity.Trace
	for _, file := range [][]string{{"tau-bench", "gpt-4o-airline.json"}, {"agentrx-tau-retail", "trajectories.json"}} {
		clean = append(clean, provClean(provLoadTau(t, file...))...)
	}
	cases := []struct {
		name     string
		detector Detector
		min      probity.Severity
		plant    provPlant
		want     float64 // minimum recall at any severity; 0 means 0.95
	}{
		{"near-miss id in side-effecting call (digit changed)", UngroundedArgument{}, probity.SeverityHigh,
			func(tr *probity.Trace) int {
				i, v := provGroundedArg(tr, provenance.KindID)
				bad, ok := provCorrupt(v, false)
				if i < 0 || !ok {
					return -1
				}
				provReplaceArg(&tr.Steps[i], v, bad)
				return i
			}, 0},
		{"near-miss id in side-effecting call (digits swapped)", UngroundedArgument{}, probity.SeverityHigh,
			func(tr *probity.Trace) int {
				i, v := provGroundedArg(tr, provenance.KindID)
				bad, ok := provCorrupt(v, true)
				if i < 0 || !ok {
					return -1
				}
				provReplaceArg(&tr.Steps[i], v, bad)
				return i
			}, 0},
		{"corrupted id carried on (cascade)", Cascade{}, probity.SeverityHigh,
			func(tr *probity.Trace) int {
				i, v := provGroundedArg(tr, provenance.KindID)
				bad, ok := provCorrupt(v, false)
				if i < 0 || !ok {
					return -1
				}
				n := 0
				for j := i; j < len(tr.Steps); j++ {
					s := &tr.Steps[j]
					if strings.Contains(s.Content, v) {
						s.Content = strings.ReplaceAll(s.Content, v, bad)
						n++
					}
					if s.Tool != nil && strings.Contains(string(s.Tool.Args), v) {
						s.Tool.Args = json.RawMessage(strings.ReplaceAll(string(s.Tool.Args), v, bad))
						n++
					}
				}
				if n < 2 {
					return -1 // nothing later carries it
				}
				return i
			}, 0},
		{"date three days off in a side-effecting call", UngroundedArgument{}, probity.SeverityHigh,
			func(tr *probity.Trace) int {
				i, v := provGroundedArg(tr, provenance.KindDate)
				d, err := time.Parse("2006-01-02", v)
				if i < 0 || err != nil {
					return -1
				}
				provReplaceArg(&tr.Steps[i], v, d.AddDate(0, 0, 3).Format("2006-01-02"))
				return i
			}, 0.9}, // 15 plantable runs: one miss is 0.93
		{"amount digits swapped in a message", ContradictedClaim{}, probity.SeverityHigh,
			provPlantAmount(func(raw string) (string, bool) { return provCorrupt(raw, true) }), 0},
		{"amount inflated 15% in a message", ContradictedClaim{}, probity.SeverityHigh,
			provPlantAmount(func(raw string) (string, bool) {
				c, ok := provenanceCents(raw)
				if !ok {
					return "", false
				}
				return fmt.Sprintf("$%.2f", float64(c)*1.15/100), true
			}), 0},
		{"contradicted amount in a message", ContradictedClaim{}, probity.SeverityHigh,
			func(tr *probity.Trace) int {
				a := provenance.Analyze(tr)
				for i, s := range tr.Steps {
					if s.Kind != probity.KindAssistant {
						continue
					}
					for _, r := range a.Values(i) {
						if r.Atom.Kind != provenance.KindMoney || r.Class != provenance.Grounded || r.Atom.Weak() {
							continue
						}
						bad, ok := provCorrupt(r.Atom.Raw, false)
						if !ok {
							continue
						}
						tr.Steps[i].Content = s.Content[:r.Atom.Start] + bad + s.Content[r.Atom.End:]
						return i
					}
				}
				return -1
			}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			planted, found, foundHigh := 0, 0, 0
			var missed []string
			for _, orig := range clean {
				tr := provClone(orig)
				i := tc.plant(tr)
				if i < 0 {
					continue
				}
				planted++
				fs := provRun(tr, tc.detector)
				if provHasFinding(fs, tc.detector.ID(), i, probity.SeverityLow) {
					found++
				} else {
					missed = append(missed, fmt.Sprintf("%s step %d", tr.ID, tr.Steps[i].Pos.Index))
				}
				if provHasFinding(fs, tc.detector.ID(), i, probity.SeverityHigh) {
					foundHigh++
				} else if os.Getenv("PROBITY_DUMP") != "" {
					for _, f := range fs {
						t.Logf("not high: %s %v %s", tr.ID, f.Severity, f.Message)
					}
				}
			}
			if planted < 15 {
				t.Fatalf("planted only %d faults; the fixture data changed?", planted)
			}
			recall := float64(found) / float64(planted)
			t.Logf("recall %d/%d = %.3f (at high: %.3f); missed %v", found, planted, recall,
				float64(foundHigh)/float64(planted), missed)
			want := tc.want
			if want == 0 {
				want = 0.95
			}
			if recall < want {
				t.Errorf("recall = %.3f, want >= %.2f", recall, want)
			}
		})
	}
}

func FuzzCascade(f *testing.F) {
	provFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, user, out, args, say string) {
		tr := provFuzzTrace(user, out, args, say)
		fs := provRun(tr, Cascade{})
		provCheckFindings(t, tr, fs)
		for _, x := range fs {
			if len(x.BlastRadius) == 0 {
				t.Fatalf("cascade %+v with an empty blast radius", x)
			}
			for _, p := range x.BlastRadius {
				if p <= x.Step-1 {
					t.Fatalf("cascade %+v reaches a step before its origin", x)
				}
			}
		}
	})
}

// provLoadGlob reads every file matching pattern under the shared data with
// read (sweagent.Read or whowhen.Read).
func provLoadGlob(tb testing.TB, pattern string, read func(context.Context, string, *os.File, func(*probity.Trace) error) error) []*probity.Trace {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(shareddata.Dir(tb), pattern))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no files match %s: %v", pattern, err)
	}
	sort.Strings(files)
	var out []*probity.Trace
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		err = read(context.Background(), p, f, func(t *probity.Trace) error { out = append(out, t); return nil })
		f.Close()
		if err != nil {
			tb.Fatalf("read %s: %v", p, err)
		}
	}
	return out
}

// TestOtherFormatsHighRate measures the provenance detectors on the coding
// agent (resolved runs: clean) and multi-agent (all failed) data.
func TestOtherFormatsHighRate(t *testing.T) {
	swe := provLoadGlob(t, "swebench-gemini3pro/trajs/*/*.traj.json", func(ctx context.Context, p string, f *os.File, emit func(*probity.Trace) error) error {
		return sweagent.Read(ctx, p, f, emit)
	})
	ww := provLoadGlob(t, "who-and-when/algorithm-generated/*.json", func(ctx context.Context, p string, f *os.File, emit func(*probity.Trace) error) error {
		return whowhen.Read(ctx, p, f, emit)
	})
	for name, ts := range map[string][]*probity.Trace{"swebench": swe, "who-and-when": ww} {
		high, med, n := 0, 0, 0
		per := map[string]int{}
		for _, tr := range ts {
			if name == "swebench" && (tr.Labels.Resolved == nil || !*tr.Labels.Resolved) {
				continue
			}
			n++
			fs := provRun(tr, UngroundedArgument{}, ContradictedClaim{}, Cascade{})
			switch MaxSeverity(fs) {
			case probity.SeverityHigh:
				high++
			case probity.SeverityMedium:
				med++
			}
			for _, f := range fs {
				if f.Severity == probity.SeverityHigh {
					per[f.Detector]++
					if testing.Verbose() {
						t.Logf("%s %s step %d: %s", name, tr.ID, f.Step, f.Message)
					}
				}
			}
		}
		t.Logf("%s: %d traces, %d with a high finding, %d with medium at most; high per detector %v", name, n, high, med, per)
		// Resolved SWE-bench runs are clean; Who&When runs all failed, so
		// their rate is reported, not bounded.
		if name == "swebench" && float64(high) > 0.05*float64(n) {
			t.Errorf("swebench: %d of %d resolved runs flagged high, want <= 5%%", high, n)
		}
	}
}

// BenchmarkProvenanceDetectors measures provenance plus the three detectors
// built on it over the real airline runs, against decoding the same file,
// in one run:
//
//	go test -run XXX -bench ProvenanceDetectors -benchmem ./detect
func BenchmarkProvenanceDetectors(b *testing.B) {
	traces := provLoadTau(b, "tau-bench", "gpt-4o-airline.json")
	raw, err := os.ReadFile(shareddata.Path(b, "tau-bench", "gpt-4o-airline.json"))
	if err != nil {
		b.Fatal(err)
	}
	steps := 0
	for _, t := range traces {
		steps += len(t.Steps)
	}
	var decodeNs float64
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				b.Fatal(err)
			}
		}
		decodeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("detect-only", func(b *testing.B) {
		cs := make([]*Context, len(traces))
		for i, t := range traces {
			cs[i] = &Context{Trace: t, Prov: provenance.Analyze(t)}
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range cs {
				for _, d := range []Detector{UngroundedArgument{}, ContradictedClaim{}, Cascade{}} {
					d.Detect(c)
				}
			}
		}
		if decodeNs > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/decodeNs, "x-decode")
		}
	})
	b.Run("analyze+detect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, t := range traces {
				provRun(t, UngroundedArgument{}, ContradictedClaim{}, Cascade{})
			}
		}
		perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(steps)/(perOp/1e9), "steps/s")
		if decodeNs > 0 {
			b.ReportMetric(perOp/decodeNs, "x-decode")
		}
	})
}
