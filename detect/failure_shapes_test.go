package detect

import "testing"

// TestTextFailureShapes checks the failure shapes beyond an error field and
// a leading "Error:", and that ordinary data mentioning them is no failure.
func TestTextFailureShapes(t *testing.T) {
	tests := []struct {
		name, text string
		want       bool
	}{
		{"java stack", "java.lang.IllegalStateException: ledger locked\n\tat com.acme.Ledger.post(Ledger.java:88)\n\tat com.acme.Api.handle(Api.java:12)", true},
		{"java in thread", "Exception in thread \"main\" java.lang.NullPointerException\n    at Main.main(Main.java:3)", true},
		{"python tail without header", "  File \"/repo/x.py\", line 3, in <module>\n    f()\nKeyError: 'a'", true},
		{"node frames", "TypeError: cannot read properties of undefined\n    at run (/app/index.js:3:7)\n    at /app/index.js:9:1", true},
		{"html 502", "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>", true},
		{"html ok page", "<!DOCTYPE html><html><head><title>Order history</title></head><body>ok</body></html>", false},
		{"grpc go", "rpc error: code = Unavailable desc = connection refused", true},
		{"grpc python", "<_InactiveRpcError of RPC that terminated with: status = StatusCode.DEADLINE_EXCEEDED>", true},
		{"grpc json status", `{"code": 14, "status": "UNAVAILABLE", "message": "backend down"}`, true},
		{"json code 409", `{"code": 409, "message": "conflict"}`, true},
		{"order cancelled is data", `{"order_id": "#W1", "status": "cancelled"}`, false},
		{"timeout", "Request to payments service timed out after 30 s", true},
		{"sql constraint", "duplicate key value violates unique constraint \"orders_pkey\"", true},
		{"sqlite exception", "sqlite3.IntegrityError: UNIQUE constraint failed: users.email", true},
		{"long text mentioning timeout", "Flight HAT001 details: " + repeat("seat 12A window; ", 40) + "note: connection timeout policy applies", false},
		{"plain answer", "The total is 42.", false},
		{"segfault", "<returncode>139</returncode>\n<output>\nSegmentation fault (core dumped)\n</output>", true},
		{"silent sigkill", "<returncode>137</returncode>\n<output>\n</output>", true},
	}
	for _, tt := range tests {
		f, got := textFailure(tt.text)
		if got != tt.want {
			t.Errorf("%s: textFailure(%q) = %v (%q), want %v", tt.name, clip(tt.text, 60), got, f.quote, tt.want)
		}
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// TestDeniesProblem checks that a denied problem word ("without errors") is
// not read as acknowledging a failure, while an admitted one is.
func TestDeniesProblem(t *testing.T) {
	tests := []struct {
		text string
		want int // offset of the acknowledgement, or -1
	}{
		{"The script now runs without errors.", -1},
		{"All good: no failures and the error is gone.", -1},
		{"The script failed with a KeyError.", 11},
		{"I need to fix the error first.", 18},
	}
	for _, tt := range tests {
		if got := firstAck(tt.text, ""); got != tt.want {
			t.Errorf("firstAck(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}
