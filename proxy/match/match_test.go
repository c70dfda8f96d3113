package match

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/proxy/vcr"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		name         string
		a, b         string // bodies
		qa, qb       string // queries
		pathA, pathB string
		want         string // divergence path, "" for a match
	}{
		{"volatile fields", `{"model":"m","user":"u1","stream_options":{"include_usage":true},"metadata":{"x":1}}`, `{"model":"m","user":"u2"}`, "", "", "/v1/x", "/v1/x", ""},
		{"clock fields at depth", `{"data":[{"trace_id":"t1","started_at":"1","name":"x"}]}`, `{"data":[{"trace_id":"t2","started_at":"2","name":"x"}]}`, "", "", "/", "/", ""},
		{"key order", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, "", "", "/v1/x", "/v1/x", ""},
		{"credentials in query", `{}`, `{}`, "key=abc&api-version=1", "key=zzz&api-version=1", "/v1/x", "/v1/x", ""},
		{"query differs", `{}`, `{}`, "api-version=1", "api-version=2", "/v1/x", "/v1/x", "$.query.api-version"},
		{"path differs", `{}`, `{}`, "", "", "/v1/x", "/v1/y", "$.path"},
		{"model first", `{"messages":[1],"model":"a"}`, `{"messages":[2],"model":"b"}`, "", "", "/", "/", "$.body.model"},
		{"message content", `{"messages":[{"role":"user","content":"a"},{"role":"tool","content":"x"}]}`,
			`{"messages":[{"role":"user","content":"a"},{"role":"tool","content":"y"}]}`, "", "", "/", "/", "$.body.messages[1].content"},
		{"extra message", `{"messages":[1]}`, `{"messages":[1,2]}`, "", "", "/", "/", "$.body.messages[1]"},
		{"not JSON", `abc`, `abd`, "", "", "/", "/", "$.body"},
		{"number spelling", `{"t":1.0}`, `{"t":1}`, "", "", "/", "/", "$.body.t"},
		{"odd key", `{"a.b":1}`, `{"a.b":2}`, "", "", "/", "/", `$.body["a.b"]`},
	}
	for _, tc := range cases {
		a := Normalize("POST", tc.pathA, tc.qa, []byte(tc.a), nil)
		b := Normalize("post", tc.pathB, tc.qb, []byte(tc.b), nil)
		p, _, _, diff := Diverge(a, b)
		if p != tc.want || diff != (tc.want != "") {
			t.Errorf("%s: Diverge = %q (%v), want %q", tc.name, p, diff, tc.want)
		}
		if (Key(a) == Key(b)) != (tc.want == "") {
			t.Errorf("%s: keys equal = %v, want %v", tc.name, Key(a) == Key(b), tc.want == "")
		}
	}
	if got := MessageIndex("$.body.messages[12].content"); got == nil || *got != 12 {
		t.Errorf("messageIndex = %v, want 12", got)
	}
	n := Normalize("POST", "/", "", []byte(`{"secret_field":"x","a":{"Secret_Field":"y","b":1}}`), []string{"secret_field"})
	if diff := cmp.Diff(map[string]any{"a": map[string]any{"b": json.Number("1")}}, n["body"]); diff != "" {
		t.Errorf("ignored fields not dropped at depth (-want +got):\n%s", diff)
	}
}

// FuzzNormalize checks the normaliser on mutations of real request bodies:
// no panic, deterministic, and a request never diverges from itself.
func FuzzNormalize(f *testing.F) {
	if dir, err := shareddata.Find(); err == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "cassettes/openllmetry/packages/opentelemetry-instrumentation-*/tests/*/cassettes/test_*/*tool*.yaml"))
		more, _ := filepath.Glob(filepath.Join(dir, "cassettes/openllmetry/packages/opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/*.yaml"))
		for _, p := range append(files, more...)[:min(40, len(files)+len(more))] {
			if c, err := vcr.ReadFile(p); err == nil {
				for _, in := range c.Interactions {
					b, _ := in.Request.Body.Bytes()
					f.Add(in.Request.Path, in.Request.Query, b)
				}
			}
		}
	}
	f.Add("/v1/chat/completions", "api-version=1&key=x", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Fuzz(func(t *testing.T, path, query string, body []byte) {
		a := Normalize("POST", path, query, body, []string{"api_key"})
		b := Normalize("POST", path, query, body, []string{"api_key"})
		if Key(a) != Key(b) {
			t.Fatalf("Normalize is not deterministic")
		}
		if p, _, _, diff := Diverge(a, b); diff {
			t.Fatalf("a request diverges from itself at %s", p)
		}
		MessageIndex(path)
	})
}
