package judge_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/judge"
)

// TestConfigErrors: every bad field is refused with the file, the line
// and column of the bad value, and what is wrong.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		src, where, msg string
	}{
		{"", "", "judge config is empty"},
		{"provider: openai\nmodel: m\nbudjet: {tokens: 5}\n", "line 3, column 1", "unknown field"},
		{"provider: gemini\nmodel: m\n", "line 1, column 11", `provider must be openai or anthropic, not "gemini"`},
		{"model: m\n", "line 1, column 1", "needs provider"},
		{"provider: openai\n", "line 1, column 1", "needs a model"},
		{"provider: openai\nmodel: m\nsample: 1.5\n", "line 3, column 9", "sample is a rate"},
		{"provider: openai\nmodel: m\nvotes: 40\n", "line 3, column 8", "votes must be between 1 and 25"},
		{"provider: openai\nmodel: m\nbudget:\n  tokens: -1\n", "line 4, column 11", "budget tokens must not be negative"},
		{"provider: openai\nmodel: m\nbudget:\n  dollars: 5\n", "line 4, column 12", "needs budget.price"},
		{"provider: openai\nmodel: m\napi_key_env: sk-abc123\n", "line 3, column 14", "keep keys out of files"},
		{"provider: openai\nmodel: m\nbase_url: localhost:11434\n", "line 3, column 11", "base_url must start with http"},
		{"provider: openai\nmodel: m\nvotes: three\n", "line 3, column 8", ""},
		{"provider: [openai\n", "line 1", ""},
	}
	for _, tt := range tests {
		_, err := judge.ParseConfig("judge.yaml", []byte(tt.src))
		var pe *probity.Error
		if !errors.As(err, &pe) {
			t.Errorf("ParseConfig(%q) = %v, want a *probity.Error", tt.src, err)
			continue
		}
		if pe.Code != probity.EINVALID || pe.File != "judge.yaml" || !strings.HasPrefix(pe.Where, tt.where) || !strings.Contains(pe.Error(), tt.msg) {
			t.Errorf("ParseConfig(%q) = %q (where %q), want %s: %s", tt.src, pe.Error(), pe.Where, tt.where, tt.msg)
		}
	}
}

// TestLoadConfig reads a full configuration, fills the defaults, resolves
// the cache directory against the file's, and refuses a key variable that
// is not set.
func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "judge.yaml")
	src := `provider: anthropic
base_url: http://127.0.0.1:1
model: claude-test
api_key_env: PROBITY_TEST_UNSET_KEY
sample: 0.25
budget: {tokens: 1000, dollars: 0.5, price: {input: 3, output: 15}}
cache_dir: cache
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := judge.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Votes != 3 || c.MaxTokens != 1024 || c.SampleRate() != 0.25 || c.Budget.Price.Output != 15 || c.File != path {
		t.Errorf("config = %+v, want defaults votes 3, max_tokens 1024 and the file's values", c)
	}
	// 1000 in and 100 out at $3/$15 per million: 0.003 + 0.0015.
	if got := c.Budget.Price.Cost(1000, 100); got < 0.00449 || got > 0.00451 {
		t.Errorf("Cost(1000, 100) = %v, want 0.0045", got)
	}
	_, err = judge.New(c, judge.WithLookupEnv(func(string) (string, bool) { return "", false }))
	if err == nil || !strings.Contains(err.Error(), "PROBITY_TEST_UNSET_KEY, which is not set") || !strings.HasPrefix(err.Error(), path) {
		t.Errorf("New with an unset key variable = %v, want an error naming the file and the variable", err)
	}
	if _, err := judge.New(c, judge.WithLookupEnv(func(string) (string, bool) { return "k", true })); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "cache")); err != nil || !st.IsDir() {
		t.Errorf("cache_dir was not made beside the config: %v", err)
	}
	if _, err := judge.LoadConfig(filepath.Join(dir, "missing.yaml")); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("LoadConfig(missing) = %v, want not found", err)
	}
}

// FuzzParseConfig: no input panics the parser; every refusal is a
// *probity.Error naming the file.
func FuzzParseConfig(f *testing.F) {
	f.Add("provider: openai\nmodel: m\nvotes: 3\nbudget: {tokens: 5, dollars: 1, price: {input: 1, output: 2}}\n")
	f.Add("provider: [\n")
	f.Add("a: &a [*a]\n")
	f.Fuzz(func(t *testing.T, src string) {
		_, err := judge.ParseConfig("f.yaml", []byte(src))
		var pe *probity.Error
		if err != nil && (!errors.As(err, &pe) || pe.File != "f.yaml") {
			t.Fatalf("ParseConfig(%q) = %v, want a *probity.Error naming the file", src, err)
		}
	})
}
