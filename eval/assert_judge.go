package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/probity/probity/internal/wire"
)

// judgeSystem instructs the grader. The verdict format is strict JSON so it
// can be parsed without a second model call.
const judgeSystem = `You are a strict, impartial grader of an AI agent's output.
Grade only against the rubric. Reply with one JSON object and nothing else:
{"pass": true|false, "score": <number from 0 to 1>, "reason": "<one sentence>"}`

// judgeVote is one grader reply.
type judgeVote struct {
	Pass   bool     `json:"pass"`
	Score  *float64 `json:"score"`
	Reason string   `json:"reason"`
}

// JudgeSpec is a judge assertion: a model grades the output (at Path)
// against Rubric, Repeat times; it passes when more than Threshold of the
// votes pass.
type JudgeSpec struct {
	Rubric    string  `yaml:"rubric,omitempty" json:"rubric,omitempty"`
	Provider  string  `yaml:"provider,omitempty" json:"provider,omitempty"`
	Model     string  `yaml:"model,omitempty" json:"model,omitempty"`
	BaseURL   string  `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	APIKeyEnv string  `yaml:"api_key_env,omitempty" json:"api_key_env,omitempty"`
	Repeat    int     `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	Threshold float64 `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	Path      string  `yaml:"path,omitempty" json:"path,omitempty"`
	MaxTokens int     `yaml:"max_tokens,omitempty" json:"max_tokens,omitempty"`
}

func (a *JudgeSpec) validate(v *validator, at string) {
	validPath(v, at+".path", a.Path)
	if a.Rubric == "" {
		v.fail(at, "judge assertion needs a rubric")
	}
	if a.Model == "" {
		v.fail(at, "judge assertion needs a model")
	}
	switch a.Provider {
	case "":
		a.Provider = "openai"
	case "openai", "anthropic":
	default:
		v.fail(at+".provider", "judge provider must be openai or anthropic, not %q", a.Provider)
	}
	if a.Repeat < 0 || a.Repeat > 25 {
		v.fail(at+".repeat", "repeat must be between 1 and 25")
	}
	if a.Repeat == 0 {
		a.Repeat = 1
	}
	if a.Threshold < 0 || a.Threshold > 1 {
		v.fail(at+".threshold", "threshold must be in [0, 1]")
	}
	if a.Threshold == 0 {
		a.Threshold = 0.5
	}
}

func (a *JudgeSpec) compile(_ *Suite, opts Options) (Assertion, error) { return compileJudge(a, opts) }

// compileJudge builds an LLM-rubric assertion. The judge is itself noisy, so
// it may be asked Repeat times: the verdict is pass when more than
// Threshold of the votes pass, and the agreement (the share of votes on the
// majority side) is reported with every result.
func compileJudge(a *JudgeSpec, opts Options) (Assertion, error) {
	api, keyEnv := wire.APIChat, a.APIKeyEnv
	if a.Provider == "anthropic" {
		api = wire.APIMessages
		if keyEnv == "" {
			keyEnv = "ANTHROPIC_API_KEY"
		}
	} else if keyEnv == "" {
		keyEnv = "OPENAI_API_KEY"
	}
	client := &wire.Client{API: api, BaseURL: a.BaseURL, APIKey: os.Getenv(keyEnv),
		HTTP: withSameOriginRedirects(opts.HTTPClient), MaxRetries: 2}
	call := func(ctx context.Context, prompt string) (string, Usage, error) {
		ans, err := client.Ask(ctx, wire.Question{Model: a.Model, System: judgeSystem, Prompt: prompt, MaxTokens: a.MaxTokens})
		if err != nil {
			return "", Usage{}, err
		}
		return ans.Text, Usage{Input: ans.InputTokens, Output: ans.OutputTokens}, nil
	}
	var path *jsonPath
	if a.Path != "" {
		path, _ = parseJSONPath(a.Path)
	}
	return assertFunc(func(ctx context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		prompt := judgePrompt(a.Rubric, c.Input, c.Expected, got)
		passes, scoreSum, scored := 0, 0.0, 0
		var reasons []string
		for i := 0; i < a.Repeat; i++ {
			reply, _, err := call(ctx, prompt)
			if err != nil {
				return AssertResult{Error: fmt.Sprintf("judge %s: %v", a.Model, err)}
			}
			v, err := parseVote(reply)
			if err != nil {
				return AssertResult{Error: fmt.Sprintf("judge %s: %v (reply %q)", a.Model, err, clip(reply, 120))}
			}
			if v.Pass {
				passes++
			}
			if v.Score != nil {
				scoreSum += *v.Score
				scored++
			}
			if v.Reason != "" && len(reasons) < 3 {
				reasons = append(reasons, v.Reason)
			}
		}
		share := float64(passes) / float64(a.Repeat)
		r := AssertResult{Pass: share > a.Threshold}
		agree := max(share, 1-share)
		if a.Repeat > 1 {
			r.Agreement = &agree
		}
		if scored > 0 {
			s := scoreSum / float64(scored)
			r.Score = &s
		}
		if !r.Pass || a.Repeat > 1 {
			r.Message = fmt.Sprintf("judge: %d/%d votes pass (agreement %.0f%%)", passes, a.Repeat, 100*agree)
			if len(reasons) > 0 {
				r.Message += ": " + strings.Join(reasons, " | ")
			}
		}
		return r
	}), nil
}

func judgePrompt(rubric string, input, expected, output any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Rubric:\n%s\n\nInput given to the agent:\n%s\n\n", rubric, clip(text(input), 8000))
	if expected != nil {
		fmt.Fprintf(&b, "Reference answer:\n%s\n\n", clip(text(expected), 8000))
	}
	fmt.Fprintf(&b, "Agent output:\n%s\n", clip(text(output), 16000))
	return b.String()
}

// parseVote reads the grader's JSON, tolerating prose or code fences around
// it.
func parseVote(reply string) (judgeVote, error) {
	var v judgeVote
	i, j := strings.IndexByte(reply, '{'), strings.LastIndexByte(reply, '}')
	if i < 0 || j < i {
		return v, errors.New("no JSON verdict")
	}
	if err := json.Unmarshal([]byte(reply[i:j+1]), &v); err != nil {
		return v, fmt.Errorf("bad JSON verdict: %w", err)
	}
	if v.Score != nil && (*v.Score < 0 || *v.Score > 1) {
		return v, fmt.Errorf("score %g outside [0, 1]", *v.Score)
	}
	return v, nil
}
