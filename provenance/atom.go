package provenance

import (
	"strconv"
	"strings"
)

// Kind says what sort of value an Atom is.
type Kind string

// The kinds of atom. Money, percentages, plain numbers and digit-only
// identifiers all compare as numbers (see Atom.Key), so "$54.04" in a message
// matches "price": 54.04 in a tool result.
const (
	KindNumber  Kind = "number"  // 42, 1,234.5, 3.0 kg
	KindMoney   Kind = "money"   // $54.04, 54.04 USD, €12
	KindPercent Kind = "percent" // 15%
	KindDate    Kind = "date"    // 2024-05-20, May 20, 20/05/2024, tomorrow (with a clock)
	KindTime    Kind = "time"    // 15:00, 3 pm, 06:00:00
	KindID      Kind = "id"      // #W2378156, ZFA04Y, credit_card_9513926, 4202497723
	KindEmail   Kind = "email"   // mia.li3818@example.com
	KindPhone   Kind = "phone"   // (555) 123-4567, 555-123-4567
	KindURL     Kind = "url"     // https://example.com/a
	KindPath    Kind = "path"    // /etc/hosts, astropy/modeling/separable.py
	KindQuoted  Kind = "quoted"  // "Street Address" (the text between quotes)
	KindSuffix  Kind = "suffix"  // "ending in 2478": a partial reference to a longer value
)

// Atom is one value found in a text or in tool-call arguments.
//
// Norm is the normalised form that comparisons use: lower case; no leading
// "#"; no separators inside identifiers ("credit_card_95" and "creditcard95"
// are the same id); numbers without thousands separators, currency or
// trailing zeros ("$1,234.50" → "1234.5"); dates as YYYY-MM-DD, or MM-DD when
// the text gave no year; times as HH:MM on a 24-hour clock; phone numbers as
// their digits.
type Atom struct {
	// Raw is the text as written.
	Raw string `json:"raw"`
	// Norm is the normalised form.
	Norm string `json:"norm"`
	// Alt is a second reading of an ambiguous form ("03/04/2024" is March 4
	// in Norm and April 3 in Alt), or "".
	Alt string `json:"alt,omitempty"`
	// Kind says what the value is.
	Kind Kind `json:"kind"`
	// Path is the JSON path of the argument the atom came from ("order_id",
	// "payment_methods[0].amount"); "" for atoms of plain text.
	Path string `json:"path,omitempty"`
	// Start and End are byte offsets of Raw in the text (for arguments, in
	// the string value at Path).
	Start int `json:"start"`
	End   int `json:"end"`
	// Prose is true when the atom sits in free text (a message, a summary,
	// a shell command) rather than being a structured value of its own.
	Prose bool `json:"prose,omitempty"`
	// InCode is true when the atom sits inside Markdown code (a ``` fence
	// or `inline` code), where numbers are usually code, not claims.
	InCode bool `json:"in_code,omitempty"`
}

// family groups kinds that compare with each other.
func (a Atom) family() byte {
	switch a.Kind {
	case KindNumber, KindMoney, KindPercent:
		return 'n'
	case KindID:
		if isDigits(a.Norm) {
			return 'n'
		}
		return 'i'
	case KindDate:
		if len(a.Norm) == 5 { // MM-DD
			return 'm'
		}
		return 'd'
	case KindTime:
		return 't'
	case KindEmail:
		return 'e'
	case KindPhone:
		return 'p'
	case KindURL:
		return 'u'
	case KindPath:
		return 'f'
	case KindQuoted:
		return 'q'
	case KindSuffix:
		return 's'
	}
	return '?'
}

// Key identifies the value across kinds that compare equal: a money amount
// and a plain number with the same Norm share a key, as do a digit-only id
// and the same number. Analysis methods take keys.
func (a Atom) Key() string { return string(a.family()) + ":" + a.Norm }

func keyOf(fam byte, norm string) string { return string(fam) + ":" + norm }

// Weak reports whether the atom is too common to mean anything on its own:
// small integers (list numbers, counts, days of the month), years, version
// numbers, quoted text, and numbers inside code. Weak atoms are indexed and classified like
// any other, but detectors do not report them: "2" in "2 passengers" or
// "2024" in a sentence is not evidence of anything.
func (a Atom) Weak() bool {
	if a.InCode || a.Kind == KindQuoted {
		return true
	}
	if a.Kind != KindNumber && a.Kind != KindPercent {
		return false
	}
	if n := strings.Count(a.Norm, "."); n > 1 {
		return true // a version number (1.2.3) names code, not a quantity
	} else if n == 1 {
		return false
	}
	n, err := strconv.Atoi(a.Norm)
	if err != nil {
		return false
	}
	if n <= 31 {
		return true
	}
	if a.Kind == KindPercent {
		return n == 100
	}
	return n >= 1900 && n <= 2100
}

// Significant reports whether a value this kind carries meaning by itself in
// a claim: identifiers, money, dates, contact details and numbers that are
// not Weak.
func (a Atom) Significant() bool { return !a.Weak() && a.Kind != KindPath && a.Kind != KindURL }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
