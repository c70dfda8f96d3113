package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces every secret the recorder removes.
const Redacted = "REDACTED"

// secretHeaders are redacted always. Names are canonical.
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie", "Set-Cookie",
	"X-Goog-Api-Key", "X-Amz-Security-Token", "Openai-Api-Key", "Anthropic-Api-Key", "Ocp-Apim-Subscription-Key"}

// secretQuery are query parameters redacted always (Google's ?key=...).
var secretQuery = []string{"key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature", "code"}

// redactor removes secrets from what the recorder writes: secret headers,
// secret query parameters, configured JSON fields, and, as a last line of
// defence, every other occurrence of a secret value it removed (an upstream
// that echoes the key in an error message, for instance).
type redactor struct {
	headers map[string]bool
	fields  map[string]bool
}

func newRedactor(headers, fields []string) *redactor {
	r := &redactor{headers: map[string]bool{}, fields: map[string]bool{}}
	for _, h := range append(slices.Clone(secretHeaders), headers...) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, f := range fields {
		r.fields[strings.ToLower(f)] = true
	}
	return r
}

// isSecretHeader also catches headers whose names say they hold a
// credential, so a provider's new key header is not written by default.
func (r *redactor) isSecretHeader(k string) bool {
	k = http.CanonicalHeaderKey(k)
	if r.headers[k] {
		return true
	}
	l := strings.ToLower(k)
	return strings.HasSuffix(l, "-api-key") || strings.HasSuffix(l, "-token") || strings.HasSuffix(l, "-secret") ||
		strings.Contains(l, "apikey") || strings.Contains(l, "authorization") || strings.Contains(l, "credential") ||
		strings.Contains(l, "password") || strings.HasSuffix(l, "-signature")
}

// header returns a copy of h with secrets replaced, adding each removed
// value to secrets.
func (r *redactor) header(h http.Header, secrets *[]string) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		if !r.isSecretHeader(k) {
			out[k] = slices.Clone(vs)
			continue
		}
		red := make([]string, len(vs))
		for i, v := range vs {
			red[i] = Redacted
			addSecret(secrets, v)
			if _, tok, ok := strings.Cut(v, " "); ok {
				addSecret(secrets, tok) // "Bearer sk-...": the token alone
			}
		}
		out[k] = red
	}
	return out
}

func addSecret(secrets *[]string, v string) {
	v = strings.TrimSpace(v)
	// Short values would match innocent text; real keys are long.
	if len(v) >= 8 && !slices.Contains(*secrets, v) {
		*secrets = append(*secrets, v)
	}
}

// query redacts secret query parameters.
func (r *redactor) query(q string, secrets *[]string) string {
	if q == "" {
		return ""
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		// Unparseable: keep nothing rather than risk a key.
		return Redacted
	}
	changed := false
	for k, vs := range vals {
		if slices.Contains(secretQuery, strings.ToLower(k)) || r.fields[strings.ToLower(k)] {
			for i, v := range vs {
				addSecret(secrets, v)
				vs[i] = Redacted
			}
			changed = true
		}
	}
	if !changed {
		return q
	}
	return vals.Encode()
}

// body redacts configured JSON fields (at any depth) and then scrubs every
// known secret value from the bytes.
func (r *redactor) body(b []byte, secrets *[]string) []byte {
	if len(r.fields) > 0 && len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&v) == nil && r.walk(v, secrets) {
			if nb, err := marshalNoEscape(v); err == nil {
				b = nb
			}
		}
	}
	return scrub(b, *secrets)
}

func (r *redactor) walk(v any, secrets *[]string) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if r.fields[strings.ToLower(k)] {
				if s, ok := e.(string); ok {
					addSecret(secrets, s)
				}
				x[k] = Redacted
				changed = true
				continue
			}
			changed = r.walk(e, secrets) || changed
		}
	case []any:
		for _, e := range x {
			changed = r.walk(e, secrets) || changed
		}
	}
	return changed
}

func scrub(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		}
	}
	return b
}

func scrubString(s string, secrets []string) string {
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, Redacted)
	}
	return s
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
