package spec

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
)

func TestParseJSONPositions(t *testing.T) {
	src := "{\n  \"tools\": [\n    {\"name\": \"add\", \"description\": \"x\\u200by é\"}\n  ]\n}\n"
	root, err := parseJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tools := root.get("tools")
	if got, want := root.keyPos("tools"), (Pos{Line: 2, Column: 3}); got != want {
		t.Errorf("keyPos(tools) = %v, want %v", got, want)
	}
	tool := tools.items[0]
	if got, want := tool.get("name").pos, (Pos{Line: 3, Column: 14}); got != want {
		t.Errorf("name pos = %v, want %v", got, want)
	}
	desc := tool.get("description")
	if got, want := desc.str, "x\u200by é"; got != want {
		t.Errorf("description = %q, want %q", got, want)
	}
	// Byte 1 of the value is the zero-width space, written as \u200b at
	// column 38 (the quote is at 36, x at 37).
	for _, c := range []struct {
		i    int
		want Pos
	}{
		{0, Pos{3, 37}},
		{1, Pos{3, 38}},
		{4, Pos{3, 44}}, // y, after the six-byte escape
		{6, Pos{3, 46}}, // é counts as one column
	} {
		if got := desc.posAt(c.i); got != c.want {
			t.Errorf("posAt(%d) = %v, want %v", c.i, got, c.want)
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, c := range []struct {
		src, where, msg string
	}{
		{`{"a": 1,}`, "line 1, column 9", "want a quoted object key"},
		{"[1,\n 2\n", "line 3, column 1", "unexpected end of file"},
		{`{"a": tru}`, "line 1, column 7", "want a JSON value"},
		{`"a` + "\x01" + `"`, "line 1, column 3", "control character"},
		{`["\x"]`, "line 1, column 3", `unknown escape \x`},
		{`{"a": 1} x`, "line 1, column 10", "after the JSON value"},
		{`["é` + "\xff" + `"]`, "line 1, column 4", "invalid UTF-8"},
		{strings.Repeat("[", 600), "line 1, column 514", "nesting deeper"},
		{`-`, "line 1, column 2", "malformed number"},
	} {
		_, err := parseJSON([]byte(c.src))
		var pe *probity.Error
		if !errors.As(err, &pe) {
			t.Errorf("parseJSON(%q) = %v, want a *probity.Error", c.src, err)
			continue
		}
		if pe.Where != c.where || !strings.Contains(pe.Message, c.msg) {
			t.Errorf("parseJSON(%q) = %q at %q, want %q at %q", c.src, pe.Message, pe.Where, c.msg, c.where)
		}
	}
}

func TestParseToolsFormats(t *testing.T) {
	for _, c := range []struct {
		name, file, src string
		want            []string // name/format
	}{
		{"openai chat", "t.json", `[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object"}}}]`, []string{"get_weather/openai"}},
		{"openai responses", "t.json", `{"tools":[{"type":"function","name":"refund","parameters":{"type":"object"}}]}`, []string{"refund/openai"}},
		{"anthropic", "t.json", `[{"name":"a","input_schema":{"type":"object"}},{"name":"b","input_schema":{}}]`, []string{"a/anthropic", "b/anthropic"}},
		{"mcp tools/list", "t.json", `{"tools":[{"name":"read_file","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}]}`, []string{"read_file/mcp"}},
		{"json-rpc response", "t.json", `{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"x","inputSchema":{}}]}}`, []string{"x/mcp"}},
		{"one tool", "t.json", `{"name":"solo","inputSchema":{"type":"object"}}`, []string{"solo/mcp"}},
		{"yaml", "t.yaml", "tools:\n  - name: send_email\n    description: Send mail\n    inputSchema:\n      type: object\n", []string{"send_email/mcp"}},
	} {
		tools, err := ParseTools(c.file, []byte(c.src))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got []string
		for _, tl := range tools {
			got = append(got, tl.Name+"/"+tl.Format)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s: tools (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestParseToolsYAMLPositions(t *testing.T) {
	src := "tools:\n  - name: send_email\n    description: \"Send mail. <IMPORTANT>x</IMPORTANT>\"\n"
	tools, err := ParseTools("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tools[0].Pos(), (Pos{Line: 2, Column: 11}); got != want {
		t.Errorf("name at %v, want %v", got, want)
	}
	fs := Lint(&Input{Tools: tools}, []*Rule{ruleToolInstruction()})
	if len(fs) != 1 {
		t.Fatalf("findings = %v, want one tool-instruction", fs)
	}
	// The quoted scalar starts at column 18; <IMPORTANT> is 11 runes in.
	if got, want := fs[0].Span, (Span{File: "t.yaml", Line: 3, Column: 30, EndLine: 3, EndColumn: 40}); got != want {
		t.Errorf("span = %+v, want %+v", got, want)
	}
}

func TestParseToolsErrors(t *testing.T) {
	for _, c := range []struct {
		file, src, where, msg string
	}{
		{"t.json", `[{"description":"no name"}]`, "line 1, column 2", `no "name"`},
		{"t.json", `{"nothing": []}`, "line 1, column 1", "no tool definitions found"},
		{"t.json", `[{"name": 3}]`, "line 1, column 11", `"name" must be a non-empty string`},
		{"t.json", `{"tools": {"a": 1}}`, "line 1, column 11", `"tools" must be a list`},
		{"t.json", `[{"name":"x","inputSchema":[1]}]`, "line 1, column 28", "argument schema must be an object"},
		{"t.json", "", "", "empty file"},
		{"t.json", `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}`, "line 1, column 1", "JSON-RPC error"},
		{"t.yaml", "tools: [\n", "line 1", ""},
	} {
		_, err := ParseTools(c.file, []byte(c.src))
		var pe *probity.Error
		if !errors.As(err, &pe) {
			t.Errorf("ParseTools(%q) = %v, want a *probity.Error", c.src, err)
			continue
		}
		if pe.File != c.file || !strings.HasPrefix(pe.Where, c.where) || !strings.Contains(pe.Message, c.msg) {
			t.Errorf("ParseTools(%q) = %v, want %s: %s: …%s…", c.src, pe, c.file, c.where, c.msg)
		}
	}
}

func TestParseDocErrors(t *testing.T) {
	for _, c := range []struct {
		file, src, want string
	}{
		{"p.txt", "", "p.txt: empty prompt"},
		{"p.txt", "ok\nbad \xff here", "p.txt: line 2, column 5: not UTF-8 text (byte 0xff)"},
		{"p.md", "a\x00b", "p.md: line 1, column 2: binary data"},
		{"p.yaml", "task: [unclosed\n", "p.yaml: line 1"},
	} {
		_, err := ParseDoc(c.file, []byte(c.src))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseDoc(%q) = %v, want an error starting %q", c.src, err, c.want)
		}
	}
}

func TestSplitSentences(t *testing.T) {
	text := "# Refunds\nAlways confirm first. Then act, e.g. refund.\n- one item\n- two\n\nLast one"
	var got []string
	for _, s := range splitSentences(text) {
		got = append(got, s.text)
	}
	want := []string{"# Refunds", "Always confirm first.", "Then act, e.g. refund.", "- one item", "- two", "Last one"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitSentences (-want +got):\n%s", diff)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
