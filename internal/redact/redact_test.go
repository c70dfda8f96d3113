package redact

import (
	"net/http"
	"strings"
	"testing"
)

func TestSecretNames(t *testing.T) {
	r := New([]string{"X-Custom"}, []string{"customer_email"})
	for _, h := range []string{"Authorization", "X-Api-Key", "Api-Key", "Helicone-Auth", "api_key", "X-Secret-Key",
		"Token", "X-Access-Key", "X-Functions-Key", "X-Goog-Api-Key", "Ocp-Apim-Subscription-Key", "Cookie",
		"X-Amz-Security-Token", "X-Custom", "Xapikey", "Client-Secret"} {
		if !r.IsSecretHeader(h) {
			t.Errorf("IsSecretHeader(%q) = false, want true", h)
		}
	}
	for _, h := range []string{"Content-Type", "X-Ratelimit-Remaining-Tokens", "Anthropic-Ratelimit-Input-Tokens-Limit",
		"Openai-Organization", "X-Request-Id", "User-Agent", "Www-Authenticate", "X-Error-Code"} {
		if r.IsSecretHeader(h) {
			t.Errorf("IsSecretHeader(%q) = true, want false", h)
		}
	}
	for _, q := range []string{"key", "auth", "x-amz-signature", "X-Amz-Credential", "access_token", "sig", "code",
		"customer_email", "client_secret"} {
		if !r.IsSecretParam(q) {
			t.Errorf("IsSecretParam(%q) = false, want true", q)
		}
	}
	for _, q := range []string{"max_tokens", "model", "limit", "after"} {
		if r.IsSecretParam(q) {
			t.Errorf("IsSecretParam(%q) = true, want false", q)
		}
	}
}

func TestByValue(t *testing.T) {
	r := New(nil, nil)
	h := http.Header{"Authorization": {"Bearer opaque-token-1234567"}, "X-Echo": {"key was opaque-token-1234567"}}
	got := r.Header(h)
	if got.Get("Authorization") != Redacted || got.Get("X-Echo") != "key was "+Redacted {
		t.Errorf("Header = %v", got)
	}
	if s := r.String(`{"error": "bad key opaque-token-1234567"}`); strings.Contains(s, "opaque") {
		t.Errorf("String did not scrub a learned value: %s", s)
	}
	if h.Get("Authorization") == Redacted {
		t.Error("Header changed its argument")
	}
}

func TestShapes(t *testing.T) {
	for _, s := range []string{
		"sk-proj-AbCdEf0123456789xyzXYZ", "sk-ant-api03-abcdefghijklmnop_qrstuv", "AKIAIOSFODNN7EXAMPLE",
		"ghp_0123456789abcdefghijABCDEFGHIJ012345", "AIzaSyA-0123456789abcdefghijklmnopqrstu",
		"xoxb-1234567890-abcdefghij", "sk_live_0123456789abcdefABCD", "hf_abcdefghijklmnopqrstuvwxyzABCDEF",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
		"-----BEGIN RSA PRIVATE KEY-----\\nMIIEow\\n-----END RSA PRIVATE KEY-----",
	} {
		in := `{"content": "here: ` + s + ` ok"}`
		got := string(Shapes([]byte(in)))
		if want := `{"content": "here: REDACTED ok"}`; got != want {
			t.Errorf("Shapes(%q) = %q, want %q", in, got, want)
		}
	}
	for _, s := range []string{"task-0123456789abcdefghij", "risk-assessment-of-the-thing", "AKIA is a prefix",
		"the high road", "max_tokens"} {
		if got := ShapesString(s); got != s {
			t.Errorf("ShapesString(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestJSONFields(t *testing.T) {
	r := New(nil, []string{"customer_email"})
	in := " \n{\"a\": [{\"Customer_Email\": \"ann@example.com\"}], \"b\": \"mail ann@example.com\"}"
	got := string(r.JSON([]byte(in)))
	if strings.Contains(got, "ann@example.com") || !strings.Contains(got, Redacted) {
		t.Errorf("JSON(%q) = %q", in, got)
	}
}

func TestURL(t *testing.T) {
	r := New(nil, nil)
	got := r.URL("https://bob:hunter2-long-pass@api.example.com/v1?key=AIzaLongGoogleKey0001&x=1")
	if strings.Contains(got, "hunter2") || strings.Contains(got, "AIzaLongGoogleKey0001") || !strings.Contains(got, "x=1") {
		t.Errorf("URL = %q", got)
	}
	if s := r.String("connect to hunter2-long-pass"); strings.Contains(s, "hunter2") {
		t.Errorf("the URL's password was not learned: %q", s)
	}
}

func FuzzRedact(f *testing.F) {
	f.Add([]byte(`{"customer_email": "x@y.z", "m": "sk-proj-AbCdEf0123456789xyz"}`), "Bearer sk-abcdefgh12345678")
	f.Add([]byte("-----BEGIN PRIVATE KEY-----"), "")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		r := New(nil, []string{"customer_email"})
		r.Learn(secret)
		out := r.JSON(body)
		if s := strings.TrimSpace(secret); len(s) >= minSecret && s != Redacted && strings.Contains(string(out), s) &&
			!strings.Contains(Redacted, s) {
			// A learned value may only survive where replacing it built it
			// anew from REDACTED's letters.
			if !strings.Contains(strings.ReplaceAll(string(out), Redacted, ""), s) {
				return
			}
			t.Errorf("learned %q survives in %q", s, out)
		}
	})
}
