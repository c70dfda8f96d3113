package drill

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/inject"
)

// TestKit: the kit holds every drill and its key after a page break, the
// rubric for every skill, no external asset, and trace text escaped.
func TestKit(t *testing.T) {
	traces := examples(t)
	hostile := inject.Clone(traces[0])
	hostile.ID = "hostile"
	hostile.Steps[1].Content += ` <script>alert("x")</script>`
	s, err := Make(t.Context(), []*probity.Trace{hostile}, Options{Count: 4, Seed: 5, Kinds: []string{OriginPlanted, OriginClean}})
	if err != nil {
		t.Fatal(err)
	}
	render := func(w io.Writer, tr *probity.Trace) {
		for _, st := range tr.Steps {
			fmt.Fprintf(w, "%d %s %s\n", st.Pos.Index, st.Kind, st.Content)
		}
	}
	var b bytes.Buffer
	if err := WriteKit(&b, s, render); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if len(s.Drills) != 4 {
		t.Fatalf("made %d drills from the hostile run, want 4", len(s.Drills))
	}
	key := strings.Index(html, "<h1>Key</h1>")
	if key < 0 || !strings.Contains(html[:key], `class="page"`) {
		t.Fatal("the key does not start on a new page")
	}
	for _, d := range s.Drills {
		if !strings.Contains(html[:key], `id="`+d.ID+`"`) {
			t.Errorf("drill %s missing before the key", d.ID)
		}
		if !strings.Contains(html[key:], "<h2>"+d.ID+" <span") {
			t.Errorf("the key of %s is missing", d.ID)
		}
	}
	for _, r := range Rubrics {
		if !strings.Contains(html, "<td>"+r.Skill+"</td>") {
			t.Errorf("no rubric row for %s", r.Skill)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;") || strings.Contains(html, "<script>") {
		t.Error("trace text reached the page unescaped")
	}
	for _, ext := range []string{`src="http`, `href="http`, "<link", "@import"} {
		if strings.Contains(html, ext) {
			t.Errorf("the kit loads an external asset (%s)", ext)
		}
	}
}
