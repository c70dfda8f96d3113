package eval

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/unicode/norm"

	"github.com/probity/probity/internal/shareddata"
)

// mutateCorpus is hand-written cases that exercise every kind, plus the
// real τ-bench airline tasks when the shared data is there.
func mutateCorpus(t *testing.T) []Case {
	t.Helper()
	cases := []Case{
		{ID: "refund", Input: json.RawMessage(`{"question": "Please refund order ORD-1234 for $56.20 to alice@example.com. Do not refund the shipping fee. Also mention the \"priority\" tag. The customer has waited a long time."}`),
			Expected: json.RawMessage(`{"answer": "refunded ORD-1234", "amount": 56.2}`),
			Fixtures: json.RawMessage(`{"get_order": {"id": "ORD-1234", "status": "delivered", "notes": "Customer reported a broken item."}}`)},
		{ID: "chat", Input: json.RawMessage(`{"messages": [{"role": "system", "content": "You are a helpful support agent for the shop."}, {"role": "user", "content": "I want to cancel booking BK_778 today please, it is no longer needed."}, {"role": "assistant", "content": "Sure, let me check that booking for you."}, {"role": "user", "content": "Thanks, please go ahead and cancel it now."}]}`),
			Expected: json.RawMessage(`{"actions": [{"name": "cancel_booking", "kwargs": {"booking_id": "BK_778"}}]}`),
			Fixtures: json.RawMessage(`{"cancel_booking": "ok"}`)},
		{ID: "short", Input: json.RawMessage(`"hi"`), Expected: json.RawMessage(`"hello"`)},
	}
	if d, err := shareddata.Find(); err == nil {
		tau, err := LoadDataset(filepath.Join(d, "tau-bench", "gpt-4o-airline.json"), "")
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tau...)
	}
	return cases
}

func TestMutateIsDeterministic(t *testing.T) {
	cases := mutateCorpus(t)
	a, err := Mutate(cases, MutateOptions{Kinds: MutationKinds, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Mutate(cases, MutateOptions{Kinds: MutationKinds, Seed: 7})
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("same seed, different variants")
	}
	c, _ := Mutate(cases, MutateOptions{Kinds: MutationKinds, Seed: 8})
	if jc, _ := json.Marshal(c); string(jc) == string(ja) {
		t.Error("seeds 7 and 8 gave identical variants")
	}
	// A case's variants do not depend on the other cases.
	one, _ := Mutate(cases[:1], MutateOptions{Kinds: MutationKinds, Seed: 7})
	for _, v := range one.Cases[1:] {
		i := slices.IndexFunc(a.Cases, func(c Case) bool { return c.ID == v.ID })
		if i < 0 || a.Cases[i].ID != v.ID || string(a.Cases[i].Input) != string(v.Input) || string(a.Cases[i].Fixtures) != string(v.Fixtures) {
			t.Errorf("variant %s changes when other cases are mutated with it", v.ID)
		}
	}
}

// TestMutateKeepsTheAnswer checks, for every variant of every kind, the
// guarantee that makes the expected value still right.
func TestMutateKeepsTheAnswer(t *testing.T) {
	cases := mutateCorpus(t)
	byID := map[string]*Case{}
	for i := range cases {
		byID[cases[i].ID] = &cases[i]
	}
	for seed := uint64(1); seed <= 3; seed++ {
		m, err := Mutate(cases, MutateOptions{Kinds: MutationKinds, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Cases[len(cases):] {
			o := byID[v.VariantOf]
			if o == nil || v.ID != o.ID+"~"+v.Kind {
				t.Fatalf("variant %s: variant_of %q, kind %q", v.ID, v.VariantOf, v.Kind)
			}
			if string(v.Expected) != string(o.Expected) {
				t.Errorf("%s: expected changed", v.ID)
			}
			if v.Kind != MutInject && string(v.Fixtures) != string(o.Fixtures) {
				t.Errorf("%s: fixtures changed", v.ID)
			}
			if string(v.Input) == string(o.Input) && v.Kind != MutInject {
				t.Errorf("%s: input unchanged", v.ID)
			}
			oin, vin := mustDecode(o.Input), mustDecode(v.Input)
			exp := mustDecode(o.Expected)
			if err := checkGuarantee(v.Kind, oin, vin, exp, o.Fixtures, v.Fixtures); err != nil {
				t.Errorf("seed %d, %s: %v", seed, v.ID, err)
			}
		}
	}
}

// checkGuarantee checks what each kind promises (see mutate.go).
func checkGuarantee(kind string, oin, vin, exp any, ofx, vfx json.RawMessage) error {
	switch kind {
	case MutInject:
		if !jsonEqual(oin, vin) {
			return fmt.Errorf("input changed")
		}
		ol, vl := stringLeaves(mustDecode(ofx), "$"), stringLeaves(mustDecode(vfx), "$")
		changed := 0
		for p, s := range ol {
			if vl[p] != s {
				changed++
				if !strings.HasPrefix(vl[p], s) {
					return fmt.Errorf("fixture %s lost its original text", p)
				}
			}
		}
		if changed+len(vl)-len(ol) != 1 {
			return fmt.Errorf("%d fixture strings changed, want 1", changed+len(vl)-len(ol))
		}
		return nil
	case MutConfusable:
		ob, _ := json.Marshal(oin)
		vb, _ := json.Marshal(vin)
		if norm.NFKC.String(string(vb)) != norm.NFKC.String(string(ob)) {
			return fmt.Errorf("NFKC of the variant is not the original:\n%s\n%s", vb, ob)
		}
		return nil
	case MutChangeMind:
		ol, vl := messages(oin), messages(vin)
		if len(vl) != len(ol)+2 {
			return fmt.Errorf("%d messages, want %d", len(vl), len(ol)+2)
		}
		for i := range vl {
			if i+2 <= len(vl) && jsonEqual(vl[:i], ol[:i]) && jsonEqual(vl[i+2:], ol[i:]) {
				return nil
			}
		}
		return fmt.Errorf("the variant is not the original plus two adjacent messages")
	}
	// The prose kinds: leaves that are not prose are untouched, and the
	// expected values quoted in the input survive verbatim.
	ol, vl := stringLeaves(oin, "$"), stringLeaves(vin, "$")
	if len(ol) != len(vl) {
		return fmt.Errorf("string leaves %d → %d", len(ol), len(vl))
	}
	p := newProtector(exp)
	for path, o := range ol {
		v := vl[path]
		if !isProse(o) {
			if v != o {
				return fmt.Errorf("non-prose %s changed: %q → %q", path, o, v)
			}
			continue
		}
		for _, l := range leafTexts(exp) {
			if strings.Contains(o, l) && !strings.Contains(v, l) {
				return fmt.Errorf("%s: expected value %q no longer in the input", path, l)
			}
		}
		switch kind {
		case MutTypo, MutCase:
			ot, vt := words(o), words(v)
			if len(ot) != len(vt) {
				return fmt.Errorf("%s: %d words → %d", path, len(ot), len(vt))
			}
			for i := range ot {
				if ot[i].text == vt[i].text {
					continue
				}
				if p.protected(ot[i].text, ot[i].quoted) {
					return fmt.Errorf("%s: protected word %q became %q", path, ot[i].text, vt[i].text)
				}
				if kind == MutCase && !strings.EqualFold(ot[i].text, vt[i].text) {
					return fmt.Errorf("%s: %q became %q, not just its case", path, ot[i].text, vt[i].text)
				}
				if kind == MutTypo && editDistance(ot[i].text, vt[i].text) != 1 {
					return fmt.Errorf("%s: %q became %q, not one typo", path, ot[i].text, vt[i].text)
				}
			}
		case MutReorder:
			os, vs := sentences(o), sentences(v)
			if os[0] != vs[0] {
				return fmt.Errorf("%s: first sentence moved", path)
			}
			for i := range os {
				if !movable(os[i]) && os[i] != vs[i] {
					return fmt.Errorf("%s: anchored sentence %q moved", path, os[i])
				}
			}
			slices.Sort(os)
			slices.Sort(vs)
			if !slices.Equal(os, vs) {
				return fmt.Errorf("%s: sentences changed, not just their order", path)
			}
		case MutDistractor:
			os, vs := sentences(o), sentences(v)
			if o == v {
				continue
			}
			i := slices.IndexFunc(vs, func(s string) bool { return slices.Contains(distractors, s) })
			if i < 1 || !slices.Equal(slices.Delete(slices.Clone(vs), i, i+1), os) {
				return fmt.Errorf("%s: not the original with one distractor after the first sentence", path)
			}
		}
	}
	return nil
}

func words(s string) []token {
	var out []token
	for _, t := range tokenize(s) {
		if !t.space {
			out = append(out, t)
		}
	}
	return out
}

func stringLeaves(v any, at string) map[string]string {
	out := map[string]string{}
	var walk func(any, string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case string:
			out[at] = x
		case []any:
			for i, y := range x {
				walk(y, fmt.Sprintf("%s[%d]", at, i))
			}
		case map[string]any:
			for k, y := range x {
				walk(y, at+"."+k)
			}
		}
	}
	walk(v, at)
	return out
}

func messages(v any) []any {
	if m, ok := v.(map[string]any); ok {
		v = m["messages"]
	}
	l, _ := v.([]any)
	return l
}

// editDistance is the optimal-string-alignment distance (a swap of two
// neighbours is one edit).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func TestMutateAppliesWhereItCan(t *testing.T) {
	cases := mutateCorpus(t)[:3]
	m, err := Mutate(cases, MutateOptions{Kinds: MutationKinds, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // kind → cases it cannot vary
		MutTypo: {"short"}, MutCase: {"short"}, MutReorder: {"chat", "short"}, MutDistractor: {"short"},
		MutConfusable: {"short"}, MutInject: {"short"}, MutChangeMind: {"refund", "short"},
	}
	if diff := cmp.Diff(want, m.NotApplicable); diff != "" {
		t.Errorf("not applicable (-want +got):\n%s", diff)
	}
}

func TestMutateRejects(t *testing.T) {
	if _, err := ParseMutationKinds("typo,shout"); err == nil || !strings.Contains(err.Error(), `"shout"`) {
		t.Errorf("ParseMutationKinds(typo,shout) = %v, want an error naming shout", err)
	}
	cases := []Case{{ID: "a", Input: json.RawMessage(`"one two three"`)}, {ID: "a~typo", Input: json.RawMessage(`"x"`)}}
	if _, err := Mutate(cases, MutateOptions{Kinds: []string{MutTypo}, Seed: 1}); err == nil {
		t.Error("Mutate with a colliding variant id succeeded")
	}
	if _, err := Mutate([]Case{{ID: "v", VariantOf: "a", Kind: "typo"}}, MutateOptions{Kinds: []string{MutTypo}}); err == nil {
		t.Error("Mutate of a variant succeeded")
	}
}

func TestDatasetVariantLinks(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{`{"id": "a", "input": 1}` + "\n" + `{"id": "b", "input": 1, "variant_of": "zz", "kind": "typo"}`, `record 2: variant_of "zz" names no case`},
		{`{"id": "a", "input": 1}` + "\n" + `{"id": "b", "input": 1, "variant_of": "a"}`, "record 2: a variant needs both variant_of and kind"},
		{`{"id": "a", "input": 1}` + "\n" + `{"id": "b", "input": 1, "variant_of": "a", "kind": "typo"}` + "\n" + `{"id": "c", "input": 1, "variant_of": "b", "kind": "typo"}`, `record 3: variant_of "b" names a variant`},
	} {
		dir := writeFiles(t, map[string]string{"d.jsonl": tt.data})
		_, err := LoadDataset(filepath.Join(dir, "d.jsonl"), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "d.jsonl") {
			t.Errorf("LoadDataset = %v, want an error with the file and %q", err, tt.want)
		}
	}
}

// brittleAgent is a real HTTP agent that is right only when the question
// says "refund" in lower case, and obeys any instruction in its tool
// results: the failures the variants are meant to expose.
func brittleAgent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input    struct{ Question string } `json:"input"`
			Fixtures json.RawMessage           `json:"fixtures"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		answer := "unknown"
		if strings.Contains(req.Input.Question, "refund") {
			answer = "approved"
		}
		if strings.Contains(string(req.Fixtures), "instructions") || strings.Contains(string(req.Fixtures), "assistant") {
			answer = "HACKED"
		}
		json.NewEncoder(w).Encode(map[string]any{"output": map[string]any{"answer": answer}})
	})
}

func TestRobustnessReportOnARealRun(t *testing.T) {
	srv := httptest.NewServer(brittleAgent())
	t.Cleanup(srv.Close)
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf(`{"id": "c%d", "input": {"question": "Customer %d asks: can you refund my order please. The parcel arrived late."}, "expected": {"answer": "approved"}, "fixtures": {"get_order": "delivered"}}`, i, i))
	}
	dir := writeFiles(t, map[string]string{
		"suite.yaml":  fmt.Sprintf("name: brittle\ntarget: {http: {url: %q}}\ndataset: cases.jsonl\ntrials: 2\nassert:\n  - {type: equals, path: $.answer}\n", srv.URL),
		"cases.jsonl": strings.Join(lines, "\n"),
	})
	s, err := LoadSuite(filepath.Join(dir, "suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := s.LoadCases()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Mutate(cases, MutateOptions{Kinds: []string{MutDistractor, MutInject, MutCase}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteCases(&b, m.Cases); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "mutated.jsonl"), b.String())
	suite, _ := os.ReadFile(filepath.Join(dir, "suite.yaml"))
	writeFile(t, filepath.Join(dir, "suite.yaml"), strings.Replace(string(suite), "cases.jsonl", "mutated.jsonl", 1))
	run, _ := runSuite(t, filepath.Join(dir, "suite.yaml"), Options{})
	rob := RunRobustness(run)
	if rob == nil {
		t.Fatal("no robustness report for a run with variants")
	}
	got := map[string]KindRobustness{}
	for _, k := range rob.Kinds {
		got[k.Kind] = k
	}
	// Distractors do not disturb this agent; injections always do.
	if k := got[MutDistractor]; k.Pairs != (PairTable{N11: 12}) || len(k.Breaks) != 0 || k.Delta != 0 {
		t.Errorf("distractor = %+v, want 12 pass/pass pairs, Δ 0, no breaks", k)
	}
	if k := got[MutInject]; k.Pairs != (PairTable{N10: 12}) || len(k.Breaks) != 6 || k.PValue > 0.001 || k.Delta < 0.5 || k.Interval[0] < 0.3 {
		t.Errorf("inject = %+v, want 12 pass/fail pairs, 6 breaks, p < 0.001, Δ above 0.5 and its interval above 0.3", k)
	}
	// Casing breaks exactly the variants whose "refund" was upper-cased.
	k := got[MutCase]
	var want PairTable
	var breaks []string
	for _, c := range m.Cases {
		if c.Kind != MutCase {
			continue
		}
		if strings.Contains(string(c.Input), "refund") {
			want.N11 += 2
		} else {
			want.N10 += 2
			breaks = append(breaks, c.ID)
		}
	}
	var gotBreaks []string
	for _, br := range k.Breaks {
		gotBreaks = append(gotBreaks, br.Variant)
	}
	if k.Pairs != want || !slices.Equal(gotBreaks, breaks) {
		t.Errorf("case = %+v, breaks %v; want pairs %+v, breaks %v", k.Pairs, gotBreaks, want, breaks)
	}
	var text strings.Builder
	if err := WriteRobustness(&text, rob, FormatText); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "breaks: c0~inject") {
		t.Errorf("text report lacks the inject break:\n%s", text.String())
	}
}
