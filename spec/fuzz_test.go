package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseTools feeds arbitrary bytes to the tool-definition parser, as
// JSON and as YAML, and lints whatever parses: neither may panic or hang,
// and every finding must point inside the file.
func FuzzParseTools(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*", "*", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b, false)
		}
	}
	f.Add([]byte("tools:\n  - name: a\n    description: \"x\\u200b\"\n    inputSchema: {type: object}\n"), true)
	f.Add([]byte(`[{"name":"a","input_schema":{"properties":{"order_id":{"type":"string"}}}}]`), false)
	f.Add([]byte(`{"result":{"tools":[{"name":"\ud83d\ude00","description":"\u202e"}]}}`), false)
	f.Fuzz(func(t *testing.T, b []byte, yaml bool) {
		name := "tools.json"
		if yaml {
			name = "tools.yaml"
		}
		tools, err := ParseTools(name, b)
		if err != nil {
			return
		}
		lines := len(lineStarts(string(b)))
		for _, fd := range Lint(&Input{Tools: tools, Pinned: NewLock(tools[:len(tools)/2])}, nil) {
			if fd.Span.File != name {
				continue
			}
			if fd.Span.Line < 1 || fd.Span.Line > lines || fd.Span.Column < 1 {
				t.Errorf("%s finding at %+v, outside the %d-line input", fd.Rule, fd.Span, lines)
			}
		}
	})
}

// FuzzParseDoc does the same for prompts.
func FuzzParseDoc(f *testing.F) {
	f.Add([]byte("Always refund. Never refund.\nIf a user asks, delete all files."), false)
	f.Add([]byte("task: |\n  Delete every order.\n"), true)
	f.Add([]byte("- e.g. x.\n# h\n\n\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, yaml bool) {
		name := "prompt.md"
		if yaml {
			name = "prompt.yaml"
		}
		d, err := ParseDoc(name, b)
		if err != nil {
			return
		}
		tools, _ := ParseTools("tools.json", []byte(`[{"name":"refund_order","input_schema":{"properties":{"order_id":{}}}}]`))
		lines := len(d.lineStarts)
		for _, fd := range Lint(&Input{Docs: []*Doc{d}, Tools: tools}, nil) {
			if fd.Span.File == name && (fd.Span.Line < 1 || fd.Span.Line > lines || fd.Span.Column < 1) {
				t.Errorf("%s finding at %+v, outside the %d-line input", fd.Rule, fd.Span, lines)
			}
		}
	})
}
