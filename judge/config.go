package judge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
)

// Config is a judge configuration, read from YAML by LoadConfig:
//
//	provider: openai            # or anthropic
//	base_url: http://127.0.0.1:11434/v1
//	model: qwen2.5:7b
//	api_key_env: OPENAI_API_KEY # the variable holding the key, never the key
//	sample: 0.25                # share of failed runs judged
//	votes: 3
//	budget: {tokens: 200000, dollars: 0.50, price: {input: 2.5, output: 10}}
//	cache_dir: .probity/judge
type Config struct {
	// File is the file the configuration was read from ("" when parsed
	// from bytes); a relative CacheDir is resolved against its directory.
	File string `yaml:"-"`
	// Provider is "openai" (Chat Completions and compatible servers such
	// as vLLM and Ollama) or "anthropic" (Messages).
	Provider string `yaml:"provider"`
	// BaseURL is the API's base (https://api.openai.com/v1,
	// https://api.anthropic.com, http://127.0.0.1:11434/v1 for Ollama).
	// Empty means the provider's own.
	BaseURL string `yaml:"base_url"`
	// Model is the model the judge asks.
	Model string `yaml:"model"`
	// APIKeyEnv names the environment variable holding the API key, so
	// the key never sits in a file that gets committed. Empty means
	// OPENAI_API_KEY or ANTHROPIC_API_KEY; a local server may need none.
	APIKeyEnv string `yaml:"api_key_env"`
	// Sample is the share of failed runs judged, in [0, 1]; nil means 1.
	// Which runs are judged depends only on the trace id, so a rerun
	// judges the same runs (and hits the cache).
	Sample *float64 `yaml:"sample"`
	// Votes is how often each run is asked (k); the majority step wins
	// and the share agreeing gets an interval. 0 means 3.
	Votes int `yaml:"votes"`
	// Budget bounds what the judge may spend over one invocation.
	Budget Budget `yaml:"budget"`
	// CacheDir holds answers by content hash, so a rerun makes no calls.
	// Empty means the user's cache directory (probity/judge in it).
	CacheDir string `yaml:"cache_dir"`
	// MaxTokens bounds each answer; 0 means 1024.
	MaxTokens int `yaml:"max_tokens"`
	// Temperature is sent when set; votes only disagree when it is above 0.
	Temperature *float64 `yaml:"temperature"`
}

// Budget bounds the judge's spending. Zero fields are unbounded.
type Budget struct {
	// Tokens bounds input plus output tokens.
	Tokens int64 `yaml:"tokens"`
	// Dollars bounds the cost at Price; it needs a price.
	Dollars float64 `yaml:"dollars"`
	// Price is what tokens cost.
	Price Price `yaml:"price"`
}

// Price is what a model charges, in dollars per million tokens (the unit
// providers' price lists use, as eval targets' price does).
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

// Cost returns the dollars in and out tokens cost at p.
func (p Price) Cost(in, out int64) float64 {
	return (float64(in)*p.Input + float64(out)*p.Output) / 1e6
}

// maxVotes bounds k: beyond it the interval narrows little and the bill
// grows linearly.
const maxVotes = 25

// LoadConfig reads and checks the judge configuration at path. Errors are
// *probity.Error values naming the file and, for a bad field, its line and
// column.
func LoadConfig(path string) (*Config, error) {
	b, err := yamlx.ReadFile(path, "judge config", yamlx.MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, b)
}

// ParseConfig parses a judge configuration; name is the file errors carry.
// Unknown keys are errors, since a misspelt "budget" would otherwise spend
// without bound.
func ParseConfig(name string, src []byte) (c *Config, err error) {
	fail := func(err error) (*Config, error) {
		var pe *probity.Error
		if errors.As(err, &pe) {
			pe.File = name
			return nil, pe
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: name, Message: "judge config", Err: err}
	}
	if err := yamlx.Check(name, src, yamlx.MaxConfigBytes); err != nil {
		return fail(err)
	}
	defer func() {
		// The parser is third-party code fed a user's bytes: a panic in it
		// is bad input.
		if r := recover(); r != nil {
			c, err = fail(probity.Errorf(probity.EINVALID, "malformed YAML (%v)", r))
		}
	}()
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return fail(yamlx.Error(err))
	}
	c = &Config{}
	if strings.TrimSpace(string(src)) == "" {
		return fail(probity.Errorf(probity.EINVALID, "judge config is empty: it needs at least provider and model"))
	}
	if err := yaml.UnmarshalWithOptions(src, c, yaml.DisallowUnknownField()); err != nil {
		return fail(yamlx.Error(err))
	}
	c.File = name
	if err := c.validate(locator{f}); err != nil {
		return fail(err)
	}
	return c, nil
}

func (c *Config) validate(l locator) error {
	switch c.Provider {
	case "openai", "anthropic":
	case "":
		return l.errorf("$", "judge config needs provider: openai or anthropic")
	default:
		return l.errorf("$.provider", "provider must be openai or anthropic, not %q", c.Provider)
	}
	if c.Model == "" {
		return l.errorf("$", "judge config needs a model")
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return l.errorf("$.base_url", "base_url must start with http:// or https://, not %q", c.BaseURL)
	}
	if c.APIKeyEnv != "" && (strings.HasPrefix(c.APIKeyEnv, "sk-") || strings.ContainsAny(c.APIKeyEnv, " =$")) {
		return l.errorf("$.api_key_env", "api_key_env names an environment variable (OPENAI_API_KEY); it looks like a key or an expression: keep keys out of files")
	}
	if c.Sample != nil && (*c.Sample < 0 || *c.Sample > 1) {
		return l.errorf("$.sample", "sample is a rate of failed runs in [0, 1], not %g", *c.Sample)
	}
	if c.Votes < 0 || c.Votes > maxVotes {
		return l.errorf("$.votes", "votes must be between 1 and %d, not %d", maxVotes, c.Votes)
	}
	if c.Votes == 0 {
		c.Votes = 3
	}
	if c.MaxTokens < 0 {
		return l.errorf("$.max_tokens", "max_tokens must be positive")
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 1024
	}
	if c.Temperature != nil && (*c.Temperature < 0 || *c.Temperature > 2) {
		return l.errorf("$.temperature", "temperature must be in [0, 2]")
	}
	b := c.Budget
	if b.Tokens < 0 {
		return l.errorf("$.budget.tokens", "budget tokens must not be negative")
	}
	if b.Dollars < 0 {
		return l.errorf("$.budget.dollars", "budget dollars must not be negative")
	}
	if b.Price.Input < 0 || b.Price.Output < 0 {
		return l.errorf("$.budget.price", "prices must not be negative")
	}
	if b.Dollars > 0 && b.Price.Input == 0 && b.Price.Output == 0 {
		return l.errorf("$.budget.dollars", "a budget in dollars needs budget.price {input, output} in dollars per million tokens")
	}
	return nil
}

// SampleRate returns the share of failed runs judged.
func (c *Config) SampleRate() float64 {
	if c.Sample == nil {
		return 1
	}
	return *c.Sample
}

// cacheDir returns where answers are cached: CacheDir against the config
// file's directory, or the user's cache directory.
func (c *Config) cacheDir() (string, error) {
	d := c.CacheDir
	if d == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache_dir in the judge config and no user cache directory: %w", err)
		}
		return filepath.Join(base, "probity", "judge"), nil
	}
	if strings.HasPrefix(d, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			d = filepath.Join(home, d[2:])
		}
	}
	if !filepath.IsAbs(d) && c.File != "" {
		d = filepath.Join(filepath.Dir(c.File), d)
	}
	return d, nil
}

// locator finds the line and column of a YAML path such as
// "$.budget.tokens", falling back to the enclosing node.
type locator struct{ f *ast.File }

func (l locator) errorf(at, format string, args ...any) *probity.Error {
	e := probity.Errorf(probity.EINVALID, format, args...)
	for at != "" && l.f != nil {
		if p, err := yaml.PathString(at); err == nil {
			if n, err := p.FilterFile(l.f); err == nil && n != nil {
				if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
					n = m.Values[0].Key
				}
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					e.Where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
					return e
				}
			}
		}
		i := strings.LastIndexAny(at, ".[")
		if i <= 1 {
			break
		}
		at = at[:i]
	}
	if l.f != nil && len(l.f.Docs) > 0 && l.f.Docs[0].Body != nil {
		if tk := l.f.Docs[0].Body.GetToken(); tk != nil && tk.Position != nil {
			e.Where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
		}
	}
	return e
}
