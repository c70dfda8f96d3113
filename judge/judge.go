// Package judge is the LLM tier of failure localisation: for a sampled
// share of failed runs it asks a model, in the abduct-act-predict manner,
// which step and agent caused the failure, what the minimal fix is and
// whether that fix would have saved the run. The model is given the
// deterministic evidence (findings, the localisation and its candidates,
// the reference) and a numbered listing of the steps; never the labels of
// where a run failed.
//
// The judge is noisy and costs money, so it is asked k times (votes): the
// majority step wins and the share of votes agreeing gets a Wilson
// interval. Answers are cached on disk by content hash (model, prompt,
// vote index), so a rerun makes no calls; a budget in tokens and dollars is
// checked before every call, from an estimate of the call's size, and
// judging stops once the next call could exceed it.
//
// Its result is shown beside the deterministic localisation and never
// replaces it. Its accuracy depends on the model and has not been measured
// in this project.
//
// Calls go through internal/wire, the project's one owner of the OpenAI
// and Anthropic wire formats; no SDK is linked.
package judge

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/localize"
	"github.com/probity/probity/stats"
)

// Status says what became of a run the judge was asked about.
const (
	// StatusJudged: at least one vote was a well-formed answer.
	StatusJudged = "judged"
	// StatusBudget: the budget could not cover the run's calls; nothing
	// was spent on it.
	StatusBudget = "budget"
	// StatusError: no vote gave a well-formed answer (the API failed or
	// every answer was malformed).
	StatusError = "error"
)

// Result is the judge's answer for one run: the majority of k votes.
// Step is nil unless Status is StatusJudged.
type Result struct {
	Status string `json:"status"`
	// Step is the 0-based source position the majority named.
	Step *int `json:"step"`
	// Agent is the actor the majority named for Step.
	Agent string `json:"agent"`
	// Reason and Fix are from the first vote of the majority.
	Reason string `json:"reason"`
	Fix    string `json:"fix"`
	// FixSaves is the majority's prediction that the fix would have
	// saved the run.
	FixSaves bool `json:"fix_saves"`
	// Confidence is the mean confidence the majority's votes stated: the
	// model's word, not a calibrated probability.
	Confidence float64 `json:"confidence"`
	// Votes is k, the number of votes asked; Agreeing is how many named
	// Step.
	Votes    int `json:"votes"`
	Agreeing int `json:"agreeing"`
	// Agreement is Agreeing / Votes (a malformed vote agrees with none).
	Agreement float64 `json:"agreement"`
	// Interval is the 95% Wilson interval of Agreement.
	Interval [2]float64 `json:"interval"`
	// Model is the model asked.
	Model string `json:"model"`
	// Cached is true when every vote came from the cache.
	Cached bool `json:"cached"`
	// Malformed counts votes whose answer was not the JSON asked for.
	Malformed int `json:"malformed,omitempty"`
	// Error says why the run was not judged (Status budget or error), or
	// the first malformed answer or failed call.
	Error string `json:"error,omitempty"`
}

// Usage is what the judge has spent and done over its life.
type Usage struct {
	// Calls are HTTP calls made; CacheHits votes answered from the cache.
	Calls, CacheHits int
	// InputTokens and OutputTokens are as the API reported them (or
	// estimated where it reported none).
	InputTokens, OutputTokens int64
	// Dollars is their cost at the configured price.
	Dollars float64
	// Judged, Skipped (not sampled), OverBudget and Failed count runs.
	Judged, Skipped, OverBudget, Failed int
	// Malformed counts answers that were not the JSON asked for.
	Malformed int
	// Stopped is true once the budget stopped judging.
	Stopped bool
}

// Option configures a Judge.
type Option func(*Judge)

// WithHTTPClient sends the judge's requests through hc.
func WithHTTPClient(hc *http.Client) Option { return func(j *Judge) { j.client.HTTP = hc } }

// WithLookupEnv replaces os.LookupEnv for reading the API key.
func WithLookupEnv(f func(string) (string, bool)) Option { return func(j *Judge) { j.lookupEnv = f } }

// Judge asks a model where failed runs went wrong. It is safe for
// concurrent use; the budget is shared by all callers.
type Judge struct {
	cfg       *Config
	client    *wire.Client
	cacheDir  string
	lookupEnv func(string) (string, bool)

	mu    sync.Mutex
	usage Usage
}

// New returns a Judge for cfg. It fails when cfg.APIKeyEnv names a
// variable that is not set, or the cache directory cannot be made.
func New(cfg *Config, opts ...Option) (*Judge, error) {
	api := wire.APIChat
	if cfg.Provider == "anthropic" {
		api = wire.APIMessages
	}
	j := &Judge{cfg: cfg, client: &wire.Client{API: api, BaseURL: cfg.BaseURL, MaxRetries: 2}, lookupEnv: os.LookupEnv}
	for _, o := range opts {
		o(j)
	}
	keyEnv := cfg.APIKeyEnv
	if keyEnv == "" {
		keyEnv = map[string]string{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[cfg.Provider]
	}
	key, ok := j.lookupEnv(keyEnv)
	if (!ok || key == "") && cfg.APIKeyEnv != "" {
		return nil, &probity.Error{Code: probity.EINVALID, File: cfg.File,
			Message: fmt.Sprintf("api_key_env names %s, which is not set (or empty)", cfg.APIKeyEnv)}
	}
	j.client.APIKey = key
	dir, err := cfg.cacheDir()
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: cfg.File, Message: err.Error()}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: cfg.File, Message: "judge cache_dir", Err: err}
	}
	j.cacheDir = dir
	return j, nil
}

// Usage returns what the judge has spent so far.
func (j *Judge) Usage() Usage {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.usage
}

// Failed reports whether the run failed as far as the deterministic tier
// knows: its verdict is fail, its outcome says it failed, or the
// localiser placed a failure (which it does only for failed runs).
func Failed(t *probity.Trace, r *detect.Report) bool {
	if r != nil && (r.Verdict == probity.VerdictFail || r.Localization != nil) {
		return true
	}
	failed, _ := localize.Outcome(t)
	return failed
}

// Sampled reports whether a failed run with this trace id is among the
// share rate judged. It hashes the id, so the choice is the same on every
// rerun and machine, and independent of the order runs arrive in.
func Sampled(traceID string, rate float64) bool {
	if rate >= 1 {
		return true
	}
	if rate <= 0 {
		return false
	}
	h := sha256.Sum256([]byte(traceID))
	u := float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
	return u < rate
}

// Judge asks about one run and returns nil when the run did not fail or
// was not sampled. r is the deterministic report on t; ref is the
// reference t was localised against (nil: the one t carries).
//
// A failing API, a malformed answer or a budget that cannot cover the
// run is not an error: it is in the Result (Status, Malformed, Error), so
// one bad run does not stop a batch. The error return is for a cancelled
// ctx only.
func (j *Judge) Judge(ctx context.Context, t *probity.Trace, r *detect.Report, ref *localize.Reference) (*Result, error) {
	if !Failed(t, r) {
		return nil, nil
	}
	if !Sampled(t.ID, j.cfg.SampleRate()) {
		j.mu.Lock()
		j.usage.Skipped++
		j.mu.Unlock()
		return nil, nil
	}
	prompt := Prompt(t, r, ref)
	k := j.cfg.Votes
	res := &Result{Votes: k, Model: j.cfg.Model, Cached: true}
	replies := make([]*cached, k)
	keys := make([]string, k)
	need := 0
	for i := range k {
		keys[i] = j.key(prompt, i)
		if c, ok := j.readCache(keys[i]); ok {
			replies[i] = c
		} else {
			need++
		}
	}
	// The budget is checked for all of the run's calls before the first,
	// so no run is left half-voted: a majority of one vote of three would
	// read as more than it is.
	if need > 0 {
		if why := j.reserve(need, prompt); why != "" {
			res.Status, res.Error, res.Cached = StatusBudget, why, false
			j.mu.Lock()
			j.usage.OverBudget++
			j.mu.Unlock()
			return res, nil
		}
	}
	stopped := false
	var votes []vote
	for i := range k {
		c := replies[i]
		if c == nil {
			res.Cached = false
			// Checked again before each call: a server that counts more
			// tokens than estimated (non-Latin text) can use up the room
			// reserved above.
			if why := j.reserve(1, prompt); why != "" {
				res.Error, stopped = fmt.Sprintf("vote %d: %s", i, why), true
				break
			}
			var err error
			c, err = j.call(ctx, prompt)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if res.Error == "" {
					res.Error = fmt.Sprintf("vote %d: %v", i, err)
				}
				continue
			}
			j.writeCache(keys[i], c)
		} else {
			j.mu.Lock()
			j.usage.CacheHits++
			j.mu.Unlock()
		}
		v, err := parseAnswer(c.Reply, t)
		if err != nil {
			res.Malformed++
			if res.Error == "" {
				res.Error = fmt.Sprintf("vote %d: %v", i, err)
			}
			continue
		}
		votes = append(votes, v)
	}
	j.mu.Lock()
	j.usage.Malformed += res.Malformed
	switch {
	case len(votes) > 0:
		j.usage.Judged++
	case stopped:
		j.usage.OverBudget++
	default:
		j.usage.Failed++
	}
	j.mu.Unlock()
	if len(votes) == 0 {
		res.Status = StatusError
		if stopped {
			res.Status = StatusBudget
		}
		return res, nil
	}
	res.Status = StatusJudged
	majority(res, votes)
	iv := stats.Wilson(res.Agreeing, k, 0.95)
	res.Interval = [2]float64{round3(iv.Lo), round3(iv.Hi)}
	res.Agreement = round3(float64(res.Agreeing) / float64(k))
	return res, nil
}

// majority fills res from the votes: the step most votes named (the
// earliest on a tie, as the prompt asks for the earliest decisive step),
// the agent most of those named, and the first such vote's words.
func majority(res *Result, votes []vote) {
	count := map[int]int{}
	for _, v := range votes {
		count[v.Step]++
	}
	steps := make([]int, 0, len(count))
	for s := range count {
		steps = append(steps, s)
	}
	slices.SortFunc(steps, func(a, b int) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b))
	})
	step := steps[0]
	agents := map[string]int{}
	saves, conf := 0, 0.0
	first := true
	for _, v := range votes {
		if v.Step != step {
			continue
		}
		agents[v.Agent]++
		if v.FixSaves {
			saves++
		}
		conf += v.Confidence
		if first {
			res.Reason, res.Fix, first = v.Reason, v.Fix, false
		}
	}
	n := count[step]
	best := ""
	for a, c := range agents {
		if c > agents[best] || (c == agents[best] && a < best) {
			best = a
		}
	}
	res.Step, res.Agent, res.Agreeing = &step, best, n
	res.FixSaves = 2*saves > n
	res.Confidence = round3(conf / float64(n))
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// estimateTokens overestimates a text's tokens: about 3 bytes a token,
// where English averages 4, so the budget errs on the side of stopping.
func estimateTokens(s string) int64 { return int64(len(s))/3 + 16 }

// reserve checks that n more calls with prompt fit the budget, counting
// each at the prompt's estimated size and the full answer length; it
// returns why not, and marks the judge stopped, when they do not. Once
// stopped it refuses every call.
func (j *Judge) reserve(n int, prompt string) string {
	in := estimateTokens(systemPrompt) + estimateTokens(prompt)
	out := int64(j.cfg.MaxTokens)
	j.mu.Lock()
	defer j.mu.Unlock()
	u := &j.usage
	b := j.cfg.Budget
	if u.Stopped {
		return "judging stopped: the budget was reached on an earlier run"
	}
	nt := int64(n) * (in + out)
	var why string
	switch {
	case b.Tokens > 0 && u.InputTokens+u.OutputTokens+nt > b.Tokens:
		why = fmt.Sprintf("the next %d calls could take %d tokens; %d of the budget's %d are spent",
			n, nt, u.InputTokens+u.OutputTokens, b.Tokens)
	case b.Dollars > 0 && u.Dollars+float64(n)*b.Price.Cost(in, out) > b.Dollars:
		why = fmt.Sprintf("the next %d calls could cost $%.4f; $%.4f of the budget's $%.4f is spent",
			n, float64(n)*b.Price.Cost(in, out), u.Dollars, b.Dollars)
	}
	if why != "" {
		u.Stopped = true
	}
	return why
}

// cached is one answer as the cache keeps it.
type cached struct {
	Model        string `json:"model"`
	Reply        string `json:"reply"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

// key is the content hash an answer is cached under: what was asked of
// which model, and which vote, so k votes are k entries.
func (j *Judge) key(prompt string, vote int) string {
	h := sha256.New()
	fmt.Fprintf(h, "probity-judge/1\x00%s\x00%s\x00%s\x00%s\x00%d\x00", j.cfg.Provider, j.cfg.Model, systemPrompt, prompt, vote)
	return hex.EncodeToString(h.Sum(nil))
}

func (j *Judge) readCache(key string) (*cached, bool) {
	b, err := os.ReadFile(filepath.Join(j.cacheDir, key+".json"))
	if err != nil {
		return nil, false
	}
	var c cached
	if json.Unmarshal(b, &c) != nil || c.Model != j.cfg.Model {
		return nil, false
	}
	return &c, true
}

// writeCache stores c atomically (a temporary file renamed), so a crash
// mid-write leaves no half answer to be read as malformed later. A cache
// that cannot be written costs a rerun its calls, not this run its result.
func (j *Judge) writeCache(key string, c *cached) {
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	f, err := os.CreateTemp(j.cacheDir, ".tmp-"+key[:16]+"-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return
	}
	if os.Rename(f.Name(), filepath.Join(j.cacheDir, key+".json")) != nil {
		os.Remove(f.Name())
	}
}

// call asks the model once and books what it cost.
func (j *Judge) call(ctx context.Context, prompt string) (*cached, error) {
	j.mu.Lock()
	j.usage.Calls++
	j.mu.Unlock()
	c := &cached{Model: j.cfg.Model}
	ans, err := j.client.Ask(ctx, wire.Question{Model: j.cfg.Model, System: systemPrompt, Prompt: prompt,
		MaxTokens: j.cfg.MaxTokens, Temperature: j.cfg.Temperature})
	if err != nil {
		return nil, err
	}
	c.Reply, c.InputTokens, c.OutputTokens = ans.Text, ans.InputTokens, ans.OutputTokens
	// A server that reports no usage (some local ones) is charged the
	// estimate, so the budget still binds.
	if c.InputTokens == 0 && c.OutputTokens == 0 {
		c.InputTokens = estimateTokens(systemPrompt) + estimateTokens(prompt)
		c.OutputTokens = estimateTokens(c.Reply)
	}
	j.mu.Lock()
	j.usage.InputTokens += c.InputTokens
	j.usage.OutputTokens += c.OutputTokens
	j.usage.Dollars += j.cfg.Budget.Price.Cost(c.InputTokens, c.OutputTokens)
	j.mu.Unlock()
	return c, nil
}
