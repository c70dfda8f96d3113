// Package match decides whether two model API requests are the same
// question, and if not, where they first differ. Replay matches requests
// with it; repro uses it to find where failing runs depart from passing
// ones. It is kept apart from the proxy so it can be fuzzed on its own.
package match

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// VolatileFields are top-level request body fields that differ between two
// runs of the same agent without changing what it asks the model (client
// ids, tracing metadata, streaming bookkeeping), so replay ignores them.
var VolatileFields = []string{"stream_options", "user", "metadata", "request_id", "idempotency_key",
	"prompt_cache_key", "safety_identifier", "store"}

// ClockFields are fields, at any depth, that hold clock readings or
// generated trace ids (tracing exports carry them in every request); they
// change on every run, so replay ignores them.
var ClockFields = []string{"created_at", "started_at", "ended_at", "timestamp", "trace_id", "span_id"}

// Normalize returns the canonical form of a request that replay matches
// on: method, path, query without credentials, and
// the body (decoded JSON when it is JSON) without volatile fields and
// without the fields in ignore. Headers are not part of it: they carry
// SDK versions, retry counts and credentials, never the question.
func Normalize(method, path, query string, body []byte, ignore []string) map[string]any {
	n := map[string]any{"method": strings.ToUpper(method), "path": path}
	if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
		qm := map[string]any{}
		for k, vs := range q {
			lk := strings.ToLower(k)
			if slices.Contains(CredentialQuery, lk) || slices.Contains(ignore, lk) {
				continue
			}
			qm[k] = strings.Join(vs, ",")
		}
		if len(qm) > 0 {
			n["query"] = qm
		}
	} else if err != nil {
		n["query"] = query
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return n
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		n["body"] = string(body)
		return n
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range VolatileFields {
			delete(m, k)
		}
		for _, k := range ClockFields {
			dropField(m, k)
		}
		for _, k := range ignore {
			dropField(m, k)
		}
	}
	n["body"] = v
	return n
}

// dropField deletes key k at any depth: fields configured for redaction
// are REDACTED in the recording but real in the request.
func dropField(v any, k string) {
	switch x := v.(type) {
	case map[string]any:
		for key, e := range x {
			if strings.EqualFold(key, k) {
				delete(x, key)
				continue
			}
			dropField(e, k)
		}
	case []any:
		for _, e := range x {
			dropField(e, k)
		}
	}
}

// CredentialQuery are query parameters that carry credentials (Google's
// ?key=...); they never take part in matching, as recordings redact them.
var CredentialQuery = []string{"key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature", "code"}

// Key is a normalised request as a string; equal requests have equal keys
// because encoding/json sorts map keys.
func Key(n map[string]any) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Missing stands for an absent field or element in a divergence.
const Missing = "<absent>"

// Diverge returns the first point where received differs from recorded,
// walking both in document order (method, path, query, then the body with
// model first and the other keys sorted); ok is false when they are equal.
func Diverge(recorded, received any) (path string, rec, got any, ok bool) {
	return diverge("$", recorded, received)
}

func diverge(path string, a, b any) (string, any, any, bool) {
	switch x := a.(type) {
	case map[string]any:
		y, isMap := b.(map[string]any)
		if !isMap {
			return path, a, b, true
		}
		for _, k := range orderedKeys(x, y) {
			va, ina := x[k]
			vb, inb := y[k]
			p := path + "." + k
			if strings.ContainsAny(k, ".[]$ ") {
				p = path + "[" + strconv.Quote(k) + "]"
			}
			switch {
			case !ina:
				return p, Missing, vb, true
			case !inb:
				return p, va, Missing, true
			}
			if p, ra, rb, d := diverge(p, va, vb); d {
				return p, ra, rb, true
			}
		}
		return "", nil, nil, false
	case []any:
		y, isArr := b.([]any)
		if !isArr {
			return path, a, b, true
		}
		for i := 0; i < min(len(x), len(y)); i++ {
			if p, ra, rb, d := diverge(fmt.Sprintf("%s[%d]", path, i), x[i], y[i]); d {
				return p, ra, rb, true
			}
		}
		switch {
		case len(x) > len(y):
			return fmt.Sprintf("%s[%d]", path, len(y)), x[len(y)], Missing, true
		case len(y) > len(x):
			return fmt.Sprintf("%s[%d]", path, len(x)), Missing, y[len(x)], true
		}
		return "", nil, nil, false
	}
	if !scalarEqual(a, b) {
		return path, a, b, true
	}
	return "", nil, nil, false
}

func scalarEqual(a, b any) bool {
	if _, ok := b.(map[string]any); ok {
		return false
	}
	if _, ok := b.([]any); ok {
		return false
	}
	return a == b
}

// orderedKeys lists the union of both maps' keys: the fields that decide
// the most first, then the rest sorted.
func orderedKeys(x, y map[string]any) []string {
	first := []string{"method", "path", "query", "model", "system", "instructions", "messages", "input"}
	seen := map[string]bool{}
	var rest []string
	for _, m := range []map[string]any{x, y} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				if !slices.Contains(first, k) {
					rest = append(rest, k)
				}
			}
		}
	}
	sort.Strings(rest)
	var out []string
	for _, k := range first {
		if seen[k] {
			out = append(out, k)
		}
	}
	return append(out, rest...)
}

// MessageIndex extracts N from a path starting $.body.messages[N] or
// $.body.input[N], the message a difference is in.
func MessageIndex(path string) *int {
	for _, p := range []string{"$.body.messages[", "$.body.input["} {
		if rest, ok := strings.CutPrefix(path, p); ok {
			if i := strings.IndexByte(rest, ']'); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					return &n
				}
			}
		}
	}
	return nil
}

// Clip shortens long values so a divergence report stays readable.
func Clip(v any) any {
	const limit = 2000
	switch x := v.(type) {
	case string:
		if len(x) > limit {
			return x[:limit] + "…"
		}
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		if len(b) > limit {
			return string(b[:limit]) + "…"
		}
	}
	return v
}

// Quote renders v as JSON cut to about limit bytes (at a rune boundary,
// with "…" when cut): how replay and repro quote the values at which two
// requests or runs differ.
func Quote(v any, limit int) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit] + "…"
}
