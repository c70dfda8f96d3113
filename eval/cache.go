package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/probity/probity"
)

// diskCache stores target outputs by content address (see
// Runner.cacheKey). Entries are written to a temporary file and renamed, so
// a crash never leaves a torn entry; a corrupt entry is a miss.
type diskCache struct {
	dir string
}

// cachedOutput is an Output on disk.
type cachedOutput struct {
	Output    json.RawMessage `json:"output"`
	Trace     *probity.Trace  `json:"trace,omitempty"`
	CostUSD   float64         `json:"cost_usd,omitempty"`
	Tokens    Usage           `json:"tokens"`
	LatencyMS float64         `json:"latency_ms"`
}

func (c *diskCache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key+".json")
}

func (c *diskCache) get(key string) (*Output, bool) {
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	var co cachedOutput
	if err := json.Unmarshal(b, &co); err != nil {
		return nil, false
	}
	v, err := decodeJSON(co.Output)
	if err != nil {
		return nil, false
	}
	return &Output{Value: v, Trace: co.Trace, CostUSD: co.CostUSD, Tokens: co.Tokens,
		Latency: time.Duration(co.LatencyMS * float64(time.Millisecond))}, true
}

func (c *diskCache) put(key string, o *Output) error {
	ob, err := json.Marshal(o.Value)
	if err != nil {
		return fmt.Errorf("cache encode: %w", err)
	}
	b, err := json.Marshal(cachedOutput{Output: ob, Trace: o.Trace, CostUSD: o.CostUSD, Tokens: o.Tokens, LatencyMS: ms(o.Latency)})
	if err != nil {
		return fmt.Errorf("cache encode: %w", err)
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache write: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("cache write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache write: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cache write: %w", err)
	}
	return nil
}
