package guard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/guard"
)

// FuzzDecideBody sends arbitrary bodies to POST /v1/decide: the service must
// answer 200 or 400 with JSON, never panic or fail with a 500.
func FuzzDecideBody(f *testing.F) {
	for _, s := range []string{
		`{"run":"r","tool":"write_file","args":{"path":".env"}}`,
		`{"run":"r","tool":"refund","args":{"amount":300}}`,
		`{"run":"r","tool":"refund","args":{"amount":"$54.04"}}`,
		`{"run":"r","tool":"cancel","args":{},"messages":[{"role":"user","content":"yes"},{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"cancel","input":{}}]}]}`,
		`{"tool":"x","args":[1,2]}`,
		`{"tool":"x","messages":[{"role":"tool","tool_call_id":"nope","content":null}]}`,
		`{"tool":`,
	} {
		f.Add(s)
	}
	g := newGuard(f, testPolicy, guard.Options{ApprovalTimeout: time.Millisecond})
	h := guard.Handler(g, guard.HTTPOptions{})
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/decide", strings.NewReader(body))
		req.Host = "127.0.0.1:8700"
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("POST /v1/decide %q: status %d: %s", body, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(rec.Body.String(), "{") {
			t.Fatalf("POST /v1/decide %q: body %q is not JSON", body, rec.Body)
		}
	})
}
