// Package redact is the one routine that removes secrets from everything
// Probity writes to disk: cassettes and traces of the recording proxy,
// audit logs of the guard (guard serve, proxy --policy, mcp-proxy) and the
// agents' logs kept by repro.
//
// It removes secrets three ways, because each alone misses some:
//
//   - by name: credential headers and query parameters, and the JSON
//     fields the operator names, wherever they are;
//   - by value: every value removed by name is learned, and every later
//     occurrence of it anywhere (a response header echoing the key, an
//     error message, a log line) is replaced too, for the Redactor's life;
//   - by shape: text that looks like a well-known kind of key (sk-...,
//     AKIA..., ghp_..., a PEM private key, a JWT) is replaced wherever it
//     appears, because an agent may paste a key into a message.
//
// One Redactor is shared by every writer of a process, so a key seen in a
// request the proxy relayed is also scrubbed from the guard's audit log.
package redact

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces every secret removed.
const Redacted = "REDACTED"

// minSecret is the shortest value learned: shorter ones would match
// innocent text, and real keys are long.
const minSecret = 8

// maxKnown bounds the learned values. A process sees a handful of keys;
// the bound only stops a client that sends a new "key" per request from
// growing memory without limit. Past it, the oldest values are forgotten
// (shapes still catch the well-known kinds).
const maxKnown = 4096

// secretHeaders are headers redacted whatever their name's words say
// (canonical names).
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// secretWords are the words of a header or query parameter name (split at
// '-', '_' and '.') that mark it as holding a credential. "tokens" is not
// among them: OpenAI's X-Ratelimit-Remaining-Tokens is a count.
var secretWords = map[string]bool{
	"auth": true, "authorization": true, "key": true, "apikey": true, "token": true, "secret": true,
	"password": true, "passwd": true, "pwd": true, "credential": true, "credentials": true, "signature": true,
	"sig": true, "session": true, "cookie": true, "jwt": true, "bearer": true,
}

// Redactor removes secrets by name, value and shape. Its methods are safe
// for concurrent use.
type Redactor struct {
	headers map[string]bool
	fields  map[string]bool

	mu    sync.RWMutex
	known []string
	repl  *strings.Replacer // of known; nil until built

	fieldRE *regexp.Regexp // finds fields in text that is not JSON; built on first use
}

// New returns a Redactor that also redacts the named headers and the named
// JSON fields (at any depth, case-insensitively; query parameters of those
// names too).
func New(headers, fields []string) *Redactor {
	r := &Redactor{headers: map[string]bool{}, fields: map[string]bool{}}
	for _, h := range append(slices.Clone(secretHeaders), headers...) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, f := range fields {
		r.fields[strings.ToLower(f)] = true
	}
	return r
}

// Learn adds credential values to scrub from everything this Redactor
// touches from now on. Values shorter than 8 bytes are ignored. For
// "Bearer <token>" (or any "<scheme> <value>") the value alone is learned
// too, and for "user:password" the password.
func (r *Redactor) Learn(values ...string) {
	var add []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		add = append(add, v)
		if _, tok, ok := strings.Cut(v, " "); ok {
			add = append(add, strings.TrimSpace(tok))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, v := range add {
		if len(v) < minSecret || v == Redacted || slices.Contains(r.known, v) {
			continue
		}
		r.known = append(r.known, v)
		changed = true
	}
	if len(r.known) > maxKnown {
		r.known = slices.Clone(r.known[len(r.known)-maxKnown:])
	}
	if changed {
		r.repl = nil
	}
}

// replacer returns a replacer of every learned value, or nil when none.
func (r *Redactor) replacer() *strings.Replacer {
	r.mu.RLock()
	rp, n := r.repl, len(r.known)
	r.mu.RUnlock()
	if rp != nil || n == 0 {
		return rp
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repl == nil {
		// Longest first, so a value that contains another is replaced
		// whole.
		ks := slices.Clone(r.known)
		slices.SortFunc(ks, func(a, b string) int { return len(b) - len(a) })
		pairs := make([]string, 0, 2*len(ks))
		for _, k := range ks {
			pairs = append(pairs, k, Redacted)
		}
		r.repl = strings.NewReplacer(pairs...)
	}
	return r.repl
}

// IsSecretHeader reports whether the header name k holds a credential:
// a configured or built-in name, or a name with a word such as key, token,
// auth, secret, password, signature or session (Helicone-Auth, api_key,
// X-Secret-Key, Token, X-Access-Key, X-Functions-Key).
func (r *Redactor) IsSecretHeader(k string) bool {
	if r.headers[http.CanonicalHeaderKey(k)] {
		return true
	}
	return secretName(k)
}

// IsSecretParam reports whether the query parameter (or form field) name
// k holds a credential: auth, key, token, sig, x-amz-signature, a
// configured field name, ...
func (r *Redactor) IsSecretParam(k string) bool {
	// "code" is an OAuth authorization code in a query; as a header word
	// it is usually a status.
	return r.fields[strings.ToLower(k)] || secretName(k) || strings.EqualFold(k, "code")
}

func secretName(k string) bool {
	l := strings.ToLower(k)
	for _, w := range strings.FieldsFunc(l, func(c rune) bool { return c == '-' || c == '_' || c == '.' }) {
		if secretWords[w] {
			return true
		}
	}
	// Run-together names: apikey, accesstoken, xapikey, clientsecret.
	for _, w := range []string{"apikey", "accesstoken", "authtoken", "secret", "password", "credential", "signature"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// Header returns a copy of h with credential headers replaced by REDACTED
// (their values learned), and every other value scrubbed of known secrets
// and secret shapes (an upstream that echoes the key in a header).
func (r *Redactor) Header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		if r.IsSecretHeader(k) {
			r.Learn(vs...)
		}
	}
	for k, vs := range h {
		red := make([]string, len(vs))
		for i, v := range vs {
			if r.IsSecretHeader(k) {
				red[i] = Redacted
			} else {
				red[i] = r.String(v)
			}
		}
		out[k] = red
	}
	return out
}

// LearnHeader learns the credential values in h without copying it.
func (r *Redactor) LearnHeader(h http.Header) {
	for k, vs := range h {
		if r.IsSecretHeader(k) {
			r.Learn(vs...)
		}
	}
}

// Query returns the raw query q with credential parameters replaced by
// REDACTED (their values learned). A query that does not parse is replaced
// whole: keeping nothing is safer than keeping a key.
func (r *Redactor) Query(q string) string {
	if q == "" {
		return ""
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return Redacted
	}
	changed := false
	for k, vs := range vals {
		if r.IsSecretParam(k) {
			r.Learn(vs...)
			for i := range vs {
				vs[i] = Redacted
			}
			changed = true
		}
	}
	if !changed {
		return r.String(q)
	}
	return r.String(vals.Encode())
}

// URL returns raw with its password (user:pass@) and credential query
// parameters redacted, learning them. Use it for an upstream URL before it
// is printed or written.
func (r *Redactor) URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return r.String(raw)
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			r.Learn(p)
			u.User = url.UserPassword(u.User.Username(), Redacted)
		} else {
			// A lone user name in a URL is usually a token
			// (https://TOKEN@host).
			r.Learn(u.User.Username())
			u.User = url.User(Redacted)
		}
	}
	u.RawQuery = r.Query(u.RawQuery)
	return r.String(u.String())
}

// JSON redacts the configured fields of a JSON body (at any depth, the
// body may start with whitespace) and then scrubs it (see Bytes). A body
// that is not JSON is only scrubbed.
func (r *Redactor) JSON(b []byte) []byte {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(r.fields) > 0 && len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var v any
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		switch {
		case dec.Decode(&v) != nil || dec.More():
			// Cut short or not quite JSON: the fields are still found
			// where their values are strings.
			b = r.fieldsInText(b)
		case r.walk(v):
			if nb, err := marshalNoEscape(v); err == nil {
				b = nb
			}
		}
	}
	return r.Bytes(b)
}

// fieldsInText replaces the string values of the configured fields in
// text that does not parse as JSON, learning them.
func (r *Redactor) fieldsInText(b []byte) []byte {
	r.mu.Lock()
	if r.fieldRE == nil {
		names := make([]string, 0, len(r.fields))
		for f := range r.fields {
			names = append(names, regexp.QuoteMeta(f))
		}
		slices.Sort(names)
		r.fieldRE = regexp.MustCompile(`(?i)("(?:` + strings.Join(names, "|") + `)"\s*:\s*)"((?:[^"\\]|\\.)*)"?`)
	}
	re := r.fieldRE
	r.mu.Unlock()
	for _, m := range re.FindAllSubmatch(b, -1) {
		r.Learn(string(m[2]))
	}
	return re.ReplaceAll(b, []byte(`${1}"`+Redacted+`"`))
}

func (r *Redactor) walk(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if r.fields[strings.ToLower(k)] {
				if s, ok := e.(string); ok {
					r.Learn(s)
				}
				x[k] = Redacted
				changed = true
				continue
			}
			changed = r.walk(e) || changed
		}
	case []any:
		for _, e := range x {
			changed = r.walk(e) || changed
		}
	}
	return changed
}

// Bytes replaces every learned value and every secret shape in b.
func (r *Redactor) Bytes(b []byte) []byte {
	if rp := r.replacer(); rp != nil {
		s := string(b)
		if t := rp.Replace(s); t != s {
			b = []byte(t)
		}
	}
	return Shapes(b)
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string {
	if rp := r.replacer(); rp != nil {
		s = rp.Replace(s)
	}
	return ShapesString(s)
}

// shapes are well-known kinds of credentials, recognised wherever they
// appear. Each starts with a fixed prefix that a quick byte search finds
// before the expression runs, so bodies without one cost one scan each.
var shapes = []struct {
	prefixes []string
	re       *regexp.Regexp
}{
	// OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-...),
	// DeepSeek and most "sk-" providers.
	{[]string{"sk-"}, regexp.MustCompile(`\bsk-[A-Za-z0-9_\-]{16,}`)},
	// Stripe live and test keys.
	{[]string{"_live_"}, regexp.MustCompile(`\b[rsp]k_live_[A-Za-z0-9]{16,}`)},
	{[]string{"_test_"}, regexp.MustCompile(`\b[rsp]k_test_[A-Za-z0-9]{16,}`)},
	// AWS access key ids.
	{[]string{"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"}, regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b`)},
	// Google API keys.
	{[]string{"AIza"}, regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}`)},
	// GitHub tokens.
	{[]string{"gh", "github_pat_"}, regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`)},
	// GitLab, Hugging Face, Slack, Groq, xAI, Replicate, Perplexity.
	{[]string{"glpat-"}, regexp.MustCompile(`\bglpat-[A-Za-z0-9_\-]{20,}`)},
	{[]string{"hf_"}, regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
	{[]string{"xox"}, regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9\-]{10,}`)},
	{[]string{"gsk_"}, regexp.MustCompile(`\bgsk_[A-Za-z0-9]{20,}`)},
	{[]string{"xai-"}, regexp.MustCompile(`\bxai-[A-Za-z0-9]{20,}`)},
	{[]string{"r8_"}, regexp.MustCompile(`\br8_[A-Za-z0-9]{20,}`)},
	{[]string{"pplx-"}, regexp.MustCompile(`\bpplx-[A-Za-z0-9]{20,}`)},
	// JSON Web Tokens (bearer tokens, session cookies).
	{[]string{"eyJ"}, regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}`)},
	// PEM private keys, with real or JSON-escaped newlines.
	{[]string{"PRIVATE KEY-----"}, regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`)},
}

// Shapes replaces every secret-shaped substring of b (see the package
// doc) with REDACTED. It needs no configuration, so readers can apply it
// to what they compare with a recording.
func Shapes(b []byte) []byte {
	for _, s := range shapes {
		for _, p := range s.prefixes {
			if bytes.Contains(b, []byte(p)) {
				b = s.re.ReplaceAllLiteral(b, []byte(Redacted))
				break
			}
		}
	}
	return b
}

// ShapesString is Shapes for a string.
func ShapesString(s string) string {
	for _, sh := range shapes {
		for _, p := range sh.prefixes {
			if strings.Contains(s, p) {
				s = sh.re.ReplaceAllLiteralString(s, Redacted)
				break
			}
		}
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
