package yamlx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
)

// bomb is the classic "billion laughs": levels anchors, each a list of ten
// aliases of the one before, so level n stands for 10^n scalars.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	shared := "defaults: &d {timeout: 5s, retries: 2}\ncases:\n" + strings.Repeat("  - {<<: *d, id: x}\n", 200)
	tests := []struct {
		name    string
		src     string
		limit   int
		wantErr string // "" for accepted
		where   string
	}{
		{"plain", "a: 1\nb: [1, 2]\n", 1 << 20, "", ""},
		{"shared block", shared, 1 << 20, "", ""},
		{"small bomb", bomb(4), 1 << 20, "", ""}, // 10^4 scalars: inside the budget
		{"billion laughs", bomb(9), 1 << 20, "likely alias bomb", "line 5, column 45"},
		{"merge-key bomb", bomb(6) + "x: {<<: *a5}\ny: [*a5, *a5]\n", 1 << 20, "likely alias bomb", "line 5, column 45"},
		{"tagged anchors", "a: &a !!seq [1, 2]\nb: *a\n", 1 << 20, "", ""},
		{"over the size", "a: " + strings.Repeat("x", 100) + "\n", 64, "over the size limit of 64 bytes", ""},
		{"unknown alias", "a: *nowhere\n", 1 << 20, "", ""}, // left to the decoder
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check("t.yaml", []byte(tt.src), tt.limit)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check = %v, want accepted", err)
				}
				return
			}
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID || pe.File != "t.yaml" || !strings.Contains(pe.Message, tt.wantErr) || !strings.HasPrefix(pe.Where, tt.where) {
				t.Errorf("Check = %#v, want EINVALID %q at %q", err, tt.wantErr, tt.where)
			}
		})
	}
}

// TestCheckScalesWithBudget: a large document may use aliases up to its
// own size, so big real files with shared blocks pass.
func TestCheckScalesWithBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("base: &b [" + strings.Repeat("v, ", 999) + "v]\nitems:\n")
	for range 101 { // 101 aliases of 1001 nodes: 101k extra, over MinAliasBudget
		b.WriteString("  - *b\n")
	}
	b.WriteString("filler: [" + strings.Repeat("1, ", 101_000) + "1]\n")
	if err := Check("", []byte(b.String()), 64<<20); err != nil {
		t.Errorf("Check of a large document with moderate aliasing = %v, want accepted", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.yaml")
	os.WriteFile(p, []byte(strings.Repeat("a", 2000)), 0o600)
	if b, err := ReadFile(p, "test file", 2000); err != nil || len(b) != 2000 {
		t.Errorf("ReadFile at the limit = %d bytes, %v; want 2000 bytes", len(b), err)
	}
	var pe *probity.Error
	if _, err := ReadFile(p, "test file", 1999); !errors.As(err, &pe) || pe.File != p || pe.Message != "test file over the size limit of 1999 bytes; refused" {
		t.Errorf("ReadFile over the limit = %v, want an error naming the file and the limit", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), "test file", 10); !errors.As(err, &pe) || pe.Code != probity.ENOTFOUND {
		t.Errorf("ReadFile of a missing file = %v, want ENOTFOUND", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(bomb(3))
	f.Add("a: &a [1]\nb: *a\nc: {<<: *a}\n")
	f.Add("- !!binary aGVsbG8=\n- &x !tag {a: *x}\n")
	f.Fuzz(func(t *testing.T, src string) {
		Check("", []byte(src), 1<<20) // must not panic or hang
	})
}
