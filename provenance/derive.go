package provenance

import (
	"math"
	"strconv"
	"strings"
	"time"
)

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
	case a.Kind == KindNumber && len(a.Raw) > 0 && isAlpha(a.Raw[len(a.Raw)-1]):
		return opNone // a measure with a unit ("512GB", "1000ml"), not an amount
	case c%100 == 0 && c <= 3100 && a.Kind != KindMoney:
		return opCount
	case c%100 == 0 && c >= 1000000 && a.Kind != KindMoney:
		return opNone // a zip code, a year-like or id-like integer
	case c%100 == 0 && c >= 190000 && c <= 210000 && a.Kind == KindNumber:
		return opNone // a year
	}
	return opAdd
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

// window is how many recent steps give operands.
func (x *Index) window() int {
	if x.narrow {
		return AmbiguityWindow
	}
	return DerivedWindow
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
	// ip and fp padded to two digits, read without building the string.
	var v int64
	for k := 0; k < len(ip); k++ {
		v = v*10 + int64(ip[k]-'0')
	}
	for k := 0; k < 2; k++ {
		v *= 10
		if k < len(fp) {
			v += int64(fp[k] - '0')
		}
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
	// The maps are emptied and reused: a pool is rebuilt for most output
	// steps, and c points into x.cache, so whoever reads c sees the new
	// contents either way.
	addIdx := c.addIdx
	if addIdx == nil {
		addIdx = map[int64]int{}
	}
	clear(addIdx)
	*c = opSet{slot: slot, actor: actor, narrow: x.narrow, ok: true, nums: len(x.nums), addIdx: addIdx}
	if x.poolSeen == nil {
		x.poolSeen = map[int64]bool{}
	}
	seen := x.poolSeen
	clear(seen)
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
