package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/probity/probity"
)

// Target runs one trial of one case. Implementations return a *TargetError
// when the target itself failed (crash, timeout, HTTP error, garbage); any
// answer, however wrong, is an Output for the assertions to judge.
type Target interface {
	Run(ctx context.Context, req Request) (*Output, error)
}

// Request is one trial of one case.
type Request struct {
	Case  *Case
	Trial int // 0-based trial number
}

// wireRequest is the default request body sent to http and exec targets:
// the case as JSON, plus the trial number. It includes expected, because the
// case is the contract; a suite whose agent must not see it (an LLM that
// would read it) sends only what it should with a request template.
type wireRequest struct {
	ID       string          `json:"id"`
	Trial    int             `json:"trial"`
	Input    json.RawMessage `json:"input,omitempty"`
	Expected json.RawMessage `json:"expected,omitempty"`
	Fixtures json.RawMessage `json:"fixtures,omitempty"`
	Tags     []string        `json:"tags,omitempty"`
}

// requestBody builds the JSON body for req, from tmpl when the suite gives a
// request template.
func requestBody(tmpl any, req Request) ([]byte, error) {
	if tmpl == nil {
		return json.Marshal(wireRequest{ID: req.Case.ID, Trial: req.Trial, Input: req.Case.Input, Expected: req.Case.Expected,
			Fixtures: req.Case.Fixtures, Tags: req.Case.Tags})
	}
	input, _ := decodeJSON(req.Case.Input)
	fixtures, _ := decodeJSON(req.Case.Fixtures)
	vars := func(name string) (any, bool) {
		switch {
		case name == "id":
			return req.Case.ID, true
		case name == "trial":
			return float64(req.Trial), true
		case name == "input":
			return input, true
		case strings.HasPrefix(name, "input."):
			p, err := parseJSONPath("$" + name[len("input"):])
			if err != nil {
				return nil, false
			}
			return p.get(input)
		case name == "fixtures":
			return fixtures, true
		case name == "tags":
			tags := make([]any, len(req.Case.Tags))
			for i, t := range req.Case.Tags {
				tags[i] = t
			}
			return tags, true
		}
		return nil, false
	}
	return json.Marshal(expandTemplate(normalize(tmpl), vars))
}

var templateVar = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_.\[\]]*)\}`)

// expandTemplate replaces "$name" strings by the variable's JSON value and
// "${name}" inside longer strings by its text.
func expandTemplate(v any, vars func(string) (any, bool)) any {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "$") && !strings.HasPrefix(x, "${") {
			if val, ok := vars(x[1:]); ok {
				return val
			}
			return x
		}
		return templateVar.ReplaceAllStringFunc(x, func(m string) string {
			if val, ok := vars(m[2 : len(m)-1]); ok {
				return text(val)
			}
			return m
		})
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = expandTemplate(y, vars)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = expandTemplate(y, vars)
		}
		return out
	}
	return v
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var secs float64
	if _, err := fmt.Sscanf(h, "%g", &secs); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// retryable marks a TargetError worth retrying: the target said "slow down"
// (429) or "not now" (503), optionally with how long to wait.
type retryable struct {
	*TargetError
	after time.Duration
}

func (r *retryable) Unwrap() error { return r.TargetError }

// NewTarget builds the suite's target. Opts supply the HTTP client and
// logger; the zero Options are fine.
func NewTarget(s *Suite, opts Options) (Target, error) {
	switch {
	case s.Target.HTTP != nil:
		return newHTTPTarget(s.Target.HTTP, s.Concurrency, opts), nil
	case s.Target.Exec != nil:
		t := s.Target.Exec
		dir := t.Dir
		if dir != "" {
			dir = s.resolve(dir)
		}
		return &execTarget{spec: t, dir: dir}, nil
	case s.Target.OpenAI != nil:
		return newOpenAITarget(s, opts)
	}
	return nil, &probity.Error{Code: probity.EINVALID, File: s.Path, Message: "suite has no target"}
}

func expandEnv(s string) string {
	return os.Expand(s, func(k string) string { return os.Getenv(k) })
}
