package provenance

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/probity/probity"
)

// Class is the provenance class of a value.
type Class string

// The classes, from best supported to least.
const (
	// Grounded: the value appears in something the actor could see.
	Grounded Class = "grounded"
	// Derived: the value is computed from visible values (a sum,
	// difference, product or percentage; a date offset), or a calculator
	// tool returned it, or the same actor derived it earlier.
	Derived Class = "derived"
	// NearMiss: nothing visible has the value, but a visible value is one
	// edit away (a changed, dropped, added or swapped character): the
	// signature of a corrupted copy.
	NearMiss Class = "near-miss"
	// Ungrounded: nothing visible supports the value.
	Ungrounded Class = "ungrounded"
)

// Source says where a value was found.
type Source struct {
	// Step is the index in Trace.Steps (or the pos given to Index.Add).
	Step int `json:"step"`
	// Pos is that step's source position.
	Pos probity.Position `json:"pos"`
	// Kind and Actor describe the step; Tool names the tool of a tool
	// result. Policies use Kind to tell trusted input (system, user) from
	// untrusted content (tool results, retrieved documents).
	Kind  probity.Kind `json:"kind"`
	Actor string       `json:"actor,omitempty"`
	Tool  string       `json:"tool,omitempty"`
	// Value is the matching value as written at the source.
	Value string `json:"value"`

	// text and [start, end) locate Value for Snippet, which is computed
	// only when asked for: most sources are never shown.
	text       string
	start, end int
	path       string
}

// Snippet quotes the source around Value on one line, at most about 100
// bytes; for a value from tool-call arguments it is "path: value".
func (s *Source) Snippet() string {
	if s == nil {
		return ""
	}
	if s.path != "" || s.end > len(s.text) || s.start > s.end {
		return strings.TrimPrefix(s.path+": ", ": ") + s.Value
	}
	return snippet(s.text, s.start, s.end)
}

// MarshalJSON includes the snippet.
func (s Source) MarshalJSON() ([]byte, error) {
	type plain Source
	return json.Marshal(struct {
		plain
		Snippet string `json:"snippet"`
	}{plain(s), s.Snippet()})
}

// Result is the provenance of one atom.
type Result struct {
	// Atom is the value.
	Atom Atom `json:"atom"`
	// Step is the index of the step the atom is in.
	Step int `json:"step"`
	// Class is how well the value is supported.
	Class Class `json:"class"`
	// Source is the supporting value for grounded and derived atoms, the
	// nearby value for near-misses, and the nearest value of the same kind,
	// if any, for ungrounded ones (nil when there is none).
	Source *Source `json:"source,omitempty"`
	// Note says the relation in words ("one digit changed: 2378165 vs
	// 2378156", "sum of 121 and 100").
	Note string `json:"note,omitempty"`
	// AlsoDerived is set on a near-miss that one arithmetic step over
	// visible values also explains, with that derivation in words: the
	// value is less certainly a corrupted copy.
	AlsoDerived string `json:"also_derived,omitempty"`
	// Origin is the step where this value (by Key) first appeared anywhere
	// in the trace; Origin == Step means this step introduced it.
	Origin int `json:"origin"`
}

// DerivedWindow is how many of the most recent visible steps contribute
// operands to the search for derived values, and DerivedOperands caps the
// distinct operands taken from them. The search tries sums and differences
// of two values, sums of three or four (meet in the middle over pair sums),
// products and percentages of two, and small multiples (×2..×9) of a value
// or of a pair sum, so it costs O(DerivedOperands²) per unexplained number
// and is only run for numbers that are not grounded. A value computed from
// operands further back, or by a longer formula, is reported ungrounded.
//
// AmbiguityWindow is the narrower window used to decide whether a near-miss
// is also derived, and that decision tries differences, multiples and
// percentages but not sums of two: a computed value the agent states is
// nearly always computed from what it just saw, while a corrupted copy that
// happens to equal the sum of two of the dozens of prices in a search
// result is a coincidence.
const (
	DerivedWindow   = 12
	DerivedOperands = 48
	AmbiguityWindow = 4
)

// Option configures an Index.
type Option func(*Index)

// WithClock sets the current time of the run, used to read relative dates
// ("tomorrow") and as a base for date offsets.
func WithClock(t time.Time) Option { return func(x *Index) { x.clock = t } }

type occ struct {
	step int32
	atom int32
}

// entry is what the index knows of one value (Key): where it first came in
// as input, and where each actor first stated it.
type entry struct {
	input occ // first occurrence in an input step; step -1 when none
	outs  []outOcc
	steps []int32 // every step the value appears in, ascending
}

type outOcc struct {
	actor string
	at    occ
	class Class
	also  string // AlsoDerived of that statement
}

type stepRec struct {
	kind  probity.Kind
	actor string
	pos   probity.Position
	tool  string
	text  string
	atoms []Atom
	calc  bool
	input bool
}

type numRec struct {
	cents int64
	at    occ
	actor string // "" for input, else the actor whose own output it is
	role  opRole
}

// opRole says how a number may take part in a derivation. Small integers
// (counts, days, list numbers) only multiply; percentages only scale;
// everything else adds and subtracts. Without this split, "192 - 7" would
// explain any wrong amount near a visible one.
type opRole uint8

const (
	opAdd opRole = iota
	opCount
	opPercent
	opNone
)

func roleOf(a Atom, c int64) opRole {
	switch {
	case a.Kind == KindPercent:
		return opPercent
	case c%100 == 0 && c <= 3100 && a.Kind != KindMoney:
		return opCount
	case c%100 == 0 && c >= 1000000 && a.Kind != KindMoney:
		return opNone // a zip code, a year-like or id-like integer
	case c%100 == 0 && c >= 190000 && c <= 210000 && a.Kind == KindNumber:
		return opNone // a year
	}
	return opAdd
}

// Index holds the values of the steps added so far, so that the atoms of a
// new step can be classified against what its actor could see. Lookups are
// hash-map probes on the normalised value; near-misses are found by probing
// the same map with every one-edit variant of an unsupported value (about
// 40 probes per character), so both cost time proportional to the length
// of the value, not to the size of the trace. An Index is not safe for
// concurrent use.
//
// The zero Index is not usable; call NewIndex.
type Index struct {
	narrow    bool // derive from the last few steps only (see classify)
	cache     [2]opSet
	broadSlot int
	broadUsed int
	clock     time.Time
	steps     []stepRec
	byPos     map[int]int // pos given to Add → steps slot
	entries   map[string]*entry
	suffix    map[uint64][]string // last 2..6 digits (see suffixKey) → keys
	// saidDay and saidWeek record that a person spoke of a day or a week
	// before or after something, which licenses those date offsets.
	saidDay, saidWeek bool
	// dayCounts holds numbers of days that inputs mention ("within 24
	// hours" no, "30 days" yes): the offsets a derived date may use.
	dayCounts map[int]bool
	// suffixPending holds keys not yet in suffix (see indexSuffixes).
	suffixPending []string
	nums          []numRec
	dates         []occ
}

// NewIndex returns an empty index.
func NewIndex(opts ...Option) *Index {
	x := &Index{
		byPos:   map[int]int{},
		entries: map[string]*entry{},
		suffix:  map[uint64][]string{},
	}
	for _, o := range opts {
		o(x)
	}
	return x
}

// isOutput reports whether a step of kind k is something an agent produced
// and so is checked rather than trusted.
func isOutput(k probity.Kind) bool {
	switch k {
	case probity.KindAssistant, probity.KindToolCall, probity.KindFinal, probity.KindHandoff:
		return true
	}
	return false
}

// isCalculator reports whether a tool computes values, so that what it
// returns counts as derived rather than as a fact from the world.
func isCalculator(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "calc") || strings.Contains(n, "math") || strings.Contains(n, "arithmetic")
}

// StepAtoms returns the atoms of a step: those of its text and, for a tool
// call, those of its arguments.
func StepAtoms(s probity.Step, clock time.Time) []Atom {
	var atoms []Atom
	if s.Content != "" {
		if s.Kind.IsInput() {
			atoms = extractSource(s.Content, clock)
		} else {
			atoms = ExtractAt(s.Content, clock)
			if looksLikePatch(s.Content) {
				for i := range atoms {
					atoms[i].InCode = true
				}
			}
		}
	}
	if isOutput(s.Kind) && s.Tool != nil {
		if len(s.Tool.Args) > 0 {
			atoms = append(atoms, ExtractArgsAt(s.Tool.Args, clock)...)
		} else if s.Tool.RawArgs != "" {
			for _, a := range ExtractAt(s.Tool.RawArgs, clock) {
				a.Path = "$raw"
				atoms = append(atoms, a)
			}
		}
	}
	return atoms
}

// noteDayCounts records the numbers an input gives as days ("30 days",
// "a 7-day window").
func (x *Index) noteDayCounts(t string, atoms []Atom) {
	for _, a := range atoms {
		if a.Kind != KindNumber || a.End > len(t) || a.Path != "" {
			continue
		}
		rest := t[a.End:]
		if strings.HasPrefix(rest, " day") || strings.HasPrefix(rest, "-day") || strings.HasPrefix(rest, " night") {
			if n, err := strconv.Atoi(a.Norm); err == nil && n > 0 && n <= 366 {
				if x.dayCounts == nil {
					x.dayCounts = map[int]bool{}
				}
				x.dayCounts[n] = true
			}
		}
	}
}

func (x *Index) noteOffsets(t string) {
	if x.saidDay && x.saidWeek || len(t) > 1<<16 {
		return
	}
	hasDay := strings.Contains(t, "day") || strings.Contains(t, "Day") || strings.Contains(t, "DAY")
	hasWeek := strings.Contains(t, "week") || strings.Contains(t, "Week") || strings.Contains(t, "WEEK")
	if !hasDay && !hasWeek {
		return // the common case, without lower-casing the whole text
	}
	if hasWeek {
		x.saidWeek = true
	}
	if !hasDay {
		return
	}
	l := strings.ToLower(t)
	for _, p := range []string{"day after", "day before", "next day", "following day", "previous day", "a day later",
		"a day earlier", "one day later", "one day earlier"} {
		if strings.Contains(l, p) {
			x.saidDay = true
		}
	}
}

// looksLikePatch reports whether an agent's text is a diff (a coding
// agent's submission): its numbers and hashes are code, not claims.
func looksLikePatch(t string) bool {
	return strings.HasPrefix(t, "diff --git") || strings.HasPrefix(t, "--- a/") || strings.Contains(t, "\n+++ b/") ||
		strings.Contains(t, "\ndiff --git")
}

// Add records step s, found at position pos of its trace (pos is what
// Results and Sources report as Step), and returns the classification of
// its atoms when s is an agent's output (assistant text, tool call, final
// answer, handoff). Input steps (system, user, tool result, retrieval,
// return) become sources for later steps and return nil. Steps must be
// added in order.
func (x *Index) Add(s probity.Step, pos int) []Result {
	atoms := StepAtoms(s, x.clock)
	rec := stepRec{kind: s.Kind, actor: s.Actor, pos: s.Pos, text: s.Content, atoms: atoms, input: s.Kind.IsInput()}
	if s.Tool != nil {
		rec.tool = s.Tool.Name
		rec.calc = s.Kind == probity.KindToolResult && isCalculator(s.Tool.Name)
	}
	if s.Kind == probity.KindUser || s.Kind == probity.KindSystem {
		x.noteOffsets(s.Content)
	}
	if s.Kind.IsInput() {
		x.noteDayCounts(s.Content, atoms)
	}
	slot := len(x.steps)
	x.steps = append(x.steps, rec)
	x.byPos[pos] = slot
	var results []Result
	if isOutput(s.Kind) {
		results = make([]Result, len(atoms))
		for i, a := range atoms {
			results[i] = x.classify(a, s.Actor, slot, atoms[:i], results[:i])
			results[i].Step = pos
		}
	}
	for i, a := range atoms {
		var res *Result
		if results != nil {
			res = &results[i]
		}
		first := x.insert(a, slot, int32(i), rec.input, s.Actor, res)
		if results != nil {
			results[i].Origin = int(first)
		}
	}
	return results
}

// Classify returns the provenance of atom a if actor stated it now, after
// every step added so far. It does not record anything: policies call it
// for a tool call that has not run yet.
func (x *Index) Classify(a Atom, actor string) Result {
	r := x.classify(a, actor, len(x.steps), nil, nil)
	r.Step = -1
	r.Origin = -1
	if e := x.entries[a.Key()]; e != nil && len(e.steps) > 0 {
		r.Origin = x.posOf(e.steps[0])
	}
	return r
}

// ClassifyCall classifies every atom of a proposed tool call by actor, as
// Classify does: it answers "is every argument grounded?" before the call
// runs.
func (x *Index) ClassifyCall(call probity.ToolCall, actor string) []Result {
	st := probity.Step{Kind: probity.KindToolCall, Actor: actor, Tool: &call}
	return x.classifyAtoms(StepAtoms(st, x.clock), actor)
}

// ClassifyJSON classifies the atoms of any JSON value (a tool's arguments,
// a field a policy picked out of them) as if actor passed it now. A JSON
// string is read as one value when it is one ("#W2378156", "2024-05-20")
// and as free text otherwise.
func (x *Index) ClassifyJSON(v json.RawMessage, actor string) []Result {
	return x.classifyAtoms(ExtractArgsAt(v, x.clock), actor)
}

func (x *Index) classifyAtoms(atoms []Atom, actor string) []Result {
	out := make([]Result, len(atoms))
	for i, a := range atoms {
		out[i] = x.classify(a, actor, len(x.steps), atoms[:i], out[:i])
		out[i].Step = -1
		out[i].Origin = -1
		if e := x.entries[a.Key()]; e != nil && len(e.steps) > 0 {
			out[i].Origin = x.posOf(e.steps[0])
		}
	}
	return out
}

// Occurrences returns the positions (as given to Add) of every step the
// value with key appears in, ascending.
func (x *Index) Occurrences(key string) []int {
	e := x.entries[key]
	if e == nil {
		return nil
	}
	out := make([]int, len(e.steps))
	for i, s := range e.steps {
		out[i] = x.posOf(s)
	}
	return out
}

// posOf maps a slot back to the pos its step was added with.
func (x *Index) posOf(slot int32) int {
	// Analyze adds step i at pos i, the common case; fall back to a scan.
	if p, ok := x.byPos[int(slot)]; ok && p == int(slot) {
		return int(slot)
	}
	for p, s := range x.byPos {
		if s == int(slot) {
			return p
		}
	}
	return int(slot)
}

// aliases are other keys an atom answers to: "#W2378156" also answers for
// the bare digits "2378156" people type, and an email's local part for the
// user id built from it ("yara_garcia_1905@gmail.com" → yara_garcia_1905).
func aliases(a Atom) []string {
	switch a.Kind {
	case KindID:
		n := a.Norm
		p := 0
		for p < len(n) && n[p] >= 'a' && n[p] <= 'z' {
			p++
		}
		if p > 0 && p <= 3 && len(n)-p >= 5 && isDigits(n[p:]) {
			return []string{keyOf('n', strings.TrimLeft(n[p:], "0"))}
		}
	case KindEmail:
		if at := strings.IndexByte(a.Norm, '@'); at > 0 {
			local := a.Norm[:at]
			if strings.ContainsAny(local, "0123456789") {
				return []string{keyOf('i', normID(local))}
			}
		}
	}
	return nil
}

// supported reports whether an output value may serve as evidence for the
// same actor's later arithmetic: grounded, derived, or a near-miss that a
// derivation also explains.
func supported(r *Result) bool {
	return r != nil && (r.Class == Grounded || r.Class == Derived || r.Class == NearMiss && r.AlsoDerived != "")
}

func (x *Index) insert(a Atom, slot int, ai int32, input bool, actor string, res *Result) int32 {
	var class Class
	also := ""
	if res != nil {
		class, also = res.Class, res.AlsoDerived
	}
	for _, k := range aliases(a) {
		e := x.entries[k]
		if e == nil {
			e = &entry{input: occ{step: -1}}
			x.entries[k] = e
		}
		if input && e.input.step < 0 {
			e.input = occ{step: int32(slot), atom: ai}
		}
		if !input && (class == Grounded || class == Derived) && len(e.outs) < 16 {
			e.outs = append(e.outs, outOcc{actor: actor, at: occ{step: int32(slot), atom: ai}, class: class})
		}
	}
	k := a.Key()
	e := x.entries[k]
	if e == nil {
		e = &entry{input: occ{step: -1}}
		x.entries[k] = e
		if a.Kind != KindSuffix && a.Kind != KindDate && a.Kind != KindTime && len(trailingDigits(a.Norm)) >= 4 {
			x.suffixPending = append(x.suffixPending, k)
		}
	}
	at := occ{step: int32(slot), atom: ai}
	if n := len(e.steps); n == 0 || e.steps[n-1] != int32(slot) {
		e.steps = append(e.steps, int32(slot))
	}
	first := e.steps[0]
	if input {
		if e.input.step < 0 {
			e.input = at
		}
	} else {
		found := false
		for _, o := range e.outs {
			if o.actor == actor {
				found = true
				break
			}
		}
		if !found && len(e.outs) < 16 {
			e.outs = append(e.outs, outOcc{actor: actor, at: at, class: class, also: also})
		}
	}
	if a.Kind == KindDate && len(a.Norm) == 10 {
		// A full date also answers for its month and day alone ("May 20").
		if input || supported(res) {
			x.dates = append(x.dates, at)
		}
		mk := keyOf('m', a.Norm[5:])
		me := x.entries[mk]
		if me == nil {
			me = &entry{input: occ{step: -1}}
			x.entries[mk] = me
		}
		if input && me.input.step < 0 {
			me.input = at
		}
	}
	if a.family() == 'n' && a.Kind != KindID && (input || supported(res)) {
		if c, ok := cents(a.Norm); ok {
			owner := ""
			if !input {
				owner = actor
			}
			if r := roleOf(a, c); r != opNone {
				x.nums = append(x.nums, numRec{cents: c, at: at, actor: owner, role: r})
			}
		}
	}
	return first
}

// window is how many recent steps give operands.
func (x *Index) window() int {
	if x.narrow {
		return AmbiguityWindow
	}
	return DerivedWindow
}

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
		return len(a.Norm) >= 5 && strings.Count(a.Norm, ".") <= 1
	case KindEmail, KindPhone:
		return len(a.Norm) >= 6
	}
	return false
}

// indexSuffixes brings the suffix index up to date. It runs only when a
// partial reference is classified, so traces without one never pay for it.
func (x *Index) indexSuffixes() {
	for _, k := range x.suffixPending {
		x.indexSuffix(k)
	}
	x.suffixPending = x.suffixPending[:0]
}

func (x *Index) indexSuffix(k string) {
	d := trailingDigits(k)
	for n := 2; n <= 6 && n < len(d); n++ {
		sk := suffixKey(d[len(d)-n:])
		if l := x.suffix[sk]; len(l) < 8 {
			x.suffix[sk] = append(l, k)
		}
	}
}

// trailingDigits returns the run of digits that ends s.
func trailingDigits(s string) string {
	i := len(s)
	for i > 0 && isDigit(s[i-1]) {
		i--
	}
	return s[i:]
}

// suffixKey packs up to 6 digits and their count (leading zeros matter:
// "0478" is not "478") into a map key without allocating.
func suffixKey(d string) uint64 {
	v := uint64(len(d)) << 32
	var n uint64
	for i := 0; i < len(d); i++ {
		n = n*10 + uint64(d[i]-'0')
	}
	return v | n
}

// visible returns an occurrence of e that actor could see: an input, or a
// message of another actor. It returns ok false when there is none.
func (x *Index) visible(e *entry, actor string, before int) (occ, bool) {
	if e.input.step >= 0 && int(e.input.step) < before {
		return e.input, true
	}
	for _, o := range e.outs {
		if actor != "" && o.actor != "" && o.actor != actor && int(o.at.step) < before {
			return o.at, true
		}
	}
	return occ{}, false
}

// ownEarlier returns actor's own earlier statement of e, with its class.
func (x *Index) ownEarlier(e *entry, actor string, before int) (outOcc, bool) {
	for _, o := range e.outs {
		if o.actor == actor && int(o.at.step) < before {
			return o, true
		}
	}
	return outOcc{}, false
}

func (x *Index) source(at occ) *Source {
	r := &x.steps[at.step]
	a := r.atoms[at.atom]
	return &Source{Step: x.posOf(at.step), Pos: r.pos, Kind: r.kind, Actor: r.actor, Tool: r.tool, Value: a.Raw,
		text: r.text, start: a.Start, end: a.End, path: a.Path}
}

// snippet quotes text around [start, end) on one line, at most about 100
// bytes, cut at rune boundaries.
func snippet(text string, start, end int) string {
	lo, hi := start-40, end+40
	if lo < 0 {
		lo = 0
	}
	if hi > len(text) {
		hi = len(text)
	}
	for lo > 0 && !utf8.RuneStart(text[lo]) {
		lo--
	}
	for hi < len(text) && !utf8.RuneStart(text[hi]) {
		hi++
	}
	s := strings.Join(strings.Fields(text[lo:hi]), " ")
	if lo > 0 {
		s = "…" + s
	}
	if hi < len(text) {
		s += "…"
	}
	return s
}

// classify is Classify for an atom of the step in slot (len(x.steps) for a
// step not yet added); same holds the atoms of that step before a, with
// their results, which may serve as operands ("121 × 3 = 363").
func (x *Index) classify(a Atom, actor string, slot int, same []Atom, sameRes []Result) Result {
	r := Result{Atom: a, Class: Ungrounded}
	key := a.Key()
	if a.Kind == KindSuffix {
		// The digits themselves ("last_four": "2478"), someone else's
		// partial reference, or a longer value ending so.
		for _, k := range []string{keyOf('n', strings.TrimLeft(a.Norm, "0")), key} {
			if e := x.entries[k]; e != nil {
				if at, ok := x.visible(e, actor, slot); ok {
					r.Class, r.Source = Grounded, x.source(at)
					return r
				}
			}
		}
		if len(a.Norm) > 6 || !isDigits(a.Norm) {
			return r
		}
		x.indexSuffixes()
		for _, k := range x.suffix[suffixKey(a.Norm)] {
			if at, ok := x.visible(x.entries[k], actor, slot); ok {
				r.Class, r.Source = Grounded, x.source(at)
				r.Note = "partial reference: " + r.Source.Value + " ends in " + a.Norm
				return r
			}
		}
		return r
	}
	keys := append([]string{key}, aliases(a)...)
	if a.Alt != "" {
		keys = append(keys, keyOf(a.family(), a.Alt))
	}
	if a.Kind == KindDate && len(a.Norm) == 10 {
		keys = append(keys, keyOf('m', a.Norm[5:]))
		if a.Alt != "" {
			keys = append(keys, keyOf('m', a.Alt[5:]))
		}
	}
	// 1. The value itself is visible.
	for _, k := range keys {
		if e := x.entries[k]; e != nil {
			if at, ok := x.visible(e, actor, slot); ok {
				r.Class, r.Source = Grounded, x.source(at)
				if x.steps[at.step].calc {
					r.Class, r.Note = Derived, "computed by tool "+x.steps[at.step].tool
				}
				return r
			}
		}
	}
	// 2. The same actor derived it before: it carries that class on.
	if e := x.entries[key]; e != nil {
		if o, ok := x.ownEarlier(e, actor, slot); ok {
			r.Source = x.source(o.at)
			switch o.class {
			case Grounded, Derived:
				r.Class, r.Note = Derived, "as derived earlier"
				return r
			case NearMiss:
				r.Class, r.Note, r.AlsoDerived = NearMiss, "repeats a near-miss value first stated earlier", o.also
				if nr, ok := x.nearMiss(a, actor, slot); ok {
					r.Source, r.Note = nr.Source, nr.Note+" (repeated)"
					if r.AlsoDerived == "" {
						x.narrow = true
						if d, ok := x.derive(a, actor, slot, same, sameRes, false); ok {
							r.AlsoDerived = d.Note
						}
						x.narrow = false
					}
				}
				return r
			default:
				// Fall through to the nearest visible value below: the
				// actor's own statement is not a source.
				r.Source = nil
				r.Note = "repeats an unsupported value first stated at step " + itoa(x.posOf(o.at.step))
				x.nearest(&r, actor, slot)
				return r
			}
		}
	}
	// 3. One edit away from a visible value: a corrupted copy. When the
	// value can also be computed from visible values in one step, both
	// readings are kept (AlsoDerived), because for short integers such
	// coincidences are common: "$171" is one digit from a visible 141 and
	// also 500 - 329.
	if a.Kind != KindDate {
		if nr, ok := x.nearMiss(a, actor, slot); ok {
			x.narrow = true
			if d, ok := x.derive(a, actor, slot, same, sameRes, false); ok {
				nr.AlsoDerived = d.Note
			}
			x.narrow = false
			return nr
		}
	}
	// 4. Computed from visible values by one operation.
	if d, ok := x.derive(a, actor, slot, same, sameRes, false); ok {
		return d
	}
	// 5. Sums of three or four visible values, small multiples of a sum.
	if d, ok := x.derive(a, actor, slot, same, sameRes, true); ok {
		return d
	}
	// 6. Ungrounded: point at the closest visible value of the same kind.
	x.nearest(&r, actor, slot)
	return r
}

// nearest sets r.Source to the closest visible amount (within 50%) or date
// (within a month) to an ungrounded value, for evidence.
func (x *Index) nearest(r *Result, actor string, slot int) {
	a := r.Atom
	note := func(s string) {
		if r.Note == "" {
			r.Note = s
		} else {
			r.Note += "; " + s
		}
	}
	if a.family() == 'n' && a.Kind != KindID {
		if at, ok := x.closestNumber(a, actor, slot); ok {
			r.Source = x.source(at)
			note("nearest visible value")
		}
	}
	if a.Kind == KindDate && len(a.Norm) == 10 {
		if at, ok := x.closestDate(a, actor, slot); ok {
			r.Source = x.source(at)
			note("nearest visible date")
		}
	}
}

// closestDate returns the visible full date nearest to a, within 31 days.
func (x *Index) closestDate(a Atom, actor string, slot int) (occ, bool) {
	t, err := time.Parse("2006-01-02", a.Norm)
	if err != nil {
		return occ{}, false
	}
	best, bestD := occ{}, 32*24*time.Hour
	for _, at := range x.dates {
		if int(at.step) >= slot {
			continue
		}
		rec := &x.steps[at.step]
		if !rec.input && rec.actor == actor {
			continue
		}
		dv, err := time.Parse("2006-01-02", rec.atoms[at.atom].Norm)
		if err != nil {
			continue
		}
		d := t.Sub(dv)
		if d < 0 {
			d = -d
		}
		if d < bestD {
			best, bestD = at, d
		}
	}
	return best, bestD <= 31*24*time.Hour
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

// cents converts a canonical decimal to hundredths, when it has at most
// two decimals and fits comfortably in an int64.
func cents(norm string) (int64, bool) {
	if len(norm) > 15 {
		return 0, false
	}
	ip, fp := norm, ""
	if i := strings.IndexByte(norm, '.'); i >= 0 {
		ip, fp = norm[:i], norm[i+1:]
	}
	if len(fp) > 2 || !isDigits(ip) || fp != "" && !isDigits(fp) {
		return 0, false
	}
	for len(fp) < 2 {
		fp += "0"
	}
	var v int64
	for _, c := range ip + fp {
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func fmtCents(c int64) string {
	return canonFloat(float64(c) / 100)
}

type operand struct {
	cents int64
	at    occ
	same  int // index into the same step's atoms, or -1
	role  opRole
}

// opSet is the operand pool for one step, with its lookup tables: built once
// per (step, actor, window) and reused by every atom of the step.
type opSet struct {
	slot   int
	actor  string
	narrow bool
	ok     bool
	nums   int // len(Index.nums) when built: a new number invalidates the pool
	all    []operand
	add    []operand
	counts []operand
	pcts   []operand
	addIdx map[int64]int    // cents → index in add
	pairs  map[int64][2]int // sum of two add operands → their indexes
}

// maxSameOperands caps the operands taken from the step being classified.
const maxSameOperands = 16

// pool returns the cached operand pool for actor at slot: the distinct
// numbers visible in the last DerivedWindow steps (AmbiguityWindow for
// inputs when x.narrow), newest first, at most DerivedOperands of them.
func (x *Index) pool(actor string, slot int) *opSet {
	c := &x.cache[0]
	if x.narrow {
		c = &x.cache[1]
	}
	if c.ok && c.slot == slot && c.actor == actor && c.nums == len(x.nums) {
		return c
	}
	*c = opSet{slot: slot, actor: actor, narrow: x.narrow, ok: true, nums: len(x.nums), addIdx: map[int64]int{}}
	seen := map[int64]bool{}
	lo := slot - DerivedWindow
	for i := len(x.nums) - 1; i >= 0 && len(c.all) < DerivedOperands; i-- {
		n := x.nums[i]
		if int(n.at.step) < lo {
			break
		}
		if int(n.at.step) >= slot || seen[n.cents] {
			continue
		}
		// In the narrow window only recent inputs count; the actor's own
		// computed values stay (it computed them to use them). Inputs,
		// other agents' messages and the actor's own supported numbers are
		// all fair operands.
		if n.actor == "" && int(n.at.step) < slot-x.window() {
			continue
		}
		seen[n.cents] = true
		c.all = append(c.all, operand{cents: n.cents, at: n.at, same: -1, role: n.role})
	}
	c.split()
	return c
}

func (c *opSet) split() {
	for _, o := range c.all {
		switch o.role {
		case opAdd:
			c.addIdx[o.cents] = len(c.add)
			c.add = append(c.add, o)
		case opCount:
			c.counts = append(c.counts, o)
		case opPercent:
			c.pcts = append(c.pcts, o)
		}
	}
}

// sums returns the table of pairwise sums, built on first use: most steps
// never ask for a sum.
func (c *opSet) sums() map[int64][2]int {
	if c.pairs != nil {
		return c.pairs
	}
	c.pairs = make(map[int64][2]int, len(c.add)*(len(c.add)+1)/2)
	for i := range c.add {
		for j := i; j < len(c.add); j++ {
			s := c.add[i].cents + c.add[j].cents
			if _, ok := c.pairs[s]; !ok {
				c.pairs[s] = [2]int{i, j}
			}
		}
	}
	return c.pairs
}

func (x *Index) sameOperands(same []Atom, sameRes []Result) []operand {
	var ops []operand
	for i := len(same) - 1; i >= 0 && i >= len(same)-4*maxSameOperands && len(ops) < maxSameOperands; i-- {
		if same[i].family() != 'n' || same[i].Kind == KindID || !supported(&sameRes[i]) {
			continue
		}
		if c, ok := cents(same[i].Norm); ok {
			if r := roleOf(same[i], c); r != opNone {
				ops = append(ops, operand{cents: c, same: i, role: r})
			}
		}
	}
	return ops
}

// maxBroadPerStep bounds the broad (three- and four-term) searches per
// step, so a step with thousands of unexplained numbers costs bounded time.
const maxBroadPerStep = 64

// derive searches for a bounded arithmetic explanation of a (see
// DerivedWindow), and for dates an offset from a visible date or the clock.
func (x *Index) derive(a Atom, actor string, slot int, same []Atom, sameRes []Result, broad bool) (Result, bool) {
	switch {
	case a.Kind == KindDate && len(a.Norm) == 10:
		if broad {
			return Result{}, false
		}
		return x.deriveDate(a, actor, slot)
	case a.family() != 'n' || a.Kind == KindID:
		return Result{}, false
	}
	t, ok := cents(a.Norm)
	if !ok {
		return Result{}, false
	}
	if t == 0 {
		return Result{Atom: a, Class: Derived, Note: "zero"}, true
	}
	p := x.pool(actor, slot)
	res := func(o operand, note string) (Result, bool) {
		r := Result{Atom: a, Class: Derived, Note: note}
		if o.same >= 0 {
			r.Source = sameRes[o.same].Source
		} else {
			r.Source = x.source(o.at)
		}
		return r, true
	}
	// The same step's supported numbers join the additive operands.
	add := p.add
	extra := map[int64]operand{}
	var counts, pcts = p.counts, p.pcts
	for _, o := range x.sameOperands(same, sameRes) {
		switch o.role {
		case opAdd:
			if _, ok := p.addIdx[o.cents]; !ok {
				extra[o.cents] = o
				add = append(add[:len(add):len(add)], o)
			}
		case opCount:
			counts = append(counts[:len(counts):len(counts)], o)
		case opPercent:
			pcts = append(pcts[:len(pcts):len(pcts)], o)
		}
	}
	find := func(c int64) (operand, bool) {
		if i, ok := p.addIdx[c]; ok {
			return p.add[i], true
		}
		o, ok := extra[c]
		return o, ok
	}
	mult := func(v int64) (int64, bool) {
		for k := int64(2); k <= 9; k++ {
			if v*k == t {
				return k, true
			}
		}
		for _, c := range counts {
			if k := c.cents / 100; k > 9 && v*k == t {
				return k, true
			}
		}
		return 0, false
	}
	// pairSum finds two additive operands summing to s (cached pairs, or
	// one same-step operand plus any).
	pairSum := func(s int64) (operand, operand, bool) {
		if q, ok := p.sums()[s]; ok {
			return p.add[q[0]], p.add[q[1]], true
		}
		for _, o := range extra {
			if w, ok := find(s - o.cents); ok {
				return o, w, true
			}
		}
		return operand{}, operand{}, false
	}
	if !broad {
		for _, o := range add {
			v := o.cents
			if w, ok := find(v - t); ok && w.cents != v {
				return res(o, "difference of "+fmtCents(v)+" and "+fmtCents(w.cents))
			}
			if k, ok := mult(v); ok {
				return res(o, fmtCents(v)+" × "+itoa(int(k)))
			}
			for _, q := range pcts {
				pv := float64(v) * float64(q.cents) / 1e4
				if math.Abs(pv-float64(t)) < 1 || math.Abs(float64(v)-pv-float64(t)) < 1 || math.Abs(float64(v)+pv-float64(t)) < 1 {
					return res(o, fmtCents(q.cents)+"% applied to "+fmtCents(v))
				}
			}
		}
		if !x.narrow {
			if o, w, ok := pairSum(t); ok {
				return res(o, "sum of "+fmtCents(o.cents)+" and "+fmtCents(w.cents))
			}
		}
		return Result{}, false
	}
	if x.broadSlot != slot {
		x.broadSlot, x.broadUsed = slot, 0
	}
	if x.broadUsed >= maxBroadPerStep {
		return Result{}, false
	}
	x.broadUsed++
	for _, o := range add {
		if u, w, ok := pairSum(t - o.cents); ok {
			return res(o, "sum of "+fmtCents(o.cents)+", "+fmtCents(u.cents)+" and "+fmtCents(w.cents))
		}
	}
	for i := range add {
		for j := i; j < len(add); j++ {
			s := add[i].cents + add[j].cents
			if u, w, ok := pairSum(t - s); ok {
				return res(add[i], "sum of four values: "+fmtCents(add[i].cents)+", "+fmtCents(add[j].cents)+
					", "+fmtCents(u.cents)+", "+fmtCents(w.cents))
			}
			if k, ok := mult(s); ok {
				return res(add[i], "("+fmtCents(add[i].cents)+" + "+fmtCents(add[j].cents)+") × "+itoa(int(k)))
			}
		}
	}
	return Result{}, false
}

// deriveDate explains a date as the clock's date, or a visible date, moved
// by one day, one week, or a number of days that is itself visible.
func (x *Index) deriveDate(a Atom, actor string, slot int) (Result, bool) {
	t, err := time.Parse("2006-01-02", a.Norm)
	if err != nil {
		return Result{}, false
	}
	offsets := map[int]bool{0: true}
	// One day or one week only when someone said so ("the day after the
	// original reservation"): otherwise a date off by one is a wrong date.
	if x.saidDay {
		offsets[1] = true
	}
	if x.saidWeek {
		offsets[7] = true
	}
	for d := range x.dayCounts {
		offsets[d] = true
	}
	if !x.clock.IsZero() {
		c := time.Date(x.clock.Year(), x.clock.Month(), x.clock.Day(), 0, 0, 0, 0, time.UTC)
		d := int(math.Round(t.Sub(c).Hours() / 24))
		if d < 0 {
			d = -d
		}
		if offsets[d] {
			return Result{Atom: a, Class: Derived, Note: "the run's current date " + c.Format("2006-01-02") +
				" moved by " + itoa(d) + " days"}, true
		}
	}
	for i := len(x.dates) - 1; i >= 0; i-- {
		at := x.dates[i]
		if int(at.step) >= slot || int(at.step) < slot-4*DerivedWindow {
			continue
		}
		rec := &x.steps[at.step]
		if !rec.input && !(rec.actor == actor) {
			continue
		}
		dv, err := time.Parse("2006-01-02", rec.atoms[at.atom].Norm)
		if err != nil {
			continue
		}
		d := int(math.Round(t.Sub(dv).Hours() / 24))
		if d < 0 {
			d = -d
		}
		if offsets[d] {
			return Result{Atom: a, Class: Derived, Source: x.source(at), Note: "a visible date moved by " + itoa(d) + " days"}, true
		}
	}
	return Result{}, false
}

func itoa(i int) string { return canonFloat(float64(i)) }

// closestNumber returns the visible number nearest to a in relative terms,
// among recent operands, for evidence on an ungrounded amount.
func (x *Index) closestNumber(a Atom, actor string, slot int) (occ, bool) {
	t, ok := cents(a.Norm)
	if !ok || t == 0 {
		return occ{}, false
	}
	best, bestD := occ{}, math.Inf(1)
	for _, o := range x.pool(actor, slot).add {
		d := math.Abs(float64(o.cents-t)) / float64(t)
		if d < bestD {
			best, bestD = o.at, d
		}
	}
	return best, bestD < 0.5
}
