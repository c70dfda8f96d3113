package provenance

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ExtractArgs returns the atoms of a tool call's JSON arguments, each with
// the JSON path of its value ("order_id", "item_ids[1]",
// "payment_methods[0].amount"), in a stable order (object keys sorted).
//
// A string value is one atom when its key names an identifier (order_id,
// item_ids, payment_method_id, zip, ...) or when the whole string is a single
// value (a date, an email, an id); such atoms are structured (Prose false).
// Other strings are free text (a summary, a shell command) and yield the
// atoms Extract finds in them, marked Prose. A number is money when its key
// says so (amount, price, total, refund, ...), an id when its key names one,
// else a number. Arguments that are not valid JSON yield the atoms of their
// text, as prose. Booleans and nulls carry no atoms.
func ExtractArgs(args json.RawMessage) []Atom { return ExtractArgsAt(args, time.Time{}) }

// ExtractArgsAt is ExtractArgs with a clock for relative dates in free text.
func ExtractArgsAt(args json.RawMessage, clock time.Time) []Atom {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ExtractAt(string(args), clock)
	}
	w := argWalker{clock: clock}
	w.walk(v, "", "")
	return w.out
}

type argWalker struct {
	clock time.Time
	out   []Atom
}

func (w *argWalker) walk(v any, path, key string) {
	if len(w.out) >= MaxAtomsPerText {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := k
			if k == "" {
				name = `""` // an empty key still needs a visible path
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			w.walk(x[k], p, k)
		}
	case []any:
		for i, e := range x {
			w.walk(e, path+"["+strconv.Itoa(i)+"]", key)
		}
	case json.Number:
		w.number(string(x), path, key)
	case string:
		w.str(x, path, key)
	}
}

// idKey reports whether an argument key names an identifier: one of its
// words (split at _ - . and camelCase) is id, ids, zip, code, number,
// reference and the like.
func idKey(k string) bool {
	for _, w := range keyWords(k) {
		switch w {
		case "id", "ids", "zip", "zipcode", "postal", "code", "number", "no", "sku", "account", "iban",
			"reference", "ref", "confirmation", "ticket", "tracking", "pnr", "uuid", "key":
			return true
		}
	}
	return false
}

// keyWords splits a JSON key into lower-case words.
func keyWords(k string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(k); i++ {
		if i == len(k) || k[i] == '_' || k[i] == '-' || k[i] == '.' || k[i] == ' ' ||
			(k[i] >= 'A' && k[i] <= 'Z' && i > start && k[i-1] >= 'a' && k[i-1] <= 'z') {
			if i > start {
				out = append(out, strings.ToLower(k[start:i]))
			}
			start = i
			if i < len(k) && !(k[i] >= 'A' && k[i] <= 'Z') {
				start = i + 1
			}
		}
	}
	return out
}

// moneyKey reports whether an argument key names an amount of money.
func moneyKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"bag", "count", "quantity", "qty", "num", "passenger", "item", "seat", "night",
		"day"} {
		if strings.Contains(k, s) {
			return false
		}
	}
	if idKey(k) {
		return false
	}
	for _, s := range []string{"amount", "price", "cost", "total", "fee", "refund", "balance", "charge",
		"payment", "fare", "paid", "due"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func (w *argWalker) number(raw, path, key string) {
	e, norm, ok := scanNumber(raw, 0)
	if !ok || e != len(raw) {
		// Negative, exponent or otherwise unusual: keep it verbatim.
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return
		}
		if f < 0 {
			f = -f
		}
		norm = canonFloat(f)
	}
	k := KindNumber
	switch {
	case idKey(key):
		k = KindID
	case moneyKey(key):
		k = KindMoney
	}
	w.out = append(w.out, Atom{Raw: raw, Norm: norm, Kind: k, Path: path, End: len(raw)})
}

func (w *argWalker) str(s, path, key string) {
	t := strings.TrimSpace(s)
	if t == "" {
		return
	}
	single := !strings.ContainsAny(t, " \t\n")
	if single && idKey(key) {
		a := Atom{Raw: s, Kind: KindID, Path: path, End: len(s)}
		switch {
		case strings.Contains(strings.ToLower(key), "phone"):
			a.Kind, a.Norm = KindPhone, normPhone(digitsOf(t))
		case strings.Contains(t, "@"):
			a.Kind, a.Norm = KindEmail, strings.ToLower(t)
		default:
			a.Norm = normID(t)
		}
		if a.Norm != "" {
			w.out = append(w.out, a)
		}
		return
	}
	atoms := ExtractAt(s, w.clock)
	code := codeKey(key)
	// A string that is exactly one value is a structured atom.
	if len(atoms) == 1 && strings.TrimSpace(s[:atoms[0].Start]) == "" && strings.TrimSpace(s[atoms[0].End:]) == "" &&
		atoms[0].Kind != KindQuoted {
		a := atoms[0]
		a.Path, a.Prose, a.InCode = path, false, false
		if a.Kind == KindNumber && moneyKey(key) {
			a.Kind = KindMoney
		}
		w.out = append(w.out, a)
		return
	}
	if single && !code {
		hasDate := false
		for _, a := range atoms {
			hasDate = hasDate || a.Kind == KindDate
		}
		switch {
		case hasDate:
			// "2024-05-15T15:00:00": a date and a time, both structured.
			for _, a := range atoms {
				a.Path, a.Prose, a.InCode = path, false, false
				w.out = append(w.out, a)
			}
			return
		case isYearMonth(t):
			// "2025-03": a month, which "this month" and the clock give;
			// month precision is not checked.
			return
		case len(digitsOf(t)) >= 4:
			// One token with digits that is no single value: a malformed
			// date ("2024-50-22"), a code. It is still one value passed on.
			w.out = append(w.out, Atom{Raw: s, Norm: normID(t), Kind: KindID, Path: path, End: len(s)})
			return
		}
	}
	for _, a := range atoms {
		a.Path = path
		a.InCode = a.InCode || code
		w.out = append(w.out, a)
	}
}

// codeKey reports whether an argument holds code or a command (a shell
// command, a script, file contents, a patch): its numbers are code, not
// claims, so its atoms are marked InCode.
func codeKey(k string) bool {
	switch strings.ToLower(k) {
	case "file_text", "old_str", "new_str", "old_string", "new_string":
		return true
	}
	for _, w := range keyWords(k) {
		switch w {
		case "command", "cmd", "code", "script", "patch", "diff", "content", "contents", "sql", "expression",
			"expr", "program", "regex", "pattern":
			return true
		}
	}
	return false
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// IDAtom returns the atom an identifier-keyed argument with value raw
// yields ("#W2378156" → id w2378156), so callers holding an id from
// elsewhere (a field of a tool result) can compare it by Key.
func IDAtom(raw string) Atom {
	t := strings.TrimSpace(raw)
	a := Atom{Raw: raw, Kind: KindID, End: len(raw), Norm: normID(t)}
	if strings.Contains(t, "@") {
		a.Kind, a.Norm = KindEmail, strings.ToLower(t)
	}
	return a
}

// isYearMonth reports whether t is a month written as YYYY-MM, YYYY/MM or
// MM/YYYY.
func isYearMonth(t string) bool {
	switch len(t) {
	case 7:
		if isDigits(t[:4]) && (t[4] == '-' || t[4] == '/') && isDigits(t[5:]) {
			return true
		}
		return isDigits(t[:2]) && t[2] == '/' && isDigits(t[3:])
	}
	return false
}
