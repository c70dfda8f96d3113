package provenance

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/toolclass"
)

// Option configures an Index.
type Option func(*Index)

// WithClock sets the current time of the run, used to read relative dates
// ("tomorrow") and as a base for date offsets.
func WithClock(t time.Time) Option { return func(x *Index) { x.clock = t } }

// WithToolClasses sets the user's tool classification: what a tool classed
// calculator returns counts as derived from its arguments rather than as a
// fact from the world. Without it (or with nil), tools are classed by name.
func WithToolClasses(c *toolclass.Config) Option { return func(x *Index) { x.classes = c } }

type occ struct {
	step int32
	atom int32
}

// entry is what the index knows of one value (Key): where it first came in
// as input, and where each actor first stated it.
type entry struct {
	input  occ // first occurrence in an input every actor sees; step -1 when none
	scoped []scopedOcc
	outs   []outOcc
	steps  []int32 // every step the value appears in, ascending
	inline [3]int32
}

// newEntry hands out entries from a slab, with steps backed by the entry's
// own small array: most values appear in a few steps, and an index makes
// one entry per distinct value.
func (x *Index) newEntry() *entry {
	if len(x.slab) == 0 {
		x.slab = make([]entry, 256)
	}
	e := &x.slab[0]
	x.slab = x.slab[1:]
	e.input = occ{step: -1}
	e.steps = e.inline[:0]
	return e
}

// scopedOcc is the first occurrence of a value in a tool result only the
// agent that called the tool saw (nested agents).
type scopedOcc struct {
	scope string
	at    occ
}

// addInput records an input occurrence, by scope.
func (e *entry) addInput(at occ, scope string) {
	if scope == "" {
		if e.input.step < 0 {
			e.input = at
		}
		return
	}
	for _, sc := range e.scoped {
		if sc.scope == scope {
			return
		}
	}
	if len(e.scoped) < 8 {
		e.scoped = append(e.scoped, scopedOcc{scope: scope, at: at})
	}
}

type outOcc struct {
	actor string
	at    occ
	class Class
	also  string // AlsoDerived of that statement
}

type stepRec struct {
	scope string // for a tool result: the agent that called the tool, when several agents call tools
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
	// classes classifies tools; nil classes them by name.
	classes *toolclass.Config
	steps   []stepRec
	byPos   map[int]int // pos given to Add → steps slot
	entries map[string]*entry
	kbuf    []byte // scratch for keys (see get)
	// callers, lastCaller and callerSet track which agent called which
	// tool, to scope tool results (see scopeOf).
	callers    map[string]string
	lastCaller string
	callerSet  map[string]bool
	slab       []entry             // see newEntry
	srcSlab    []Source            // see source
	poolSeen   map[int64]bool      // scratch for pool
	suffix     map[uint64][]string // last 2..6 digits (see suffixKey) → keys
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

// YearKey is the key under which Analysis.Occurrences follows the year of
// a full date, or "" for other atoms. Classification never uses it: a
// visible year does not ground a date.
func YearKey(a Atom) string {
	if a.Kind != KindDate || len(a.Norm) != 10 {
		return ""
	}
	return keyOf('y', a.Norm[:4])
}

// plausibleYear reports whether a year may be the implied year of a date
// written without one: within a year of the clock, or any year without one.
func (x *Index) plausibleYear(y string) bool {
	if x.clock.IsZero() {
		return true
	}
	n, err := strconv.Atoi(y)
	if err != nil {
		return false
	}
	d := n - x.clock.Year()
	return d >= -1 && d <= 1
}

// scopeOf returns the agent that alone sees step s: for a tool result, the
// agent whose call it answers, once more than one agent has called tools
// (nested agents, where a parent sees a sub-agent's findings only through
// what the sub-agent returns). Everything else, and every tool result in a
// single-agent run or a shared multi-agent history, is seen by all.
func (x *Index) scopeOf(s probity.Step) string {
	switch s.Kind {
	case probity.KindToolCall:
		if s.Actor == "" {
			return ""
		}
		if x.callers == nil {
			x.callers = map[string]string{}
		}
		if s.Tool != nil && s.Tool.ID != "" {
			x.callers[s.Tool.ID] = s.Actor
		}
		x.lastCaller = s.Actor
		if !x.callerSet[s.Actor] {
			if x.callerSet == nil {
				x.callerSet = map[string]bool{}
			}
			x.callerSet[s.Actor] = true
		}
	case probity.KindToolResult:
		if len(x.callerSet) < 2 {
			return ""
		}
		if s.Tool != nil && s.Tool.ID != "" {
			if a, ok := x.callers[s.Tool.ID]; ok {
				return a
			}
		}
		return x.lastCaller
	}
	return ""
}

// LooksLikePatch reports whether an agent's text is a diff (a coding
// agent's submission): its numbers and hashes are code, not claims, and its
// context lines quote the files rather than anything the agent chose.
func LooksLikePatch(t string) bool { return looksLikePatch(t) }

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
	rec.scope = x.scopeOf(s)
	if s.Tool != nil {
		rec.tool = s.Tool.Name
		rec.calc = s.Kind == probity.KindToolResult && x.classes.Calculator(s.Tool.Name)
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

// get returns the entry of the value with family fam and normal form norm,
// building its key in a scratch buffer: looking up a value already known
// allocates nothing.
func (x *Index) get(fam byte, norm string) *entry {
	x.kbuf = append(append(append(x.kbuf[:0], fam), ':'), norm...)
	return x.entries[string(x.kbuf)]
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
			e = x.newEntry()
			x.entries[k] = e
		}
		if input {
			e.addInput(occ{step: int32(slot), atom: ai}, x.steps[slot].scope)
		}
		if !input && (class == Grounded || class == Derived) && len(e.outs) < 16 {
			e.outs = append(e.outs, outOcc{actor: actor, at: occ{step: int32(slot), atom: ai}, class: class})
		}
	}
	e := x.get(a.family(), a.Norm)
	if e == nil {
		k := a.Key()
		e = x.newEntry()
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
		e.addInput(at, x.steps[slot].scope)
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
		// A full date also answers for its month and day alone ("May 20"),
		// under its own key: "May 20" is grounded by 2024-05-20, but
		// 2204-05-20 is not grounded by 2024-05-20.
		if input || supported(res) {
			x.dates = append(x.dates, at)
		}
		// The year alone is followed too, so a wrong year carried across
		// several dates ("May 23, 2204", "May 27, 2204") is one chain.
		yk := YearKey(a)
		ye := x.entries[yk]
		if ye == nil {
			ye = x.newEntry()
			x.entries[yk] = ye
		}
		if n := len(ye.steps); n == 0 || ye.steps[n-1] != int32(slot) {
			ye.steps = append(ye.steps, int32(slot))
		}
		mk := keyOf('M', a.Norm[5:])
		me := x.entries[mk]
		if me == nil {
			me = x.newEntry()
			x.entries[mk] = me
		}
		if input {
			me.addInput(at, x.steps[slot].scope)
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
	for _, sc := range e.scoped {
		if (actor == "" || sc.scope == actor) && int(sc.at.step) < before {
			return sc.at, true
		}
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
	// From a slab, like entries: most grounded values get a Source, and
	// one allocation per value was the index's most frequent.
	if len(x.srcSlab) == 0 {
		x.srcSlab = make([]Source, 64)
	}
	src := &x.srcSlab[0]
	x.srcSlab = x.srcSlab[1:]
	*src = Source{Step: x.posOf(at.step), Pos: r.pos, Kind: r.kind, Actor: r.actor, Tool: r.tool, Value: a.Raw,
		fam: a.family(), norm: a.Norm,
		text: r.text, start: a.Start, end: a.End, path: a.Path}
	return src
}

// classify is Classify for an atom of the step in slot (len(x.steps) for a
// step not yet added); same holds the atoms of that step before a, with
// their results, which may serve as operands ("121 × 3 = 363").
func (x *Index) classify(a Atom, actor string, slot int, same []Atom, sameRes []Result) Result {
	r := Result{Atom: a, Class: Ungrounded}
	if a.Kind == KindSuffix {
		key := a.Key()
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
	grounded := func(e *entry) bool {
		if e == nil {
			return false
		}
		at, ok := x.visible(e, actor, slot)
		if !ok {
			return false
		}
		r.Class, r.Source = Grounded, x.source(at)
		if x.steps[at.step].calc {
			r.Class, r.Note = Derived, "computed by tool "+x.steps[at.step].tool
		}
		return true
	}
	// 1. The value itself is visible (the common case: no allocation).
	self := x.get(a.family(), a.Norm)
	if grounded(self) {
		return r
	}
	keys := aliases(a)
	if a.Alt != "" {
		keys = append(keys, keyOf(a.family(), a.Alt))
	}
	if a.Kind == KindDate && len(a.Norm) == 10 && x.plausibleYear(a.Norm[:4]) {
		// A full date is grounded by the same month and day written
		// without a year ("May 20"), never by another year's date, and
		// only in a year near the run's clock when it has one.
		keys = append(keys, keyOf('m', a.Norm[5:]))
		if a.Alt != "" {
			keys = append(keys, keyOf('m', a.Alt[5:]))
		}
	}
	if a.Kind == KindDate && len(a.Norm) == 5 {
		keys = append(keys, keyOf('M', a.Norm))
	}
	// ... or one of its other forms is.
	for _, k := range keys {
		if grounded(x.entries[k]) {
			return r
		}
	}
	// 2. The same actor derived it before: it carries that class on.
	if e := self; e != nil {
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
	// 5. Sums of three or four visible values, small multiples of a sum;
	// not for a whole amount stated in a message, which such sums of
	// dozens of prices explain by coincidence more often than by
	// arithmetic ("$237" as 144.07 + 45.09 + 47.84).
	if wholeAmountClaim := a.Kind == KindMoney && a.Path == "" && !strings.Contains(a.Norm, "."); !wholeAmountClaim {
		if d, ok := x.derive(a, actor, slot, same, sameRes, true); ok {
			return d
		}
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
