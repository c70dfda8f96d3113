package eval

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMutate feeds arbitrary prose, expected values and fixtures through
// every mutation kind: no panic, the same output twice, and each kind's
// guarantee (checkGuarantee) holds.
func FuzzMutate(f *testing.F) {
	f.Add(`{"question": "Please refund order ORD-1234 for $56.20. Do not refund shipping. Thanks a lot."}`, `{"answer": "ORD-1234"}`, `{"get_order": "ok"}`, uint64(1))
	f.Add(`{"messages": [{"role": "user", "content": "cancel BK_778 please now"}]}`, `{"id": "BK_778"}`, `{}`, uint64(2))
	f.Add(`"You are mia_li_3668. You want to fly. You prefer economy. If not, business."`, `{"actions": [{"name": "book", "kwargs": {"user": "mia_li_3668"}}]}`, `null`, uint64(3))
	f.Add(`"Say \"yes\" or 'no'. Nothing else! Really?"`, `"yes"`, `{"t": {"a": 1}}`, uint64(4))
	f.Fuzz(func(t *testing.T, input, expected, fixtures string, seed uint64) {
		if !json.Valid([]byte(input)) || !json.Valid([]byte(expected)) || !json.Valid([]byte(fixtures)) || !utf8.ValidString(input+expected+fixtures) {
			return
		}
		c := Case{ID: "c", Input: json.RawMessage(input), Expected: json.RawMessage(expected), Fixtures: nullToEmpty(json.RawMessage(fixtures))}
		m, err := Mutate([]Case{c}, MutateOptions{Kinds: MutationKinds, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Mutate([]Case{c}, MutateOptions{Kinds: MutationKinds, Seed: seed})
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatal("not deterministic")
		}
		for _, v := range m.Cases[1:] {
			if string(v.Expected) != string(c.Expected) {
				t.Fatalf("%s changed expected", v.ID)
			}
			if err := checkGuarantee(v.Kind, mustDecode(c.Input), mustDecode(v.Input), mustDecode(c.Expected), c.Fixtures, v.Fixtures); err != nil {
				t.Fatalf("%s: %v", v.ID, err)
			}
		}
	})
}

// FuzzSentences checks the prose splitters lose nothing: tokens join back
// to the text, and sentences hold every word in order.
func FuzzSentences(f *testing.F) {
	for _, s := range []string{"You are X. You want $56.20 today! Ok?", "e.g. this and 11 a.m. est. Then stop.", "“Quoted.” (Bracketed.) Done", "", "...", "a. b. C."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := joinTokens(tokenize(s)); got != s {
			t.Fatalf("tokens join to %q, want %q", got, s)
		}
		if got, want := strings.Fields(strings.Join(sentences(s), " ")), strings.Fields(s); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("sentences hold %q, want %q", got, want)
		}
	})
}
