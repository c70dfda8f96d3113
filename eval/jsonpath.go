package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// jsonPath is a compiled subset of JSONPath that covers what assertions and
// response mappings need: $ (the root), .key, ['key'], [n] (negative counts
// from the end) and [*] / .* (every element). A path with a wildcard selects
// a list.
type jsonPath struct {
	src   string
	steps []pathStep
	multi bool
}

type pathStep struct {
	key   string
	index int
	kind  byte // 'k' key, 'i' index, '*' wildcard
}

func parseJSONPath(s string) (*jsonPath, error) {
	p := &jsonPath{src: s}
	t := strings.TrimSpace(s)
	if t == "" || t == "$" {
		return p, nil
	}
	if t[0] == '$' {
		t = t[1:]
	} else if t[0] != '.' && t[0] != '[' {
		t = "." + t // "answer.id" is accepted as "$.answer.id"
	}
	for len(t) > 0 {
		switch t[0] {
		case '.':
			t = t[1:]
			if strings.HasPrefix(t, "*") {
				p.steps = append(p.steps, pathStep{kind: '*'})
				p.multi = true
				t = t[1:]
				continue
			}
			end := strings.IndexAny(t, ".[")
			if end < 0 {
				end = len(t)
			}
			if end == 0 {
				return nil, fmt.Errorf("empty key at %q", t)
			}
			p.steps = append(p.steps, pathStep{kind: 'k', key: t[:end]})
			t = t[end:]
		case '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				return nil, errors.New("unclosed [")
			}
			in := strings.TrimSpace(t[1:end])
			t = t[end+1:]
			switch {
			case in == "*":
				p.steps = append(p.steps, pathStep{kind: '*'})
				p.multi = true
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				p.steps = append(p.steps, pathStep{kind: 'k', key: in[1 : len(in)-1]})
			default:
				n, err := strconv.Atoi(in)
				if err != nil {
					return nil, fmt.Errorf("bad index %q", in)
				}
				p.steps = append(p.steps, pathStep{kind: 'i', index: n})
			}
		default:
			return nil, fmt.Errorf("unexpected %q", t[:1])
		}
	}
	return p, nil
}

func (p *jsonPath) String() string { return p.src }

// get returns the selected value and whether it exists. With a wildcard, the
// result is a list of every match (possibly empty).
func (p *jsonPath) get(v any) (any, bool) {
	cur := []any{v}
	for _, st := range p.steps {
		var next []any
		for _, x := range cur {
			switch st.kind {
			case 'k':
				if m, ok := x.(map[string]any); ok {
					if y, ok := m[st.key]; ok {
						next = append(next, y)
					}
				}
			case 'i':
				if l, ok := x.([]any); ok {
					i := st.index
					if i < 0 {
						i += len(l)
					}
					if i >= 0 && i < len(l) {
						next = append(next, l[i])
					}
				}
			case '*':
				switch c := x.(type) {
				case []any:
					next = append(next, c...)
				case map[string]any:
					for _, k := range sortedKeys(c) {
						next = append(next, c[k])
					}
				}
			}
		}
		cur = next
	}
	if p.multi {
		if cur == nil {
			cur = []any{}
		}
		return cur, true
	}
	if len(cur) == 0 {
		return nil, false
	}
	return cur[0], true
}

// decodeJSON decodes b into generic values (numbers as float64); empty input
// is nil.
func decodeJSON(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// normalize turns YAML-decoded values (ints, uint64, map[any]any) into the
// shapes encoding/json produces, so values from a suite compare equal to
// values from a target.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, y := range x {
			m[k] = normalize(y)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, y := range x {
			m[fmt.Sprint(k)] = normalize(y)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, y := range x {
			l[i] = normalize(y)
		}
		return l
	case []map[string]any:
		l := make([]any, len(x))
		for i, y := range x {
			l[i] = normalize(y)
		}
		return l
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return v
}

func marshalJSON(v any) ([]byte, error) { return json.Marshal(normalize(v)) }

// jsonEqual compares two generic JSON values; numbers compare as float64.
func jsonEqual(a, b any) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

// text renders v for string assertions: strings as themselves, everything
// else as compact JSON.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// number reads a number from a JSON number or a numeric string.
func number(v any) (float64, bool) {
	switch x := normalize(v).(type) {
	case float64:
		return x, !math.IsNaN(x)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// subsetMatch reports whether want is contained in got: every key of a want
// object must match in got, lists match element-wise with equal length, and
// scalars must be equal.
func subsetMatch(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !subsetMatch(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subsetMatch(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return jsonEqual(want, got)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
