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

// The references below are the plain forms of functions that avoid copies;
// FuzzCopyFree holds each pair equal.

func partialBeforeRef(t string, i int) bool {
	head := strings.ToLower(t[max(0, i-40):i])
	head = strings.TrimRight(head, " :")
	head = strings.TrimSuffix(head, " is")
	head = strings.TrimSuffix(head, " of")
	head = strings.TrimRight(head, " :")
	for _, p := range partialPhrases {
		if strings.HasSuffix(head, p) {
			return true
		}
	}
	return false
}

func normIDRef(w string) string {
	var b strings.Builder
	for k := 0; k < len(w); k++ {
		switch c := w[k]; {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c == '#' || c == '-' || c == '_' || c == '.' || c == ' ':
		default:
			b.WriteByte(c)
		}
	}
	n := b.String()
	if isDigits(n) {
		if n = strings.TrimLeft(n, "0"); n == "" {
			n = "0"
		}
	}
	return n
}

func relativeDayRef(w string) (int, bool) {
	switch strings.ToLower(w) {
	case "today", "tonight":
		return 0, true
	case "tomorrow":
		return 1, true
	case "yesterday":
		return -1, true
	}
	return 0, false
}

func centsRef(norm string) (int64, bool) {
	if len(norm) > 15 {
		return 0, false
	}
	ip, fp := norm, ""
	if i := strings.IndexByte(norm, '.'); i >= 0 {
		ip, fp = norm[:i], norm[i+1:]
	}
	if len(fp) > 2 || !isDigits(ip) || fp != "" && !isDigits(fp) {
		return 0, false
	}
	for len(fp) < 2 {
		fp += "0"
	}
	var v int64
	for _, c := range ip + fp {
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func FuzzCopyFree(f *testing.F) {
	for _, s := range []string{"Card Ending In: 1234", "the LAST FOUR digits of 9876", "ab-12_C.d", "007", "0", "",
		"ToDay", "YESTERDAY", "12.5", "0.05", "1234567890123.4", "7.", ".5", "3.14159", "yeſterday", "Tomorrow", "order #W123", "é ending in 12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i <= len(s); i++ {
			if got, want := partialBefore(s, i), partialBeforeRef(s, i); got != want {
				t.Fatalf("partialBefore(%q, %d) = %v, want %v", s, i, got, want)
			}
		}
		if got, want := normID(s), normIDRef(s); got != want {
			t.Errorf("normID(%q) = %q, want %q", s, got, want)
		}
		gc, gok := cents(s)
		wc, wok := centsRef(s)
		if gc != wc || gok != wok {
			t.Errorf("cents(%q) = %d, %v, want %d, %v", s, gc, gok, wc, wok)
		}
		gd, gok := relativeDay(s)
		wd, wok := relativeDayRef(s)
		if gd != wd || gok != wok {
			t.Errorf("relativeDay(%q) = %d, %v, want %d, %v", s, gd, gok, wd, wok)
		}
	})
}
