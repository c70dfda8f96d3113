package repro

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity/proxy"
)

// TestMain lets the test binary double as the agent under test: a real
// subprocess that talks to the proxy over HTTP.
func TestMain(m *testing.M) {
	if os.Getenv("REPRO_TEST_AGENT") == "1" {
		os.Exit(agent())
	}
	os.Exit(m.Run())
}

const apiKey = "sk-proj-SECRETrepro93b1c7a2e5d"

// Secrets an agent prints that are not in its environment (issue 10 item
// 9): a token it sends through the proxy, and an AWS key it found.
const (
	gatewayToken = "opaque-gateway-token-5d1f0b"
	awsKey       = "AKIAREPROTESTKEY0001"
)

// agent is a tiny support agent: it asks the model, runs the tool the model
// picks, and reports the model's final answer. It fails (exit 1) when the
// model picked cancel_order and (exit 2) when the model gave up.
func agent() int {
	base := os.Getenv("OPENAI_BASE_URL")
	msgs := []any{map[string]any{"role": "user", "content": "Where is my order #W123?"}}
	call := func() map[string]any {
		b, _ := json.Marshal(map[string]any{"model": "gpt-4o", "messages": msgs, "user": os.Getenv("PROBITY_RUN")})
		req, _ := http.NewRequest("POST", base+"/chat/completions", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("X-Gateway-Token", gatewayToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println("agent:", err)
			os.Exit(3)
		}
		defer resp.Body.Close()
		var out struct {
			Choices []struct{ Message map[string]any } `json:"choices"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return out.Choices[0].Message
	}
	m := call()
	tc := m["tool_calls"].([]any)[0].(map[string]any)
	name := tc["function"].(map[string]any)["name"].(string)
	msgs = append(msgs, m, map[string]any{"role": "tool", "tool_call_id": tc["id"], "content": `{"status":"shipped"}`})
	final := call()
	fmt.Println("agent key", os.Getenv("OPENAI_API_KEY"), "gateway", gatewayToken, "aws", awsKey, "answer:", final["content"])
	if name == "cancel_order" {
		return 1
	}
	if strings.Contains(final["content"].(string), "cannot") {
		return 2
	}
	return 0
}

// modelAPI is a model that picks cancel_order on every 4th conversation
// and gives up on every 5th second call.
func modelAPI(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	first, second := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Messages []any }
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if len(req.Messages) == 1 {
			first++
			tool := "get_order"
			if first%4 == 0 {
				tool = "cancel_order"
			}
			fmt.Fprintf(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":%q,"arguments":"{\"order_id\":\"#W123\"}"}}]},"finish_reason":"tool_calls"}]}`, tool)
			return
		}
		second++
		answer := "Your order #W123 has shipped."
		if second%5 == 0 {
			answer = "Sorry, I cannot help with that."
		}
		fmt.Fprintf(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}]}`, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRepro(t *testing.T) {
	t.Setenv("REPRO_TEST_AGENT", "1")
	t.Setenv("OPENAI_API_KEY", apiKey)
	self, _ := os.Executable()
	ctx := context.Background()

	t.Run("exit status", func(t *testing.T) {
		dir := t.TempDir()
		rep, err := Run(ctx, Options{Command: []string{self}, Runs: 20, Concurrency: 1, Dir: dir,
			Proxy: proxy.Options{Upstream: modelAPI(t).URL}})
		if err != nil {
			t.Fatal(err)
		}
		// Runs 4, 8, 12, 16, 20 pick cancel_order; 5, 10, 15 give up.
		if rep.Failures != 8 || rep.Runs != 20 {
			t.Errorf("failures %d of %d, want 8 of 20", rep.Failures, rep.Runs)
		}
		if lo, hi := rep.Interval.Lo, rep.Interval.Hi; !(lo > 0.19 && lo < 0.22 && hi > 0.60 && hi < 0.62) {
			t.Errorf("interval [%.3f, %.3f], want Wilson 95%% for 8/20 ≈ [0.219, 0.613]", lo, hi)
		}
		var got []string
		for _, m := range rep.Modes {
			got = append(got, fmt.Sprintf("%s %v", m.Where, m.Runs))
		}
		want := []string{
			"call 1 $.body.messages[1].tool_calls[*].function.name [r004 r008 r012 r016 r020]",
			"call 1 response [r005 r010 r015]",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("failure modes (-want +got):\n%s", diff)
		}
		if !strings.Contains(rep.Modes[0].Description, `passing "get_order", failing "cancel_order"`) {
			t.Errorf("mode description %q does not say what differs", rep.Modes[0].Description)
		}
		for _, r := range rep.Results {
			if r.Calls != 2 || r.Cassette == "" || r.Trace == "" {
				t.Errorf("run %s: %d calls, cassette %q, trace %q; want 2 calls kept", r.ID, r.Calls, r.Cassette, r.Trace)
			}
		}
		var buf bytes.Buffer
		WriteText(&buf, rep)
		if !strings.Contains(buf.String(), "fails 40% of runs [22%, 61%] (8 of 20, Wilson 95%), in 2 ways:") {
			t.Errorf("text report:\n%s", buf.String())
		}
		assertNoSecret(t, dir)
	})

	t.Run("CEL over the trace", func(t *testing.T) {
		dir := t.TempDir()
		rep, err := Run(ctx, Options{Command: []string{self}, Runs: 8, Concurrency: 3, Dir: dir,
			Pass:  `!("cancel_order" in trace.tools) && trace.steps.exists(s, s.kind == "tool_result")`,
			Proxy: proxy.Options{Upstream: modelAPI(t).URL}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failures != 2 {
			t.Errorf("failures %d, want the 2 runs that called cancel_order", rep.Failures)
		}
		if len(rep.Modes) != 1 || len(rep.Modes[0].Runs) != 2 {
			t.Errorf("modes %+v, want one with 2 runs", rep.Modes)
		}
	})

	t.Run("bad condition", func(t *testing.T) {
		_, err := Run(ctx, Options{Command: []string{self}, Runs: 1, Dir: t.TempDir(), Pass: "exit_code ==",
			Proxy: proxy.Options{Upstream: "http://127.0.0.1:9"}})
		if err == nil || !strings.Contains(err.Error(), "--pass") {
			t.Errorf("Run with a bad condition: err %v, want one naming --pass", err)
		}
	})
}

func assertNoSecret(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			for _, s := range []string{apiKey, gatewayToken, awsKey} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s contains the secret %q", p, s)
				}
			}
		}
		return err
	})
}
