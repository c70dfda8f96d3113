package detect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAnchoredFindAllLimit checks that asking for the n earliest matches,
// which skips windows that cannot hold one, gives the first n of all
// matches.
func TestAnchoredFindAllLimit(t *testing.T) {
	texts := []string{
		"",
		"Sorry, the refund failed. Error: unable to process. I apologise; it could not be done. Unfortunately it is unavailable.",
		strings.Repeat("The order has been cancelled successfully. ", 20) + "Error " + strings.Repeat("x", 300) + " failed",
		strings.Repeat("error ", 200) + "I'm sorry, that failed.",
		"Your booking has been updated. The payment was successful. Success! I have refunded it and we've sent it.",
	}
	for _, text := range texts {
		var buf []byte
		lower := lowerBytes(text, &buf)
		for _, re := range []*anchoredRE{reAcknowledge, reSuccessClaim, reActionClaim} {
			all := re.findAll(text, lower, -1)
			for _, n := range []int{1, 2, 3, 8} {
				want := all
				if len(want) > n {
					want = want[:n]
				}
				if got := re.findAll(text, lower, n); !cmp.Equal(got, want) {
					t.Errorf("findAll(%.40q, n=%d) = %v, want %v", text, n, got, want)
				}
			}
		}
	}
}

func FuzzAnchoredFindAllLimit(f *testing.F) {
	f.Add("Sorry, the refund failed. Error: unable to process; has been cancelled successfully.", 1)
	f.Add(strings.Repeat("error failed ", 50), 3)
	f.Fuzz(func(t *testing.T, text string, n int) {
		n = 1 + (n&7+8)%8
		var buf []byte
		lower := lowerBytes(text, &buf)
		for _, re := range []*anchoredRE{reAcknowledge, reSuccessClaim} {
			want := re.findAll(text, lower, -1)
			if len(want) > n {
				want = want[:n]
			}
			if got := re.findAll(text, lower, n); !cmp.Equal(got, want) {
				t.Errorf("findAll(%q, n=%d) = %v, want %v", text, n, got, want)
			}
		}
	})
}
