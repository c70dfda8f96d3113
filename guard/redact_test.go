package guard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/proxy"
)

// TestAuditRedacted is issue 10 item 5: a model that puts the agent's API
// key, a --redact-field value and a pasted key into a tool call's
// arguments, through `proxy --policy`, leaves none of them in the audit
// log, which shares the proxy's redactor.
func TestAuditRedacted(t *testing.T) {
	const (
		apiKey    = "sk-proj-AuditAgentKey0123456789"
		opaque    = "opaque-gateway-token-77f1c2"
		email     = "ann.customer@example.com"
		awsKey    = "AKIAZXCVBNMASDFGHJKL"
		ghToken   = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
		policySrc = `
rules:
  - name: no-email
    tools: [send_email]
    deny: 'true'
    message: no email today
`
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		args := fmt.Sprintf(`{"to":"x@y.z","customer_email":%q,"body":"key %s and %s, aws %s, gh %s"}`,
			email, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Header.Get("X-Gateway-Token"), awsKey, ghToken)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"tool_calls",
"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"send_email","arguments":%q}}]}}]}`, args)
	}))
	defer up.Close()

	red := redact.New(nil, []string{"customer_email"})
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := guard.OpenAudit(auditPath, guard.AuditRedactor(red))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	g := newGuard(t, policySrc, guard.Options{Audit: audit})
	p, err := proxy.New(proxy.Options{Upstream: up.URL, Redactor: red, Guard: guard.ProxyHook(g)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(apiKey), option.WithMaxRetries(0),
		option.WithHeader("X-Gateway-Token", opaque))
	res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("mail the customer")}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Choices[0].Message.ToolCalls); n != 0 {
		t.Fatalf("the denied call reached the agent (%d tool calls)", n)
	}
	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"tool":"send_email"`) || !strings.Contains(string(b), redact.Redacted) {
		t.Fatalf("audit log has no redacted decision for send_email:\n%s", b)
	}
	for _, s := range []string{apiKey, opaque, email, awsKey, ghToken} {
		if strings.Contains(string(b), s) {
			t.Errorf("audit log contains %q:\n%s", s, b)
		}
	}
}

// TestAuditRedactsShapesByDefault checks that a log opened without a
// redactor still scrubs secret-shaped text from arguments and messages.
func TestAuditRedactsShapesByDefault(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := guard.OpenAudit(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	const key = "sk-ant-api03-PastedIntoArgs0123456789"
	if err := audit.Write(&guard.AuditRecord{Event: "decision", Tool: "bash", Args: []byte(`{"cmd":"export K=` + key + `"}`),
		Message: "saw " + key}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(auditPath)
	if strings.Contains(string(b), key) || !strings.Contains(string(b), `"args":{"cmd":"export K=REDACTED"}`) {
		t.Errorf("audit log = %s, want the key redacted and the arguments still JSON", b)
	}
}
