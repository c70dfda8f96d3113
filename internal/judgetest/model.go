// Package judgetest is a scripted model that plays the judge's upstream in
// tests: a real HTTP handler speaking OpenAI Chat Completions and Anthropic
// Messages, whose answers follow a script named in the judged run's task
// ("[script:agree]"), so tests can record real exchanges with it and
// replay them through probity replay. It is a test fixture: the product
// binary does not link it.
package judgetest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Model answers judge prompts. Its answers read the prompt's evidence: the
// step it names is the deterministic localisation's top candidate, so a
// test sees the evidence reach the model. Scripts:
//
//   - agree: every vote names the top candidate.
//   - split: the second of every three votes names the step before it.
//   - malformed: the first vote is prose, the second lacks fields, the
//     third is well-formed inside a code fence.
//   - garbage: every vote is malformed (a step the run lacks, empty, bad
//     JSON).
//
// A prompt without a script is answered as agree.
type Model struct {
	mu     sync.Mutex
	seen   map[[32]byte]int
	bodies []string
}

// Requests returns the bodies of the requests received, in order.
func (m *Model) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.bodies...)
}

var (
	scriptRE    = regexp.MustCompile(`\[script:(\w+)\]`)
	candidateRE = regexp.MustCompile(`(?m)^- step \[(\d+)\](?: by (\S+?))?,`)
	stepRE      = regexp.MustCompile(`(?m)^\[(\d+)\] `)
)

// ServeHTTP answers POST /v1/chat/completions and /v1/messages.
func (m *Model) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	var body strings.Builder
	if err := json.NewDecoder(teeReader{r, &body}).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad JSON"}}`, http.StatusBadRequest)
		return
	}
	anthropic := strings.HasSuffix(r.URL.Path, "/messages")
	var prompt string
	for _, msg := range req.Messages {
		if msg.Role == "user" {
			var s string
			if json.Unmarshal(msg.Content, &s) == nil {
				prompt = s
			}
		}
	}
	m.mu.Lock()
	if m.seen == nil {
		m.seen = map[[32]byte]int{}
	}
	m.bodies = append(m.bodies, body.String())
	k := sha256.Sum256([]byte(prompt))
	n := m.seen[k]
	m.seen[k]++
	m.mu.Unlock()

	reply := answer(prompt, n)
	in, out := len(prompt)/4, len(reply)/4
	w.Header().Set("Content-Type", "application/json")
	if anthropic {
		json.NewEncoder(w).Encode(map[string]any{
			"id": fmt.Sprintf("msg_%d", n), "type": "message", "role": "assistant", "model": "judge-test",
			"content":     []map[string]any{{"type": "text", "text": reply}},
			"stop_reason": "end_turn", "usage": map[string]any{"input_tokens": in, "output_tokens": out},
		})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "model": "judge-test",
		"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": reply}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": in, "completion_tokens": out},
	})
}

// answer is the n-th (0-based) reply to prompt.
func answer(prompt string, n int) string {
	script := "agree"
	if sm := scriptRE.FindStringSubmatch(prompt); sm != nil {
		script = sm[1]
	}
	step, agent := 0, "assistant"
	if cm := candidateRE.FindStringSubmatch(prompt); cm != nil {
		step, _ = strconv.Atoi(cm[1])
		if cm[2] != "" {
			agent = cm[2]
		}
	} else if sm := stepRE.FindAllStringSubmatch(prompt, -1); len(sm) > 0 {
		step, _ = strconv.Atoi(sm[len(sm)-1][1])
	}
	good := func(step int) string {
		b, _ := json.Marshal(map[string]any{"step": step, "agent": agent,
			"reason": fmt.Sprintf("step %d acted on the wrong value", step),
			"fix":    fmt.Sprintf("at step %d, use the value the user asked for", step), "fix_saves": true, "confidence": 0.8})
		return string(b)
	}
	switch script {
	case "split":
		if n%3 == 1 && step > 0 {
			return good(step - 1)
		}
	case "malformed":
		switch n % 3 {
		case 0:
			return fmt.Sprintf("I believe step %d is at fault.", step)
		case 1:
			return fmt.Sprintf(`{"step": %d, "agent": %q}`, step, agent)
		}
		return "```json\n" + good(step) + "\n```"
	case "garbage":
		switch n % 3 {
		case 0:
			return `{"step": 9999, "agent": "x", "reason": "r", "fix": "f", "fix_saves": false, "confidence": 0.5}`
		case 1:
			return ""
		}
		return `{"step": 1, "agent": `
	}
	return good(step)
}

// teeReader copies what is read from r's body into b.
type teeReader struct {
	r *http.Request
	b *strings.Builder
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Body.Read(p)
	t.b.Write(p[:n])
	return n, err
}
