// Package testagent is a small stochastic agent whose pass probability per
// case is set by the case itself, so the evaluation harness can be checked
// against known truth: intervals must cover the set rate, sequential tests
// must keep their error rates, and planted regressions must be caught.
//
// The agent answers the harness's standard request {"id", "trial", "input",
// ...}. It reads from input:
//
//	answer      the right answer (default "ok")
//	p           probability of answering right (default 1)
//	latency_ms  how long to think before answering
//	error       always fail as the target: "500", "crash", "hang", "garbage", "429"
//	error_rate  fail as the target ("500"/"crash") with this probability
//	tools       tool names to call, in order, before answering; the trace
//	            carries them as OpenAI messages
//	wrong_tool  a tool called instead of the last one when the answer is wrong
//
// Randomness is a hash of (agent seed, case id, trial), so a trial is
// reproducible and k trials of a case are k independent draws. The same
// agent runs as an HTTP handler and as a one-shot exec subprocess.
package testagent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// Agent is a configured test agent.
type Agent struct {
	// Seed varies the draws: two agents with different seeds are two
	// independent runs of the same stochastic agent.
	Seed uint64
	// Delta is added to every case's p (clamped to [0, 1]): a negative
	// Delta plants a regression.
	Delta float64
	// Latency, when set, overrides every case's latency_ms.
	Latency time.Duration

	mu       sync.Mutex
	attempts map[string]int // (id, trial) → requests seen, for "429"
}

// Request is the harness's standard request.
type Request struct {
	ID    string `json:"id"`
	Trial int    `json:"trial"`
	Input Input  `json:"input"`
}

// Input is what a case tells the agent to do.
type Input struct {
	Question  string   `json:"question,omitempty"`
	Answer    *string  `json:"answer,omitempty"`
	P         *float64 `json:"p,omitempty"`
	LatencyMS float64  `json:"latency_ms,omitempty"`
	Error     string   `json:"error,omitempty"`
	ErrorRate float64  `json:"error_rate,omitempty"`
	Tools     []string `json:"tools,omitempty"`
	WrongTool string   `json:"wrong_tool,omitempty"`
}

// Reply is what the agent answers.
type Reply struct {
	Output  map[string]any   `json:"output"`
	Trace   []map[string]any `json:"trace,omitempty"`
	CostUSD float64          `json:"cost_usd"`
	Usage   map[string]int   `json:"usage"`
}

// Failure is how the agent fails as a target rather than as an agent.
type Failure string

// The failures.
const (
	FailNone    Failure = ""
	Fail500     Failure = "500"
	FailCrash   Failure = "crash"
	FailHang    Failure = "hang"
	FailGarbage Failure = "garbage"
	Fail429     Failure = "429"
)

// uniform returns a deterministic draw in [0, 1) for (seed, id, trial,
// stream). SHA-256 makes draws of neighbouring trials and ids independent
// (a weaker hash made the outcomes of one case visibly under-dispersed).
func (a *Agent) uniform(id string, trial int, stream byte) float64 {
	var b [17]byte
	binary.LittleEndian.PutUint64(b[:8], a.Seed)
	binary.LittleEndian.PutUint64(b[8:16], uint64(trial))
	b[16] = stream
	h := sha256.New()
	h.Write(b[:])
	h.Write([]byte(id))
	var sum [32]byte
	x := binary.LittleEndian.Uint64(h.Sum(sum[:0]))
	return float64(x>>11) / (1 << 53)
}

// PassProbability is the agent's true pass rate for a case input.
func (a *Agent) PassProbability(in Input) float64 {
	p := 1.0
	if in.P != nil {
		p = *in.P
	}
	return math.Max(0, math.Min(1, p+a.Delta))
}

// Decide returns the reply, or how the agent fails, for one request.
func (a *Agent) Decide(req Request) (Reply, Failure) {
	in := req.Input
	switch Failure(in.Error) {
	case Fail500, FailCrash, FailHang, FailGarbage:
		return Reply{}, Failure(in.Error)
	case Fail429:
		a.mu.Lock()
		if a.attempts == nil {
			a.attempts = map[string]int{}
		}
		k := fmt.Sprintf("%s/%d", req.ID, req.Trial)
		a.attempts[k]++
		first := a.attempts[k] == 1
		a.mu.Unlock()
		if first {
			return Reply{}, Fail429
		}
	}
	if in.ErrorRate > 0 && a.uniform(req.ID, req.Trial, 1) < in.ErrorRate {
		return Reply{}, Fail500
	}
	answer := "ok"
	if in.Answer != nil {
		answer = *in.Answer
	}
	right := a.uniform(req.ID, req.Trial, 0) < a.PassProbability(in)
	got := answer
	if !right {
		got = fmt.Sprintf("wrong-%d", req.Trial)
	}
	msgs := []map[string]any{{"role": "user", "content": in.Question}}
	for i, t := range in.Tools {
		if !right && in.WrongTool != "" && i == len(in.Tools)-1 {
			t = in.WrongTool
		}
		id := fmt.Sprintf("call_%d", i)
		args, _ := json.Marshal(map[string]any{"case": req.ID, "step": i})
		msgs = append(msgs,
			map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{
				"id": id, "type": "function", "function": map[string]any{"name": t, "arguments": string(args)}}}},
			map[string]any{"role": "tool", "tool_call_id": id, "content": fmt.Sprintf(`{"ok": true, "tool": %q}`, t)})
	}
	msgs = append(msgs, map[string]any{"role": "assistant", "content": got})
	return Reply{
		Output:  map[string]any{"answer": got},
		Trace:   msgs,
		CostUSD: 0.0001,
		Usage:   map[string]int{"prompt_tokens": 100, "completion_tokens": 10},
	}, FailNone
}

func (a *Agent) latency(in Input) time.Duration {
	if a.Latency > 0 {
		return a.Latency
	}
	return time.Duration(in.LatencyMS * float64(time.Millisecond))
}

// ServeHTTP answers one POSTed request.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if d := a.latency(req.Input); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	reply, f := a.Decide(req)
	switch f {
	case Fail500:
		http.Error(w, "internal error: the agent fell over", http.StatusInternalServerError)
		return
	case Fail429:
		w.Header().Set("Retry-After", "0.05")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case FailCrash:
		// Drop the connection without an answer, as a crashing server does.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case FailHang:
		<-r.Context().Done()
		return
	case FailGarbage:
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>Bad Gateway</html>")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(reply)
}

// ErrCrash is returned by RunExec when the case asks the agent to crash;
// the caller exits non-zero.
var ErrCrash = errors.New("testagent: crashed as the case asked")

// RunExec answers one request read from stdin on stdout, as an exec target.
// Hang sleeps until ctx ends.
func (a *Agent) RunExec(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	var req Request
	if err := json.NewDecoder(stdin).Decode(&req); err != nil {
		return fmt.Errorf("testagent: bad request: %w", err)
	}
	if d := a.latency(req.Input); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	reply, f := a.Decide(req)
	switch f {
	case Fail500, FailCrash, Fail429:
		fmt.Fprintln(stderr, "testagent: segmentation fault (simulated)")
		return ErrCrash
	case FailHang:
		<-ctx.Done()
		return ctx.Err()
	case FailGarbage:
		_, err := io.WriteString(stdout, "Traceback (most recent call last):\n  oops\n")
		return err
	}
	return json.NewEncoder(stdout).Encode(reply)
}
