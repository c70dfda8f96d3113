package detect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// Cascade reports an unsupported value (ungrounded or near-miss) that an
// agent introduced at one step and that later steps carried on: repeated to
// the user, passed to tools, echoed back by tool results, relayed by other
// agents. The finding sits on the step where the value was born and its
// BlastRadius lists the source position of every later step the value
// reached; side-effecting tool calls among them are named in the message
// and get their own evidence entry (Kind "side-effect").
//
// Severity is high when the value reached a side-effecting action (or was
// born in one and then carried on), medium otherwise: an unsupported value
// that the run repeats, echoes or relays is already a chain worth seeing.
// Weak atoms are ignored, as are values inside code, plain numbers in prose,
// and near-misses that one arithmetic step also explains
// (Result.AlsoDerived); a near-miss of a number of four or more digits is
// followed, in prose or code, unless it looks picked (see specificNumber)
// or the agent keeps using the visible number too.
type Cascade struct{}

// ID returns "cascade".
func (Cascade) ID() string { return "cascade" }

// Detect implements Detector.
func (d Cascade) Detect(c *Context) []probity.Finding {
	if c == nil || c.Trace == nil || c.Prov == nil {
		return nil
	}
	var out []probity.Finding
	seen := map[string]bool{}
	steps := c.Trace.Steps
	for i := range steps {
		for _, r := range c.Prov.Values(i) {
			if r.Class != provenance.Ungrounded && r.Class != provenance.NearMiss {
				continue
			}
			if r.Class == provenance.NearMiss && r.AlsoDerived != "" {
				continue // more likely a computed value than a corrupted copy
			}
			a := r.Atom
			// A near-miss of a specific number is followed even inside code:
			// "sed -n '1693,2000p'" after the listing showed line 1963.
			nearCode := r.Class == provenance.NearMiss && a.InCode && (a.Kind == provenance.KindID || specificNumber(c, i, r))
			if a.Weak() && !nearCode || a.Kind == provenance.KindPath || a.Kind == provenance.KindQuoted || a.Kind == provenance.KindURL {
				continue
			}
			if !cascadeWorthy(c, i, r) {
				continue
			}
			key := a.Key()
			if seen[key] || r.Origin != i {
				continue
			}
			seen[key] = true
			later := c.Prov.Consumers(key, i)
			if yk := provenance.YearKey(a); yk != "" && c.Prov.FirstSeen(yk) == i {
				// A year nothing before used: it is the corrupted part, and
				// every later date in that year carries it.
				later = c.Prov.Consumers(yk, i)
			}
			if len(later) == 0 {
				continue
			}
			if a.Kind == provenance.KindNumber && r.Source != nil && agentUsesLater(c, r.Source.Key(), i) {
				// The agent goes on using the visible number too: 1065 was
				// a neighbour of line 1075, not a corrupted copy of it.
				continue
			}
			out = append(out, d.finding(c, i, r, later))
		}
	}
	return out
}

func (d Cascade) finding(c *Context, i int, r provenance.Result, later []int) probity.Finding {
	steps := c.Trace.Steps
	origin := &steps[i]
	sev := probity.SeverityMedium
	bornInAction := origin.Kind == probity.KindToolCall && origin.Tool != nil && c.SideEffecting(origin.Tool.Name)
	var actions []string
	var radius []int
	ev := evidenceOf(c, []provenance.Result{r})
	lastPos := -1
	for _, j := range later {
		s := &steps[j]
		if s.Pos.Index != lastPos {
			radius = append(radius, s.Pos.Index)
			lastPos = s.Pos.Index
		}
		switch {
		case s.Kind == probity.KindToolCall && s.Tool != nil && c.SideEffecting(s.Tool.Name):
			sev = probity.SeverityHigh
			actions = append(actions, fmt.Sprintf("%s at step %d", s.Tool.Name, s.Pos.Index))
			ev = append(ev, probity.Evidence{
				Value:      r.Atom.Raw,
				Kind:       "side-effect",
				Source:     callSnippet(s),
				SourceStep: s.Pos.Index,
				Note:       "reached side-effecting action " + s.Tool.Name,
			})
		}
	}
	if bornInAction {
		sev = probity.SeverityHigh
	}
	radius = uniqueSorted(radius)
	conf := 0.6
	switch {
	case r.Class == provenance.NearMiss && r.Atom.Kind == provenance.KindNumber:
		conf = 0.4 // a plain number near another may be a neighbour (line 1073 by 1074)
	case r.Class == provenance.NearMiss:
		conf = 0.85
	}
	what := "unsupported"
	if r.Class == provenance.NearMiss && r.Source != nil {
		what = fmt.Sprintf("near-miss of %q", r.Source.Value)
	}
	msg := fmt.Sprintf("%s %q (%s) introduced here reached %d later step(s)", r.Atom.Kind, r.Atom.Raw, what, len(radius))
	if len(actions) > 0 {
		msg += ", including side-effecting " + strings.Join(actions, ", ")
	}
	return c.finding(i, probity.Finding{
		Detector:    d.ID(),
		Severity:    sev,
		Confidence:  conf,
		Message:     msg,
		Evidence:    ev,
		BlastRadius: radius,
	})
}

// callSnippet quotes a tool call briefly: name(args), at most ~100 bytes.
func callSnippet(s *probity.Step) string {
	args := string(s.Tool.Args)
	if args == "" {
		args = s.Tool.RawArgs
	}
	if len(args) > 90 {
		cut := 90
		for cut > 0 && args[cut]&0xC0 == 0x80 {
			cut--
		}
		args = args[:cut] + "…"
	}
	return s.Tool.Name + "(" + args + ")"
}

func uniqueSorted(xs []int) []int {
	sort.Ints(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// cascadeWorthy reports whether a value names something specific enough
// that carrying it on matters: identifiers, money, dates, contact details,
// and any value of a structured tool argument. A plain number in prose
// ("line 1187") recurring later is not a cascade.
func cascadeWorthy(c *Context, i int, r provenance.Result) bool {
	a := r.Atom
	if !a.Prose {
		return true
	}
	if r.Class == provenance.NearMiss && (a.Kind == provenance.KindID || specificNumber(c, i, r)) {
		return true // a corrupted copy of a specific number, in prose or code
	}
	switch a.Kind {
	case provenance.KindDate:
		return true // a date is specific wherever it is written
	case provenance.KindID, provenance.KindEmail, provenance.KindPhone, provenance.KindMoney, provenance.KindSuffix:
		return r.Class == provenance.NearMiss || a.Path == "" || strongProse(a)
	}
	return false
}

// specificNumber reports whether a plain number of four or more digits is
// specific enough for a near-miss of it to be a corrupted copy. Round
// numbers and year-like ones are what agents pick themselves: they round
// ("sed -n '1080,1120p'" after seeing line 1081) and write years, so a
// changed digit that lands on one is no evidence of copying. Two adjacent
// digits swapped is: rounding does not swap digits, so 2201 → 2210 or
// 1750 → 7150 is a corrupted copy however round the result, except at the
// end of a range above its start ("2721,2740"), the bound an agent picks
// for what it wants to see.
func specificNumber(c *Context, i int, r provenance.Result) bool {
	a := r.Atom
	n := a.Norm
	if a.Kind != provenance.KindNumber || len(n) < 4 {
		return false
	}
	round := n[len(n)-1] == '0'
	year := len(n) == 4 && (n[:2] == "19" || n[:2] == "20")
	if !round && !year {
		return true
	}
	if round && pickedBound(c, i, a) {
		return false
	}
	return r.Class == provenance.NearMiss && strings.Contains(r.Note, "swapped")
}

// pickedBound reports whether a sits at the end of a range whose start is
// below it ("sed -n '2721,2740p'", "lines 1383-1420"): a bound the agent
// chose. A "range" that runs backwards ("2007-0220") is no such choice.
func pickedBound(c *Context, i int, a provenance.Atom) bool {
	if a.Path != "" {
		return false
	}
	t := c.Trace.Steps[i].Content
	if a.Start > len(t) || a.Start < 2 {
		return false
	}
	j := a.Start
	for j > 0 && t[j-1] == ' ' {
		j--
	}
	if j == 0 || !(t[j-1] == ',' || t[j-1] == '-') {
		return false
	}
	j--
	for j > 0 && t[j-1] == ' ' {
		j--
	}
	k := j
	for k > 0 && t[k-1] >= '0' && t[k-1] <= '9' {
		k--
	}
	if k == j {
		return false
	}
	lo, err1 := strconv.Atoi(t[k:j])
	hi, err2 := strconv.Atoi(a.Norm)
	return err1 == nil && err2 == nil && lo < hi
}

// agentUsesLater reports whether an agent output after step i carries the
// value with key. A diff the agent submits does not count: its context
// lines quote the file as it is, and a corrupted edit leaves the original
// value standing there beside it.
func agentUsesLater(c *Context, key string, i int) bool {
	for _, j := range c.Prov.Consumers(key, i) {
		s := &c.Trace.Steps[j]
		switch s.Kind {
		case probity.KindAssistant, probity.KindToolCall, probity.KindFinal:
			if provenance.LooksLikePatch(s.Content) {
				continue // a diff's context lines quote the file, not the agent
			}
			return true
		}
	}
	return false
}
