package provenance

import (
	"strings"
	"testing"
)

// lowerFieldsRef is what lowerFields must always return.
func lowerFieldsRef(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

func TestLowerFields(t *testing.T) {
	for _, s := range []string{
		"", " ", "a", "abc def", "Abc", "abc  def", " abc", "abc ", "a\tb", "a\nb", "a\u00a0b",
		"ÄBC", "straße", "x\u0085y", "a b c", "A B  C\r\n",
	} {
		if got, want := lowerFields(s), lowerFieldsRef(s); got != want {
			t.Errorf("lowerFields(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzLowerFields(f *testing.F) {
	for _, s := range []string{"", "abc def", "Abc  Def", " x ", "a\tb\u00a0c", "ÄÖ ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := lowerFields(s), lowerFieldsRef(s); got != want {
			t.Errorf("lowerFields(%q) = %q, want %q", s, got, want)
		}
	})
}
