package vcr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity/internal/shareddata"
)

// TestReadEveryCassette reads every real vcrpy cassette in the shared data:
// none may fail, and gzip bodies must decode to text.
func TestReadEveryCassette(t *testing.T) {
	dir := shareddata.Path(t, "cassettes", "openllmetry")
	var files, inter, gz int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		files++
		c, err := ReadFile(p)
		if err != nil {
			t.Errorf("ReadFile(%s): %v", p, err)
			return nil
		}
		for _, in := range c.Interactions {
			inter++
			if in.Response.Body.DecodedFrom == "gzip" {
				gz++
			}
			if in.Response.Body.Encoding == "gzip" && in.Response.Body.DecodedFrom == "" {
				t.Errorf("%s seq %d: gzip body not decoded", p, in.Seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 700 || inter < 1000 || gz < 300 {
		t.Errorf("read %d files, %d interactions, %d gzip bodies; want at least 700, 1000, 300", files, inter, gz)
	}
}
