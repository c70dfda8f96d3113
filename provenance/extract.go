package provenance

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxAtomsPerText bounds how many atoms one text yields, so a pathological
// step (a megabyte of digits) costs bounded memory; the rest of the text is
// not scanned.
const MaxAtomsPerText = 4096

// Extract returns the atoms of text in order of appearance. It is a
// hand-written scanner, linear in len(text), and never fails: text that is
// not a value is skipped. Relative dates ("tomorrow") need a clock: see
// ExtractAt.
func Extract(text string) []Atom { return ExtractAt(text, time.Time{}) }

// ExtractAt is Extract with a clock: "today", "tomorrow" and "yesterday"
// become dates relative to clock (ignored when clock is zero), and dates
// written without a year ("May 20") keep no year: they match any year.
func ExtractAt(text string, clock time.Time) []Atom {
	s := scanner{text: text, clock: clock}
	s.run()
	return s.out
}

// extractSource is ExtractAt for input steps: quoted strings are skipped,
// because in a tool result every JSON string is quoted and quoted atoms are
// never evidence of anything on their own (they are Weak).
func extractSource(text string, clock time.Time) []Atom {
	s := scanner{text: text, clock: clock, noQuoted: true}
	s.out = make([]Atom, 0, len(text)/48+1)
	s.run()
	return s.out
}

type scanner struct {
	text   string
	clock  time.Time
	out    []Atom
	inCode bool // inside a ``` fence
	inline int  // end offset of the current `inline code`, or 0

	noQuoted bool // skip quoted strings (see extractSource)
}

func isAlpha(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isAlnum(b byte) bool { return isAlpha(b) || isDigit(b) }
func isWordByte(b byte) bool {
	return isAlnum(b) || b == '_' || b >= utf8.RuneSelf
}

func (s *scanner) emit(a Atom) {
	if len(s.out) >= MaxAtomsPerText {
		return
	}
	a.Prose = true
	a.InCode = s.inCode || a.Start < s.inline
	if s.out == nil {
		// Sized as in extractSource at the first atom (a text without
		// atoms still yields nil): growing from empty copied the atoms
		// of every output step several times.
		s.out = make([]Atom, 0, len(s.text)/48+1)
	}
	s.out = append(s.out, a)
}

func (s *scanner) run() {
	t := s.text
	for i := 0; i < len(t) && len(s.out) < MaxAtomsPerText; {
		b := t[i]
		// Code fences toggle at line starts; inline code spans to the next
		// backtick on the same line.
		if b == '`' {
			if strings.HasPrefix(t[i:], "```") && (i == 0 || t[i-1] == '\n' || t[i-1] == ' ') {
				s.inCode = !s.inCode
				i += 3
				continue
			}
			if !s.inCode && i >= s.inline {
				if j := strings.IndexAny(t[i+1:], "`\n"); j >= 0 && t[i+1+j] == '`' {
					s.inline = i + 1 + j
				}
			}
			i++
			continue
		}
		prevWord := i > 0 && (isWordByte(t[i-1]) || t[i-1] == '.' && i > 1 && isDigit(t[i-2]))
		switch {
		case b == '"':
			s.quoted(i, '"', `"`)
			i++
		case b == '\'' && !(i > 0 && isAlnum(t[i-1])):
			s.quoted(i, '\'', "'")
			i++
		case b == 0xe2 && strings.HasPrefix(t[i:], "“"):
			s.quoted(i, 0, "”")
			i += len("“")
		case prevWord:
			i++
		case b == 'h' || b == 'H':
			if n := s.url(i); n > 0 {
				i += n
				continue
			}
			i = s.word(i)
		case isDigit(b):
			i = s.number(i, false, "")
		case b == '$' || b == '#' || b == '(' || b == '+' || b == '/' || b == '~' || b == '.' ||
			b == 0xe2 || b == 0xc2:
			i = s.symbol(i)
		case isAlpha(b) || b == '_':
			i = s.word(i)
		default:
			_, n := utf8.DecodeRuneInString(t[i:])
			i += n
		}
	}
}

// quoted emits the text between an opening quote at i (of byte width w) and
// the closing quote on the same line, when it is short enough to be a value
// and is not a JSON object key (followed by ':').
func (s *scanner) quoted(i int, open byte, closing string) {
	if s.noQuoted {
		return
	}
	t := s.text
	w := 1
	if open == 0 {
		w = len("“")
	}
	start := i + w
	lim := start + 120
	if lim > len(t) {
		lim = len(t)
	}
	rest := t[start:lim]
	j := strings.Index(rest, closing)
	if j <= 0 {
		return
	}
	inner := rest[:j]
	if strings.ContainsAny(inner, "\n\\") {
		return
	}
	after := start + j + len(closing)
	for after < len(t) && t[after] == ' ' {
		after++
	}
	if after < len(t) && t[after] == ':' {
		return
	}
	if open == '\'' && (start+j+1 < len(t) && isAlnum(t[start+j+1])) {
		return // an apostrophe, not a closing quote
	}
	norm := lowerFields(inner)
	if norm == "" || isDigits(norm) {
		return
	}
	s.emit(Atom{Raw: inner, Norm: norm, Kind: KindQuoted, Start: start, End: start + j})
}

// url scans an http(s) URL at i and returns its length, or 0.
func (s *scanner) url(i int) int {
	t := s.text[i:]
	if !(hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://")) {
		return 0
	}
	n := strings.IndexAny(t, " \t\n\r\"'<>()[]{}`|")
	if n < 0 {
		n = len(t)
	}
	for n > 0 && strings.IndexByte(".,;:!?*", t[n-1]) >= 0 {
		n--
	}
	raw := t[:n]
	if len(raw) <= len("https://") {
		return n
	}
	s.emit(Atom{Raw: raw, Norm: normURL(raw), Kind: KindURL, Start: i, End: i + n})
	return n
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

func normURL(raw string) string {
	u := strings.TrimRight(raw, "/")
	if k := strings.Index(u, "://"); k >= 0 {
		host := u[k+3:]
		rest := ""
		if j := strings.IndexByte(host, '/'); j >= 0 {
			host, rest = host[:j], host[j:]
		}
		u = strings.ToLower(u[:k+3]+host) + rest
	}
	return u
}

// wordEnd returns the end of the run of identifier bytes starting at i:
// letters, digits and _ - . @ + #, with trailing punctuation trimmed.
func (s *scanner) wordEnd(i int) int {
	t := s.text
	j := i
	for j < len(t) {
		b := t[j]
		if isAlnum(b) || b == '_' || b == '-' || b == '.' || b == '@' || b == '+' || b == '#' {
			j++
			continue
		}
		break
	}
	for j > i && strings.IndexByte(".-+@#", t[j-1]) >= 0 {
		j--
	}
	return j
}

// pathEnd returns the end of a file path starting at i, or i when there is
// none. A path has a slash and either starts at a root (/, ./, ../, ~/),
// has two or more slashes, or ends in a file extension; "and/or" and
// "20/05/2024" are not paths.
func (s *scanner) pathEnd(i int) int {
	t := s.text
	j := i
	slashes, letters := 0, 0
	for j < len(t) {
		b := t[j]
		if isAlnum(b) || b == '_' || b == '-' || b == '.' || b == '/' || b == '~' {
			if b == '/' {
				slashes++
			} else if isAlpha(b) {
				letters++
			}
			j++
			continue
		}
		break
	}
	for j > i && strings.IndexByte(".-", t[j-1]) >= 0 {
		j--
	}
	if slashes == 0 || letters == 0 {
		return i
	}
	p := t[i:j]
	rooted := p[0] == '/' || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "~/")
	last := p[strings.LastIndexByte(p, '/')+1:]
	ext := false
	if k := strings.LastIndexByte(last, '.'); k > 0 && k < len(last)-1 && isAlpha(last[k+1]) {
		ext = true
	}
	if rooted && len(p) > 1 || slashes >= 2 || ext {
		return j
	}
	return i
}

func normPath(p string) string {
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

// word handles a token that starts with a letter or underscore: a month
// name starting a date, a relative date, an email, a path, an identifier,
// or an ordinary word (skipped).
func (s *scanner) word(i int) int {
	t := s.text
	// Fast path: a plain word (letters up to a space or punctuation that
	// cannot continue an id, email or path) needs only the month, relative
	// day and booking-code checks. Most of any text is such words.
	j := i
	for j < len(t) && isAlpha(t[j]) {
		j++
	}
	if j == len(t) || !(isDigit(t[j]) || strings.IndexByte("_./@#-+~", t[j]) >= 0) ||
		t[j] == '.' && (j+1 == len(t) || t[j+1] == ' ' || t[j+1] == '\n' || t[j+1] == '"') {
		return s.plainWord(i, j)
	}
	if e := s.pathEnd(i); e > i {
		s.emit(Atom{Raw: t[i:e], Norm: normPath(t[i:e]), Kind: KindPath, Start: i, End: e})
		return e
	}
	j = s.wordEnd(i)
	if j == i {
		return i + 1
	}
	w := t[i:j]
	if at := strings.IndexByte(w, '@'); at > 0 && strings.IndexByte(w[at+1:], '.') > 0 && strings.IndexByte(w[at+1:], '@') < 0 {
		s.emit(Atom{Raw: w, Norm: strings.ToLower(w), Kind: KindEmail, Start: i, End: j})
		return j
	}
	letters := 0
	for k := 0; k < len(w); k++ {
		if isAlpha(w[k]) {
			letters++
		}
	}
	if letters == len(w) {
		return s.plainWord(i, j)
	}
	if s.idWord(i, j) {
		return j
	}
	return j
}

// plainWord handles a word of letters only at t[i:j]: a month name that
// starts a date, a relative day, a six-capital booking code, or nothing.
func (s *scanner) plainWord(i, j int) int {
	t := s.text
	w := t[i:j]
	if m := monthOf(w); m > 0 {
		if e, ok := s.monthDate(i, j, m); ok {
			return e
		}
	}
	if !s.clock.IsZero() && len(w) >= 5 && len(w) <= 9 {
		if d, ok := relativeDay(w); ok {
			day := s.clock.AddDate(0, 0, d)
			s.emit(Atom{Raw: w, Norm: day.Format("2006-01-02"), Kind: KindDate, Start: i, End: j})
			return j
		}
	}
	if len(w) == 6 && isUpperWord(w) && !commonCaps[w] && s.codeContext(i) {
		// Six capital letters: a booking reference such as HXDUBJ.
		s.emit(Atom{Raw: w, Norm: strings.ToLower(w), Kind: KindID, Start: i, End: j})
	}
	return j
}

// codeContext reports whether a word of capitals at i reads as a code
// rather than a shouted word: it is quoted (a JSON value) or follows a word
// such as reservation, booking or confirmation. ("code" or "id" are too
// common in coding agents' prompts to count.)
func (s *scanner) codeContext(i int) bool {
	if i > 0 && (s.text[i-1] == '"' || s.text[i-1] == '\'' || s.text[i-1] == '#') {
		return true
	}
	lo := i - 40
	if lo < 0 {
		lo = 0
	}
	head := strings.ToLower(s.text[lo:i])
	for _, w := range []string{"reservation", "booking", "confirmation", "pnr", "locator"} {
		if strings.Contains(head, w) {
			return true
		}
	}
	return false
}

var commonCaps = map[string]bool{"PLEASE": true, "STATUS": true, "NOTICE": true, "CANCEL": true, "UPDATE": true,
	"DELETE": true, "SELECT": true, "RETURN": true, "CREATE": true, "IMPORT": true, "OUTPUT": true, "RESULT": true,
	"ERRORS": true, "FAILED": true, "PASSED": true, "SYSTEM": true, "ACTION": true, "CHANGE": true, "BEFORE": true,
	"NUMBER": true, "STRING": true, "OBJECT": true, "VALUES": true, "ACCESS": true, "PYTHON": true, "GLOBAL": true,
	"THOUGHT": true, "REASON": true, "PUBLIC": true, "STRICT": true, "SHOULD": true, "CANNOT": true, "ALWAYS": true,
	"MODIFY": true, "UNLESS": true, "INSERT": true, "INSIDE": true, "UNIQUE": true, "WORKED": true, "SEARCH": true}

func isUpperAlnum(w string) bool {
	for k := 0; k < len(w); k++ {
		if !(w[k] >= 'A' && w[k] <= 'Z' || isDigit(w[k])) {
			return false
		}
	}
	return true
}

func isUpperWord(w string) bool {
	for k := 0; k < len(w); k++ {
		if w[k] < 'A' || w[k] > 'Z' {
			return false
		}
	}
	return true
}

// idWord emits t[i:j] as an identifier when it mixes letters and digits (or
// is a long run of digits) and is long enough to identify something.
func (s *scanner) idWord(i, j int) bool {
	w := s.text[i:j]
	raw := w
	w = strings.TrimLeft(w, "#")
	digits, letters := 0, 0
	for k := 0; k < len(w); k++ {
		switch {
		case isDigit(w[k]):
			digits++
		case isAlpha(w[k]):
			letters++
		}
	}
	if digits == 0 || len(w) < 4 && !(strings.HasPrefix(raw, "#") && len(w) >= 3) {
		return false
	}
	// One digit in a word ("sqlite3", "uuid4", "UTF-8") names software, not
	// a record, unless the word is a capitals-and-digits code ("3FRNFB").
	if digits == 1 && !strings.HasPrefix(raw, "#") && !(len(w) >= 5 && len(w) <= 8 && isUpperAlnum(w)) {
		return false
	}
	if letters == 0 && digits < 5 && !strings.HasPrefix(raw, "#") {
		return false
	}
	s.emit(Atom{Raw: raw, Norm: normID(w), Kind: KindID, Start: i, End: j})
	return true
}

// normID lower-cases an identifier and drops "#" and the separators people
// and tools vary on (- _ . and spaces), so "#W-2378156" equals "w2378156".
// A digit-only id keeps its digits (leading zeros dropped) so it compares
// with numbers.
func normID(w string) string {
	if !strings.ContainsAny(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ#-_. ") {
		// Already normal: no copy.
		if isDigits(w) {
			if w = strings.TrimLeft(w, "0"); w == "" {
				w = "0"
			}
		}
		return w
	}
	var b strings.Builder
	b.Grow(len(w))
	for k := 0; k < len(w); k++ {
		c := w[k]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c == '#' || c == '-' || c == '_' || c == '.' || c == ' ':
		default:
			b.WriteByte(c)
		}
	}
	n := b.String()
	if isDigits(n) {
		n = strings.TrimLeft(n, "0")
		if n == "" {
			n = "0"
		}
	}
	return n
}

// symbol handles tokens that start with punctuation: $ € £ (money), # (ids),
// ( and + (phone numbers), / . ~ (paths).
func (s *scanner) symbol(i int) int {
	t := s.text
	b := t[i]
	switch {
	case b == '$':
		return s.money(i, i+1, "USD")
	case strings.HasPrefix(t[i:], "€"):
		return s.money(i, i+len("€"), "EUR")
	case strings.HasPrefix(t[i:], "£"):
		return s.money(i, i+len("£"), "GBP")
	case b == '#':
		j := s.wordEnd(i)
		if j > i+1 && s.idWord(i, j) {
			return j
		}
		return i + 1
	case b == '(' || b == '+':
		if n := s.phone(i); n > 0 {
			return i + n
		}
		return i + 1
	case b == '/' || b == '.' || b == '~':
		if e := s.pathEnd(i); e > i {
			s.emit(Atom{Raw: t[i:e], Norm: normPath(t[i:e]), Kind: KindPath, Start: i, End: e})
			return e
		}
		return i + 1
	}
	_, n := utf8.DecodeRuneInString(t[i:])
	return i + n
}

func (s *scanner) money(start, i int, _ string) int {
	t := s.text
	j := i
	for j < len(t) && t[j] == ' ' && j-i < 1 {
		j++
	}
	if j >= len(t) || !isDigit(t[j]) {
		return i
	}
	e, norm, ok := scanNumber(t, j)
	if !ok {
		return i
	}
	e, norm = scale(t, e, norm)
	s.emit(Atom{Raw: t[start:e], Norm: norm, Kind: KindMoney, Start: start, End: e})
	return e
}

// scale applies a "k", "K", "M" or " million" suffix... only "k"/"K"/"M"
// directly after the number, as in "$5k".
func scale(t string, e int, norm string) (int, string) {
	if e < len(t) && (t[e] == 'k' || t[e] == 'K' || t[e] == 'M') && (e+1 >= len(t) || !isWordByte(t[e+1])) {
		mul := 1e3
		if t[e] == 'M' {
			mul = 1e6
		}
		if f, err := strconv.ParseFloat(norm, 64); err == nil {
			return e + 1, canonFloat(f * mul)
		}
	}
	return e, norm
}

// phone scans a phone number at i and returns its length, or 0. It takes
// the written shapes of phone numbers, with separators: "(555) 123-4567",
// "555-123-4567", "555.123.4567", "+1 555 123 4567", "+44 20 7946 0958";
// a bare run of digits is an id or a number, not a phone number.
func (s *scanner) phone(i int) int {
	t := s.text
	j := i
	// Digits go to a fixed array: this runs for every number in every
	// text, and most are not phone numbers.
	var dbuf [16]byte
	d := dbuf[:0]
	groups := 0
	plus := false
	if j < len(t) && t[j] == '+' {
		plus = true
		j++
	}
	for j < len(t) && j-i < 24 {
		if t[j] == '(' {
			k := j + 1
			for k < len(t) && isDigit(t[k]) {
				k++
			}
			if k-j-1 < 2 || k-j-1 > 4 || k >= len(t) || t[k] != ')' {
				return 0
			}
			if len(d)+k-j-1 > len(dbuf) {
				return 0
			}
			d = append(d, t[j+1:k]...)
			groups++
			j = k + 1
		} else {
			k := j
			for k < len(t) && isDigit(t[k]) {
				k++
			}
			if k == j || k-j > 4 {
				return 0
			}
			if len(d)+k-j > len(dbuf) {
				return 0
			}
			d = append(d, t[j:k]...)
			groups++
			j = k
		}
		// One separator (space, dash, dot) between groups; " - " is arithmetic.
		if j+1 < len(t) && (t[j] == '-' || t[j] == '.' || t[j] == ' ') && (isDigit(t[j+1]) || t[j+1] == '(') {
			if t[j] == ' ' && j > 0 && t[j-1] == ' ' {
				break
			}
			j++
			continue
		}
		break
	}
	if groups < 3 && !(plus && groups >= 2) || len(d) < 10 || len(d) > 13 || j < len(t) && (isAlnum(t[j]) || t[j] == '.' && j+1 < len(t) && isDigit(t[j+1])) {
		return 0
	}
	last := 0
	for k := j - 1; k >= i && isDigit(t[k]); k-- {
		last++
	}
	if last < 3 {
		return 0
	}
	s.emit(Atom{Raw: t[i:j], Norm: normPhone(string(d)), Kind: KindPhone, Start: i, End: j})
	return j - i
}

func normPhone(d string) string {
	if len(d) == 11 && d[0] == '1' {
		return d[1:]
	}
	return d
}

// number handles a token that starts with a digit: a date, a time, a phone
// number, an identifier that starts with digits, or a number with an
// optional %, currency word or unit.
func (s *scanner) number(i int, _ bool, _ string) int {
	t := s.text
	if e, ok := s.dateNumeric(i); ok {
		return e
	}
	if e, ok := s.clockTime(i); ok {
		return e
	}
	if n := s.phone(i); n > 0 {
		return i + n
	}
	e, norm, ok := scanNumber(t, i)
	if !ok {
		return i + 1
	}
	// Digits running on into letters: an ordinal (20th), a unit (5kg), a
	// time (3pm), or an identifier (4d51c4bf-...).
	if e < len(t) && (isAlpha(t[e]) || t[e] == '_') {
		ue := e
		for ue < len(t) && isAlpha(t[ue]) {
			ue++
		}
		suffix := strings.ToLower(t[e:ue])
		plain := isDigits(t[i:e])
		if plain && (suffix == "i" || suffix == "c") && ue == e+1 && (ue == len(t) || !isWordByte(t[ue]) && t[ue] != '-' && t[ue] != '.') {
			// A sed address before its insert or change command ("sed -i
			// '3102i\ ...'"): the line number an edit lands on, as "1082s/"
			// and "1082d" already are, not an identifier.
			s.emit(Atom{Raw: t[i:e], Norm: norm, Kind: KindNumber, Start: i, End: e})
			return ue
		}
		if ue < len(t) && (isDigit(t[ue]) || t[ue] == '_' || t[ue] == '-' && plain) || !units[suffix] && !ordinalOrClock[suffix] {
			if plain {
				we := s.wordEnd(i)
				s.idWord(i, we)
				return we
			}
			// "120,140p": a number glued to letters; keep the number.
			s.emit(Atom{Raw: t[i:e], Norm: norm, Kind: KindNumber, Start: i, End: e})
			return ue
		}
		switch suffix {
		case "st", "nd", "rd", "th":
			if m, ok := s.monthAfter(ue); ok {
				return s.dayMonth(i, norm, m)
			}
		case "am", "pm", "a", "p":
			if ee, ok := s.ampm(i, norm, "00", e); ok {
				return ee
			}
		case "k", "m":
			e2, n2 := scale(t, e, norm)
			if e2 > e {
				s.emit(Atom{Raw: t[i:e2], Norm: n2, Kind: KindNumber, Start: i, End: e2})
				return e2
			}
		}
		end := e
		if units[suffix] {
			end = ue
		}
		s.emit(Atom{Raw: t[i:end], Norm: norm, Kind: KindNumber, Start: i, End: end})
		return ue
	}
	// "20 May", "20 May 2024"
	if m, ok := s.monthAfter(e); ok && !strings.ContainsAny(norm, ".") {
		return s.dayMonth(i, norm, m)
	}
	if ee, ok := s.ampm(i, norm, "00", e); ok {
		return ee
	}
	kind := KindNumber
	end := e
	if e < len(t) && t[e] == '%' {
		kind, end = KindPercent, e+1
	} else if w, ww := nextWord(t, e); w != "" {
		switch strings.ToLower(w) {
		case "usd", "dollars", "dollar", "eur", "euros", "gbp":
			kind, end = KindMoney, ww
		case "percent":
			kind, end = KindPercent, ww
		}
	}
	if kind == KindNumber && isDigits(t[i:e]) && e-i >= 2 && e-i <= 6 && partialBefore(t, i) {
		s.emit(Atom{Raw: t[i:e], Norm: t[i:e], Kind: KindSuffix, Start: i, End: e})
		return e
	}
	digits := 0
	for k := i; k < e; k++ {
		if isDigit(t[k]) {
			digits++
		}
	}
	if kind == KindNumber && digits >= 7 && digits == e-i {
		kind = KindID // a long run of digits names something (item, product, account)
	}
	s.emit(Atom{Raw: t[i:end], Norm: norm, Kind: kind, Start: i, End: end})
	return end
}

// nextWord returns the word after a single space at e and its end.
func nextWord(t string, e int) (string, int) {
	if e >= len(t) || t[e] != ' ' {
		return "", e
	}
	j := e + 1
	for j < len(t) && isAlpha(t[j]) {
		j++
	}
	return t[e+1 : j], j
}

// scanNumber reads digits with optional thousands separators (1,234,567)
// and a decimal part at i, returning the end and the canonical form.
func scanNumber(t string, i int) (int, string, bool) {
	j := i
	for j < len(t) && isDigit(t[j]) {
		j++
	}
	if j == i {
		return i, "", false
	}
	intPart := t[i:j]
	// Thousands separators: groups of exactly three digits.
	// Most numbers have none, so the digits are only copied when one follows.
	if j-i <= 3 {
		var b []byte
		k := j
		for k+3 < len(t)+0 && t[k] == ',' && isDigit(t[k+1]) && isDigit(t[k+2]) && isDigit(t[k+3]) &&
			(k+4 >= len(t) || !isDigit(t[k+4])) {
			if b == nil {
				b = append(make([]byte, 0, len(intPart)+12), intPart...)
			}
			b = append(b, t[k+1:k+4]...)
			k += 4
		}
		if k > j {
			intPart, j = string(b), k
		}
	}
	frac := ""
	if j+1 < len(t) && t[j] == '.' && isDigit(t[j+1]) {
		k := j + 1
		for k < len(t) && isDigit(t[k]) {
			k++
		}
		// "1.2.3" is a version, not a number: keep it whole as written.
		if k+1 < len(t) && t[k] == '.' && isDigit(t[k+1]) {
			for k < len(t) && (isDigit(t[k]) || t[k] == '.') {
				k++
			}
			for t[k-1] == '.' {
				k--
			}
			return k, t[i:k], true
		}
		frac = strings.TrimRight(t[j+1:k], "0")
		j = k
	}
	// Leading zeros are dropped ("007" is 7) except in a bare number that
	// has other digits and no decimals, where they are kept as written:
	// "$05" is no way to write 5 dollars, and must not match it.
	if !(len(intPart) > 1 && intPart[0] == '0' && frac == "" && j-i == len(intPart)) {
		intPart = strings.TrimLeft(intPart, "0")
	}
	if intPart == "" {
		intPart = "0"
	}
	if frac != "" {
		return j, intPart + "." + frac, true
	}
	return j, intPart, true
}

func canonFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// dateNumeric recognises 2024-05-20, 2024/05/20, 20/05/2024, 05/20/2024,
// 20.05.2024 and 2024-05-20T15:00:00 at i.
func (s *scanner) dateNumeric(i int) (int, bool) {
	t := s.text
	num := func(k, n int) (int, bool) {
		if k+n > len(t) {
			return 0, false
		}
		v := 0
		for x := k; x < k+n; x++ {
			if !isDigit(t[x]) {
				return 0, false
			}
			v = v*10 + int(t[x]-'0')
		}
		return v, true
	}
	digitRun := func(k int) int {
		e := k
		for e < len(t) && isDigit(t[e]) {
			e++
		}
		return e - k
	}
	if digitRun(i) == 4 && i+10 <= len(t) && (t[i+4] == '-' || t[i+4] == '/') && t[i+7] == t[i+4] {
		y, _ := num(i, 4)
		m, ok1 := num(i+5, 2)
		d, ok2 := num(i+8, 2)
		if ok1 && ok2 && validDate(max(y, 1000), m, d) && (i+10 == len(t) || !isDigit(t[i+10])) {
			// An ISO date is a date whatever its year: "0224-05-18" is a
			// corrupted 2024-05-18, not the number 224.
			s.emit(Atom{Raw: t[i : i+10], Norm: fmtDate(y, m, d), Kind: KindDate, Start: i, End: i + 10})
			e := i + 10
			if e < len(t) && (t[e] == 'T' || t[e] == ' ') && e+1 < len(t) && isDigit(t[e+1]) {
				if ee, ok := s.clockTime(e + 1); ok {
					return ee, true
				}
			}
			return e, true
		}
	}
	// d{1,2} sep d{1,2} sep d{2,4}
	a := digitRun(i)
	if a < 1 || a > 2 || i+a >= len(t) {
		return 0, false
	}
	sep := t[i+a]
	if sep != '/' && sep != '.' && sep != '-' {
		return 0, false
	}
	b := digitRun(i + a + 1)
	if b < 1 || b > 2 || i+a+1+b >= len(t) || t[i+a+1+b] != sep {
		return 0, false
	}
	c := digitRun(i + a + b + 2)
	if c != 4 && c != 2 {
		return 0, false
	}
	end := i + a + b + 2 + c
	if end < len(t) && (t[end] == sep || isAlpha(t[end])) {
		return 0, false
	}
	x, _ := num(i, a)
	z, _ := num(i+a+1, b)
	y, _ := num(i+a+b+2, c)
	if c == 2 {
		y += 2000
	}
	raw := t[i:end]
	switch {
	case x > 12 && validDate(y, z, x): // day first
		s.emit(Atom{Raw: raw, Norm: fmtDate(y, z, x), Kind: KindDate, Start: i, End: end})
	case z > 12 && validDate(y, x, z): // month first
		s.emit(Atom{Raw: raw, Norm: fmtDate(y, x, z), Kind: KindDate, Start: i, End: end})
	case validDate(y, x, z) && validDate(y, z, x):
		at := Atom{Raw: raw, Norm: fmtDate(y, x, z), Kind: KindDate, Start: i, End: end}
		if x != z {
			at.Alt = fmtDate(y, z, x)
		}
		s.emit(at)
	default:
		return 0, false
	}
	return end, true
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || y < 1000 || y > 9999 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func fmtDate(y, m, d int) string {
	b := [10]byte{byte('0' + y/1000%10), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-', byte('0' + d/10), byte('0' + d%10)}
	return string(b[:])
}

func fmtMonthDay(m, d int) string {
	return time.Date(2000, time.Month(m), d, 0, 0, 0, 0, time.UTC).Format("01-02")
}

// clockTime recognises 15:00, 15:00:00, 3:00 PM at i.
func (s *scanner) clockTime(i int) (int, bool) {
	t := s.text
	j := i
	for j < len(t) && isDigit(t[j]) && j-i < 3 {
		j++
	}
	if j-i < 1 || j-i > 2 || j+2 >= len(t) || t[j] != ':' || !isDigit(t[j+1]) || !isDigit(t[j+2]) {
		return 0, false
	}
	h, _ := strconv.Atoi(t[i:j])
	mm := t[j+1 : j+3]
	e := j + 3
	if e+2 < len(t) && t[e] == ':' && isDigit(t[e+1]) && isDigit(t[e+2]) {
		e += 3
	}
	if e < len(t) && isDigit(t[e]) {
		return 0, false
	}
	if m, _ := strconv.Atoi(mm); h > 23 || m > 59 {
		return 0, false
	}
	if ee, ok := s.ampm(i, strconv.Itoa(h), mm, e); ok {
		return ee, true
	}
	s.emit(Atom{Raw: t[i:e], Norm: fmtClock(h, mm), Kind: KindTime, Start: i, End: e})
	return e, true
}

func fmtClock(h int, mm string) string {
	return strconv.Itoa(h/10) + strconv.Itoa(h%10) + ":" + mm
}

// ampm recognises an "am"/"pm" (or "a.m."/"p.m.") marker after a time
// whose hour is hour, at e (after optional space).
func (s *scanner) ampm(i int, hour, mm string, e int) (int, bool) {
	t := s.text
	k := e
	if k < len(t) && t[k] == ' ' {
		k++
	}
	if k+1 >= len(t) {
		return 0, false
	}
	c := t[k] | 0x20
	if c != 'a' && c != 'p' {
		return 0, false
	}
	n := 0
	switch {
	case k+1 < len(t) && t[k+1]|0x20 == 'm':
		n = 2
	case k+3 < len(t) && t[k+1] == '.' && t[k+2]|0x20 == 'm' && t[k+3] == '.':
		n = 4
	default:
		return 0, false
	}
	if k+n < len(t) && isAlpha(t[k+n]) {
		return 0, false
	}
	h, err := strconv.Atoi(hour)
	if err != nil || h < 1 || h > 12 {
		return 0, false
	}
	if c == 'p' && h != 12 {
		h += 12
	}
	if c == 'a' && h == 12 {
		h = 0
	}
	end := k + n
	s.emit(Atom{Raw: t[i:end], Norm: fmtClock(h, mm), Kind: KindTime, Start: i, End: end})
	return end, true
}

var months = map[string]int{
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
	"september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
	"nov": 11, "dec": 12,
}

func monthOf(w string) int {
	if len(w) < 3 || len(w) > 9 {
		return 0
	}
	var b [9]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch b[0] {
	case 'j', 'f', 'm', 'a', 's', 'o', 'n', 'd':
		return months[string(b[:len(w)])] // no allocation for a map index
	}
	return 0
}

func relativeDay(w string) (int, bool) {
	// Compared without a lower-cased copy. No non-ASCII letter lower-cases
	// to a letter of these words, so only ASCII spellings can match.
	switch {
	case asciiLowerIs(w, "today"), asciiLowerIs(w, "tonight"):
		return 0, true
	case asciiLowerIs(w, "tomorrow"):
		return 1, true
	case asciiLowerIs(w, "yesterday"):
		return -1, true
	}
	return 0, false
}

// asciiLowerIs reports whether w with its ASCII capitals lower-cased is
// lit, a lower-case ASCII word.
func asciiLowerIs(w, lit string) bool {
	if len(w) != len(lit) {
		return false
	}
	for k := 0; k < len(w); k++ {
		c := w[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[k] {
			return false
		}
	}
	return true
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// monthDate handles "May 20", "May 20th", "May 20, 2024", "May 20 2024" with
// the month name at t[i:j].
func (s *scanner) monthDate(i, j, m int) (int, bool) {
	t := s.text
	k := j
	if k < len(t) && t[k] == '.' {
		k++
	}
	if k >= len(t) || t[k] != ' ' {
		return 0, false
	}
	k++
	d0 := k
	for k < len(t) && isDigit(t[k]) && k-d0 < 3 {
		k++
	}
	if k-d0 < 1 || k-d0 > 2 || k < len(t) && isDigit(t[k]) {
		return 0, false
	}
	d, _ := strconv.Atoi(t[d0:k])
	if d < 1 || d > 31 {
		return 0, false
	}
	if k+2 <= len(t) {
		switch strings.ToLower(t[k:min(k+2, len(t))]) {
		case "st", "nd", "rd", "th":
			k += 2
		}
	}
	if k < len(t) && isAlnum(t[k]) {
		return 0, false
	}
	end := k
	y := 0
	// Optional year: ", 2024" or " 2024".
	p := k
	if p < len(t) && t[p] == ',' {
		p++
	}
	if p < len(t) && t[p] == ' ' {
		p++
		if p+4 <= len(t) && isDigits(t[p:p+4]) && (p+4 == len(t) || !isDigit(t[p+4])) {
			y, _ = strconv.Atoi(t[p : p+4])
			end = p + 4
		}
	}
	s.emitDate(i, end, y, m, d)
	return end, true
}

func (s *scanner) emitDate(i, end, y, m, d int) {
	raw := s.text[i:end]
	if y > 0 && validDate(max(y, 1000), m, d) {
		s.emit(Atom{Raw: raw, Norm: fmtDate(y, m, d), Kind: KindDate, Start: i, End: end})
		return
	}
	if validDate(2000, m, d) { // 2000 is a leap year: Feb 29 stays valid
		s.emit(Atom{Raw: raw, Norm: fmtMonthDay(m, d), Kind: KindDate, Start: i, End: end})
	}
}

// monthAfter reports the month named by the word after one space at e.
func (s *scanner) monthAfter(e int) (int, bool) {
	t := s.text
	if e >= len(t) || t[e] != ' ' {
		return 0, false
	}
	j := e + 1
	for j < len(t) && isAlpha(t[j]) {
		j++
	}
	if m := monthOf(t[e+1 : j]); m > 0 {
		return m, true
	}
	return 0, false
}

// dayMonth handles "20 May" and "20th May 2024" starting at i with the day
// number norm.
func (s *scanner) dayMonth(i int, norm string, m int) int {
	t := s.text
	d, err := strconv.Atoi(norm)
	k := i
	for k < len(t) && isAlnum(t[k]) {
		k++
	}
	// skip " Month"
	k++
	for k < len(t) && isAlpha(t[k]) {
		k++
	}
	if err != nil || d < 1 || d > 31 {
		return k
	}
	end := k
	y := 0
	p := k
	if p < len(t) && t[p] == ',' {
		p++
	}
	if p < len(t) && t[p] == ' ' {
		p++
		if p+4 <= len(t) && isDigits(t[p:p+4]) && (p+4 == len(t) || !isDigit(t[p+4])) {
			y, _ = strconv.Atoi(t[p : p+4])
			end = p + 4
		}
	}
	s.emitDate(i, end, y, m, d)
	return end
}

// partialPhrases introduce a partial reference: the digits after them are
// the end of a longer value ("card ending in 2478").
var partialPhrases = []string{"ending in", "ending with", "ends in", "ends with", "last four digits",
	"last 4 digits", "last four", "last 4", "ending"}

// partialBefore reports whether a partial-reference phrase ends just before
// i (allowing "of", ":" and spaces between them).
func partialBefore(t string, i int) bool {
	lo := i - 40
	if lo < 0 {
		lo = 0
	}
	if h := t[lo:i]; isASCII(h) {
		// The same steps on a lower-cased copy on the stack: this runs
		// for every number, and most heads have a capital letter.
		var buf [40]byte
		b := buf[:copy(buf[:], h)]
		for k, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[k] = c + 'a' - 'A'
			}
		}
		b = bytes.TrimRight(b, " :")
		b = bytes.TrimSuffix(b, []byte(" is"))
		b = bytes.TrimSuffix(b, []byte(" of"))
		b = bytes.TrimRight(b, " :")
		for _, p := range partialPhrases {
			if bytes.HasSuffix(b, []byte(p)) {
				return true
			}
		}
		return false
	}
	head := strings.ToLower(t[lo:i])
	head = strings.TrimRight(head, " :")
	head = strings.TrimSuffix(head, " is")
	head = strings.TrimSuffix(head, " of")
	head = strings.TrimRight(head, " :")
	for _, p := range partialPhrases {
		if strings.HasSuffix(head, p) {
			return true
		}
	}
	return false
}

// units are the letter suffixes that keep "5kg" or "10am" a number; any
// other letters make the token an identifier ("3FRNFB", "4d51c4bf").
var units = map[string]bool{"k": true, "m": true, "kg": true, "g": true, "mg": true, "lb": true, "lbs": true,
	"oz": true, "km": true, "mi": true, "cm": true, "mm": true, "ft": true, "in": true, "l": true, "ml": true,
	"s": true, "ms": true, "h": true, "hr": true, "hrs": true, "min": true, "mins": true, "d": true,
	"x": true, "px": true, "kb": true, "mb": true, "gb": true, "tb": true, "w": true, "kw": true, "v": true}

var ordinalOrClock = map[string]bool{"st": true, "nd": true, "rd": true, "th": true, "am": true, "pm": true,
	"a": true, "p": true}

// lowerFields is strings.Join(strings.Fields(strings.ToLower(s)), " "),
// returning s itself when it is already in that form (plain lower-case
// ASCII words separated by single spaces), as most quoted values are.
func lowerFields(s string) string {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return strings.Join(strings.Fields(strings.ToLower(s)), " ")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || 'A' <= c && c <= 'Z' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
			c == ' ' && s[i+1] == ' ' {
			return strings.Join(strings.Fields(strings.ToLower(s)), " ")
		}
	}
	return s
}
