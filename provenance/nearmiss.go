package provenance

import (
	"strings"
)

// nearEligible reports whether a value is long and specific enough for a
// one-edit difference to mean a corrupted copy rather than a different
// value: identifiers and numbers of five or more characters, amounts with
// four or more, dates, emails and phone numbers.
func nearEligible(a Atom) bool {
	switch a.Kind {
	case KindID:
		return len(a.Norm) >= 5
	case KindMoney:
		return len(a.Norm) >= 3
	case KindNumber:
		// Short decimals ("2.3" and "2.1") and versions ("1.0.7") differ by
		// a digit all the time.
		// Four-digit integers (line numbers, codes) qualify: a swapped
		// pair in "1963" is as much a corrupted copy as in an order id.
		return len(a.Norm) >= 5 && strings.Count(a.Norm, ".") <= 1 || len(a.Norm) == 4 && isDigits(a.Norm)
	case KindEmail, KindPhone:
		return len(a.Norm) >= 6
	}
	return false
}

// nearMiss looks up visible values one edit away from a.
func (x *Index) nearMiss(a Atom, actor string, slot int) (Result, bool) {
	if !nearEligible(a) {
		return Result{}, false
	}
	k := a.Key()
	if len(k) > 66 {
		return Result{}, false
	}
	// Sources are probed with every one-edit variant of k rather than kept
	// in a deletion index: queries are rare (only unsupported values), so
	// the cost is paid per question, not per source value. A variant costs
	// one map probe; m[string(b)] does not allocate.
	try := func(cand []byte) (Result, bool) {
		e := x.entries[string(cand)]
		if e == nil {
			return Result{}, false
		}
		at, ok := x.visible(e, actor, slot)
		if !ok {
			return Result{}, false
		}
		if !nearEligible(x.steps[at.step].atoms[at.atom]) && !(a.family() == 'n' && len(cand) >= 5) {
			return Result{}, false
		}
		note, ok := oneEdit(k[2:], string(cand[2:]))
		if !ok {
			return Result{}, false
		}
		return Result{Atom: a, Class: NearMiss, Source: x.source(at), Note: note}, true
	}
	alphabet := func(c byte) string {
		switch {
		case isDigit(c):
			return "0123456789"
		case a.family() == 'n':
			return ""
		case isAlpha(c):
			return "abcdefghijklmnopqrstuvwxyz"
		}
		return ""
	}
	buf := []byte(k)
	// A changed character.
	for p := 2; p < len(k); p++ {
		orig := buf[p]
		for _, c := range []byte(alphabet(orig)) {
			if c == orig {
				continue
			}
			buf[p] = c
			if r, ok := try(buf); ok {
				return r, true
			}
		}
		buf[p] = orig
	}
	// Two adjacent characters swapped.
	for p := 2; p+1 < len(k); p++ {
		if buf[p] == buf[p+1] {
			continue
		}
		buf[p], buf[p+1] = buf[p+1], buf[p]
		r, ok := try(buf)
		buf[p], buf[p+1] = buf[p+1], buf[p]
		if ok {
			return r, true
		}
	}
	// A dropped or added character: only for long values, since in a short
	// one ("247" and "24") it makes a different number, not a corrupted copy.
	if len(a.Norm) < 7 {
		return Result{}, false
	}
	short := make([]byte, 0, len(k))
	for p := 2; p < len(k); p++ {
		short = append(append(short[:0], k[:p]...), k[p+1:]...)
		if r, ok := try(short); ok {
			return r, true
		}
	}
	long := make([]byte, len(k)+1)
	for p := 2; p <= len(k); p++ {
		copy(long, k[:p])
		copy(long[p+1:], k[p:])
		set := "0123456789"
		if a.family() != 'n' {
			set = "0123456789abcdefghijklmnopqrstuvwxyz"
		}
		for _, c := range []byte(set) {
			long[p] = c
			if r, ok := try(long); ok {
				return r, true
			}
		}
	}
	return Result{}, false
}

// oneEdit reports whether a and b differ by exactly one substitution,
// insertion, deletion or adjacent transposition, and says which.
func oneEdit(a, b string) (string, bool) {
	if a == b {
		return "", false
	}
	kind := "character"
	switch {
	case len(a) == len(b):
		var diff []int
		for i := 0; i < len(a); i++ {
			if a[i] != b[i] {
				diff = append(diff, i)
				if len(diff) > 2 {
					return "", false
				}
			}
		}
		if isDigit(a[diff[0]]) && isDigit(b[diff[0]]) {
			kind = "digit"
		}
		if len(diff) == 1 {
			return "one " + kind + " changed: " + a + " vs " + b, true
		}
		if len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]] {
			return "two adjacent " + kind + "s swapped: " + a + " vs " + b, true
		}
	case len(a) == len(b)+1:
		if isDigits(strings.ReplaceAll(a, ".", "")) {
			kind = "digit"
		}
		if dropOne(a, b) {
			return "one extra " + kind + ": " + a + " vs " + b, true
		}
	case len(a)+1 == len(b):
		if isDigits(strings.ReplaceAll(b, ".", "")) {
			kind = "digit"
		}
		if dropOne(b, a) {
			return "one " + kind + " missing: " + a + " vs " + b, true
		}
	}
	return "", false
}

// dropOne reports whether deleting one byte of long gives short.
func dropOne(long, short string) bool {
	i := 0
	for i < len(short) && long[i] == short[i] {
		i++
	}
	return long[i+1:] == short[i:]
}
