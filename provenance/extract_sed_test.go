package provenance

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExtractSedAddress checks that the line a sed edit lands on is a
// number whatever command follows it: a corrupted copy of that line number
// is the value that decides which line changes.
func TestExtractSedAddress(t *testing.T) {
	tests := []struct {
		in   string
		want []short
	}{
		{`sed -i '3102i\    x = y' f.py`, []short{{"3102", "3102", KindNumber}}},
		{`sed -i "1750c\    y" f.py`, []short{{"1750", "1750", KindNumber}}},
		{`sed -i '1082s/a/b/' f.py`, []short{{"1082s", "1082", KindNumber}}},
		{`sed -i '1082d' f.py`, []short{{"1082d", "1082", KindNumber}}},
		// Not a sed command: digits running on into an identifier.
		{"build 3102ic", []short{{"3102ic", "3102ic", KindID}}},
		{"tag 3102i-rc", []short{{"3102i-rc", "3102irc", KindID}}},
	}
	for _, tt := range tests {
		var got []short
		for _, a := range shorten(Extract(tt.in)) {
			if a.Kind == KindNumber || a.Kind == KindID {
				got = append(got, a)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Extract(%q) numbers and ids (-want +got):\n%s", tt.in, diff)
		}
	}
}
