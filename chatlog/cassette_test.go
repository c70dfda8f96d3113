package chatlog_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/chatlog"
	"github.com/probity/probity/internal/shareddata"
)

// cassette is the part of a vcrpy recording we need.
type cassette struct {
	Interactions []struct {
		Request struct {
			Body any    `yaml:"body"`
			URI  string `yaml:"uri"`
		} `yaml:"request"`
		Response struct {
			Body struct {
				String any `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"response"`
	} `yaml:"interactions"`
}

// bodyBytes returns a recorded body as bytes, un-gzipping !!binary ones.
func bodyBytes(v any) []byte {
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return nil
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil
		}
		return out
	}
	return b
}

// exchange is one tool call or result as the test extracts it itself.
type exchange struct {
	Kind  probity.Kind
	Index int
	ID    string
	Name  string
	Args  any
}

// independent extracts the tool exchanges of a request or response body
// with nothing but encoding/json maps, to compare with the importer.
func independent(body map[string]any) []exchange {
	var msgs []any
	if m, ok := body["messages"].([]any); ok {
		msgs = m
	} else if ch, ok := body["choices"].([]any); ok && len(ch) > 0 {
		msgs = []any{ch[0].(map[string]any)["message"]}
	} else if body["type"] == "message" {
		msgs = []any{body}
	}
	var out []exchange
	names := map[string]string{}
	for i, mv := range msgs {
		m, ok := mv.(map[string]any)
		if !ok {
			continue
		}
		calls, _ := m["tool_calls"].([]any)
		for _, cv := range calls {
			c := cv.(map[string]any)
			fn := c["function"].(map[string]any)
			var args any
			if s, ok := fn["arguments"].(string); ok && s != "" {
				if json.Unmarshal([]byte(s), &args) != nil {
					args = nil
				}
			}
			id, _ := c["id"].(string)
			name, _ := fn["name"].(string)
			names[id] = name
			out = append(out, exchange{probity.KindToolCall, i, id, name, args})
		}
		if m["role"] == "tool" {
			id, _ := m["tool_call_id"].(string)
			name, _ := m["name"].(string)
			if name == "" {
				name = names[id]
			}
			out = append(out, exchange{probity.KindToolResult, i, id, name, nil})
		}
		blocks, _ := m["content"].([]any)
		for _, bv := range blocks {
			b, ok := bv.(map[string]any)
			if !ok {
				continue
			}
			switch b["type"] {
			case "tool_use":
				id, _ := b["id"].(string)
				name, _ := b["name"].(string)
				names[id] = name
				out = append(out, exchange{probity.KindToolCall, i, id, name, b["input"]})
			case "tool_result":
				id, _ := b["tool_use_id"].(string)
				out = append(out, exchange{probity.KindToolResult, i, id, names[id], nil})
			}
		}
	}
	return out
}

// fromTrace lists the same exchanges from an imported trace.
func fromTrace(t *testing.T, tr *probity.Trace) []exchange {
	var out []exchange
	for _, s := range tr.Steps {
		if s.Kind != probity.KindToolCall && s.Kind != probity.KindToolResult {
			continue
		}
		e := exchange{Kind: s.Kind, Index: s.Pos.Index, ID: s.Tool.ID, Name: s.Tool.Name}
		if s.Kind == probity.KindToolCall && len(s.Tool.Args) > 0 {
			if err := json.Unmarshal(s.Tool.Args, &e.Args); err != nil {
				t.Errorf("step %+v: args %s are not JSON: %v", s.Pos, s.Tool.Args, err)
			}
		}
		out = append(out, e)
	}
	return out
}

// TestCassettes reads every OpenAI and Anthropic body with tool exchanges in
// the recorded openllmetry cassettes and checks the importer finds the same
// tool names, ids, arguments and positions as a plain-map extraction.
func TestCassettes(t *testing.T) {
	root := shareddata.Path(t, "cassettes", "openllmetry")
	counts := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte("api.openai.com")) && !bytes.Contains(data, []byte("api.anthropic.com")) {
			return nil
		}
		var c cassette
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil // not every file there is a vcrpy cassette we can type
		}
		for i, in := range c.Interactions {
			provider := ""
			switch {
			case strings.Contains(in.Request.URI, "api.openai.com") && strings.Contains(in.Request.URI, "/chat/completions"):
				provider = "openai"
			case strings.Contains(in.Request.URI, "api.anthropic.com") && strings.Contains(in.Request.URI, "/messages"):
				provider = "anthropic"
			default:
				continue
			}
			for _, side := range []struct {
				name string
				body []byte
			}{{"request", bodyBytes(in.Request.Body)}, {"response", bodyBytes(in.Response.Body.String)}} {
				var body map[string]any
				if json.Unmarshal(side.body, &body) != nil {
					continue // streaming (SSE) bodies and empty ones
				}
				want := independent(body)
				if len(want) == 0 {
					continue
				}
				name := provider + " " + side.name
				counts[name]++
				tr, err := chatlog.DecodeConversation(side.body)
				if err != nil {
					t.Errorf("%s #%d %s: DecodeConversation: %v", path, i, side.name, err)
					continue
				}
				if diff := cmp.Diff(want, fromTrace(t, tr)); diff != "" {
					t.Errorf("%s #%d %s: tool exchanges differ (-want +got):\n%s", path, i, side.name, diff)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bodies with tool exchanges: %v", counts)
	for _, k := range []string{"openai request", "openai response", "anthropic request", "anthropic response"} {
		if counts[k] == 0 {
			t.Errorf("no %s with tool exchanges found: the walk or the filter is broken", k)
		}
	}
}
