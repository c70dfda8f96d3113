package wire

import (
	"encoding/json"
	"testing"
)

// TestUnquote compares the fast path with encoding/json on tricky strings.
func TestUnquote(t *testing.T) {
	for _, s := range []string{``, `plain`, "tab\there", `quote " and \ backslash`, "line\nbreak\r\n", "\u00e9\u2713 \U0001D11E", "\x01\x1f", `</script>`, "\ufffd", "a\u2028b"} {
		b, _ := json.Marshal(s)
		got, ok := unquote(b)
		if !ok || got != s {
			t.Errorf("unquote(%s) = %q, %v, want %q", b, got, ok, s)
		}
	}
	for _, lit := range []string{`"\ud834\udd1e"`, `"\ud834x"`, `"\udd1e"`, `"\u00E9\/"`, `"\ud834\u0041"`} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := unquote([]byte(lit))
		if !ok || got != want {
			t.Errorf("unquote(%s) = %q, %v, want %q", lit, got, ok, want)
		}
	}
}

func FuzzUnquote(f *testing.F) {
	f.Add("a\"b\\c\n\u00e9\U0001D11E")
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := unquote(b); !ok || got != want {
			t.Fatalf("unquote(%s) = %q, %v, want %q", b, got, ok, want)
		}
	})
}
