package blindinject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// A leaf is a string value inside tool-call arguments.
type leaf struct {
	key   string // the nearest object key ("order_id", "item_ids")
	value string
}

// stringLeaves returns the string values of a JSON document in document
// order, each with its nearest key.
func stringLeaves(raw json.RawMessage) []leaf {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	var out []leaf
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(k, x[k])
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			out = append(out, leaf{key, x})
		}
	}
	walk("", v)
	return out
}

// sortedKeys returns the keys of m sorted, so walks are deterministic.
func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var (
	dateLike  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	timeLike  = regexp.MustCompile(`^\d{1,2}:\d{2}`)
	idShape   = regexp.MustCompile(`^#?[A-Za-z_]*[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*$`)
	codeShape = regexp.MustCompile(`^[A-Z0-9]{5,8}$`)
)

// isID reports whether a value under key looks like an identifier a tool
// would look a record up by: an order, item, user, payment or reservation id,
// a flight number. Dates, amounts, names and prose are not ids.
func isID(key, v string) bool {
	if len(v) < 5 || len(v) > 40 || strings.ContainsAny(v, " \n\t") {
		return false
	}
	if dateLike.MatchString(v) || timeLike.MatchString(v) {
		return false
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil && strings.Contains(v, ".") {
		return false
	}
	k := strings.ToLower(key)
	keyed := strings.HasSuffix(k, "id") || strings.HasSuffix(k, "ids") || strings.HasSuffix(k, "number") ||
		strings.HasSuffix(k, "_no") || strings.HasSuffix(k, "code")
	if idShape.MatchString(v) && (keyed || strings.ContainsAny(v, "0123456789")) {
		return true
	}
	return keyed && codeShape.MatchString(v)
}

// Near-miss mutations: the ways a model, a person or an OCR step gets an id
// almost right.

// mutation changes an id into a plausible wrong one; ok is false when it
// does not apply to that id.
type mutation struct {
	name string
	f    func(r *rand.Rand, id string) (string, bool)
}

// digits returns the byte positions of the ASCII digits of s.
func digits(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			out = append(out, i)
		}
	}
	return out
}

// digitSlip changes one digit by one, as a finger slips on a keypad.
func digitSlip(r *rand.Rand, id string) (string, bool) {
	ds := digits(id)
	if len(ds) == 0 {
		return "", false
	}
	i := pick(r, ds)
	d := id[i] - '0'
	if r.IntN(2) == 0 {
		d = (d + 1) % 10
	} else {
		d = (d + 9) % 10
	}
	return id[:i] + string('0'+d) + id[i+1:], true
}

// transpose swaps two adjacent, different characters of the id's body.
func transpose(r *rand.Rand, id string) (string, bool) {
	var cands []int
	for i := 0; i+1 < len(id); i++ {
		a, b := id[i], id[i+1]
		if a != b && (isDigit(a) && isDigit(b) || isUpper(a) && isUpper(b)) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	i := pick(r, cands)
	b := []byte(id)
	b[i], b[i+1] = b[i+1], b[i]
	return string(b), true
}

// dropOrDouble drops one digit or writes one twice: the length is wrong.
func dropOrDouble(r *rand.Rand, id string) (string, bool) {
	ds := digits(id)
	if len(ds) < 3 {
		return "", false
	}
	i := pick(r, ds)
	if r.IntN(2) == 0 {
		return id[:i] + id[i+1:], true
	}
	return id[:i] + id[i:i+1] + id[i:], true
}

// lookalikes are characters models and OCR confuse.
var lookalikes = map[byte]byte{'0': 'O', 'O': '0', '1': 'I', 'I': '1', '5': 'S', 'S': '5', '8': 'B', 'B': '8', '2': 'Z', 'Z': '2', '6': 'G', 'G': '6'}

// lookalike swaps one character for one that looks the same, in ids that mix
// letters and digits (reservation codes, flight numbers) where both are
// plausible.
func lookalike(r *rand.Rand, id string) (string, bool) {
	letters, nums := 0, 0
	var cands []int
	for i := 0; i < len(id); i++ {
		if isUpper(id[i]) {
			letters++
		}
		if isDigit(id[i]) {
			nums++
		}
		if _, ok := lookalikes[id[i]]; ok {
			cands = append(cands, i)
		}
	}
	if letters == 0 || nums == 0 || len(cands) == 0 {
		return "", false
	}
	i := pick(r, cands)
	return id[:i] + string(lookalikes[id[i]]) + id[i+1:], true
}

// sameShape writes a fresh id of the same shape: every digit redrawn, the
// prefix kept. It belongs to no record the agent saw: an id made up.
func sameShape(r *rand.Rand, id string) (string, bool) {
	ds := digits(id)
	if len(ds) < 3 {
		return "", false
	}
	b := []byte(id)
	for _, i := range ds {
		b[i] = byte('0' + r.IntN(10))
	}
	if ds[0] < len(b) && b[ds[0]] == '0' && ds[0] > 0 && !isDigit(b[ds[0]-1]) {
		b[ds[0]] = byte('1' + r.IntN(9))
	}
	return string(b), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || c >= 'a' && c <= 'z' }

// shapeOf abstracts an id to its shape: letters stay, digits become 9, so
// "#W2378156" and "#W9021837" share a shape and "credit_card_9513926" does
// not share one with "gift_card_8887175".
func shapeOf(id string) string {
	b := []byte(id)
	for i, c := range b {
		if isDigit(c) {
			b[i] = '9'
		}
	}
	if codeShape.MatchString(id) {
		return fmt.Sprintf("code%d", len(id))
	}
	return string(b)
}

// Text edits.

// wordBoundary reports whether the byte at i of s is not part of an
// identifier-like word.
func wordBoundary(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	c := s[i]
	return !(isAlnum(c) || c == '_')
}

// findAll returns the byte offsets of whole-token occurrences of v in s.
func findAll(s, v string) []int {
	var out []int
	if v == "" {
		return nil
	}
	for from := 0; ; {
		k := strings.Index(s[from:], v)
		if k < 0 {
			return out
		}
		k += from
		if wordBoundary(s, k-1) && wordBoundary(s, k+len(v)) {
			out = append(out, k)
		}
		from = k + len(v)
	}
}

// replaceToken replaces every whole-token occurrence of old in s; for an id
// written with a leading '#', the bare form is replaced too, since agents
// drop the '#'.
func replaceToken(s, old, repl string) (string, int) {
	n := 0
	forms := [][2]string{{old, repl}}
	if strings.HasPrefix(old, "#") && strings.HasPrefix(repl, "#") {
		forms = append(forms, [2]string{old[1:], repl[1:]})
	}
	for _, f := range forms {
		offs := findAll(s, f[0])
		for i := len(offs) - 1; i >= 0; i-- {
			k := offs[i]
			if f[0] == forms[0][0] || k == 0 || s[k-1] != '#' {
				s = s[:k] + f[1] + s[k+len(f[0]):]
				n++
			}
		}
	}
	return s, n
}

// containsToken reports whether v occurs in s as a whole token.
func containsToken(s, v string) bool { return len(findAll(s, v)) > 0 }

// replaceJSONString replaces the string value old by repl wherever it is a
// whole JSON string in raw.
func replaceJSONString(raw json.RawMessage, old, repl string) (json.RawMessage, bool) {
	o, r := jsonString(old), jsonString(repl)
	if !bytes.Contains(raw, o) {
		return raw, false
	}
	return bytes.ReplaceAll(raw, o, r), true
}

// jsonString encodes s as a JSON string without HTML escaping, as Python's
// json.dumps and most tools write it.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// obj writes a JSON object with its keys in the order given, in the
// `{"k": v, "k2": v2}` spacing Python's json.dumps uses (the τ-bench style).
func obj(kv ...any) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Write(jsonString(kv[i].(string)))
		b.WriteString(": ")
		b.Write(encodeValue(kv[i+1]))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func encodeValue(v any) []byte {
	switch x := v.(type) {
	case json.RawMessage:
		return x
	case string:
		return jsonString(x)
	case []string:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Write(jsonString(s))
		}
		b.WriteByte(']')
		return b.Bytes()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// insertField adds "key": value as the last member of the first JSON object
// in doc (the top-level object, or the first element of a top-level list),
// keeping the rest of the bytes as they were. ok is false when doc is not a
// JSON object or list of objects.
func insertField(doc, key string, value []byte) (string, bool) {
	t := strings.TrimSpace(doc)
	if !json.Valid([]byte(t)) || t == "" {
		return "", false
	}
	end := -1
	switch t[0] {
	case '{':
		end = len(t) - 1
	case '[':
		end = closingBrace(t)
	}
	if end < 0 || t[end] != '}' {
		return "", false
	}
	sep := ", "
	if strings.TrimSpace(t[:end])[len(strings.TrimSpace(t[:end]))-1] == '{' {
		sep = ""
	}
	out := t[:end] + sep + string(jsonString(key)) + ": " + string(value) + t[end:]
	if !json.Valid([]byte(out)) {
		return "", false
	}
	return out, true
}

// closingBrace returns the index of the '}' closing the first object in a
// JSON list, or -1.
func closingBrace(t string) int {
	depth, inStr, esc, started := 0, false, false, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			depth++
			started = true
		case '}':
			depth--
			if started && depth == 0 {
				return i
			}
		}
	}
	return -1
}

// stringFields returns the (key, value) pairs of the string members at any
// depth of a JSON document, in sorted key order per object.
func stringFields(doc string) []leaf {
	return stringLeaves(json.RawMessage(doc))
}

// replaceJSONStringValue replaces the first occurrence of the JSON string
// "old" in doc by a string value repl (encoded), keeping other bytes.
func replaceJSONStringValue(doc, old, repl string) (string, bool) {
	o := string(jsonString(old))
	k := strings.Index(doc, o)
	if k < 0 {
		return "", false
	}
	out := doc[:k] + string(jsonString(repl)) + doc[k+len(o):]
	return out, json.Valid([]byte(out)) || !json.Valid([]byte(doc))
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// asciiLower lower-cases ASCII letters only, so byte offsets into the result
// are offsets into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if isUpper(c) {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
