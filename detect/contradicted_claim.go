package detect

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// ContradictedClaim reports values an agent states in a message (to the
// user, or to other agents in a shared history) that the evidence
// contradicts or that nothing supports: a price, an order id, a date that
// differs from what the tools returned.
//
// A value is contradicted when a visible value of the same kind is one edit
// away (a near-miss: "$54.40" when the tool said 54.04), or when it is an
// unsupported amount and a visible amount within 50% exists: the agent is
// talking about that value and got it wrong. Both are high, except a
// near-miss that one arithmetic step over visible values also explains
// (Result.AlsoDerived: "$171" near a visible 141 but also 500 - 329), or a
// plain number near another (line 1073 next to line 1074), which is low. An unsupported date near a visible one, or an unsupported
// identifier, email, phone number, amount or date with nothing close, is
// medium ("nothing supports it"); an unsupported plain number, time or
// percentage is low. Weak atoms (small integers, years, quoted text,
// anything inside Markdown code) are never reported. Each message yields at
// most one finding, at the severity of its worst value, with every bad value
// as evidence.
//
// A status is checked too: when a tool result describes a record (an object
// with order_id, reservation_id, item_id or id and a "status" string or an
// "available" boolean) and a later message names that record and, within
// the clause that follows it, a status seen in tool results (or
// "available", "out of stock") other than its latest one ("#W1 is
// delivered", "#W1: Delivered", "#W1 (delivered"), the claim is high. Only
// a status that opens the clause, after at most one linking verb, counts,
// so "#W1 will be delivered" or "#W1 and the delivered orders" do not.
//
// Limits: a claim is compared by value, not by meaning. "3 t-shirts
// available" when the tool listed 4 is a weak count and is not checked; a
// status is tied to the record named just before it, so "the order you
// asked about is delivered" without the id is not checked; a wrong value
// that happens to be a sum of visible numbers is taken as derived.
type ContradictedClaim struct{}

// ID returns "contradicted-claim".
func (ContradictedClaim) ID() string { return "contradicted-claim" }

// Detect implements Detector.
func (d ContradictedClaim) Detect(c *Context) []probity.Finding {
	if c == nil || c.Trace == nil || c.Prov == nil {
		return nil
	}
	var out []probity.Finding
	facts := map[string]statusFact{}
	vocab := map[string]bool{}
	for _, st := range baseStatuses {
		vocab[st] = true
	}
	var cats []catFact
	var said strings.Builder // what people said, normalised, for requests
	var read strings.Builder // what tools said, normalised, up to readCap bytes
	for i := range c.Trace.Steps {
		s := &c.Trace.Steps[i]
		if s.Kind == probity.KindToolResult && s.Error == nil {
			collectStatus(s.Content, i, facts, vocab)
			collectCategories(s.Content, i, &cats)
			if read.Len() < readCap {
				read.WriteString(normCat(head(s.Content, readCap)))
				read.WriteByte('\n')
			}
		}
		if s.Kind == probity.KindUser && !isObservation(s) {
			said.WriteString(normCat(s.Content))
			said.WriteByte('\n')
		}
		if s.Kind != probity.KindAssistant && s.Kind != probity.KindFinal {
			continue
		}
		var bad []provenance.Result
		sev := probity.SeverityNone
		conf := 0.0
		worst := -1
		if len(facts) > 0 {
			for _, r := range statusClaims(c, i, facts, vocab) {
				bad = append(bad, r)
				if sev < probity.SeverityHigh {
					sev, worst, conf = probity.SeverityHigh, len(bad)-1, 0.7
				}
			}
		}
		for _, r := range categoricalClaims(c, i, cats, said.String(), read.String()) {
			bad = append(bad, r)
			if sev < probity.SeverityHigh {
				sev, worst, conf = probity.SeverityHigh, len(bad)-1, 0.7
			}
		}
		for _, r := range c.Prov.Values(i) {
			if r.Atom.Path != "" {
				continue
			}
			rs, rc := claimSeverity(r)
			if rs == probity.SeverityNone {
				continue
			}
			bad = append(bad, r)
			if rs > sev {
				sev, worst = rs, len(bad)-1
			}
			if rc > conf {
				conf = rc
			}
		}
		if len(bad) == 0 {
			continue
		}
		out = append(out, c.finding(i, probity.Finding{
			Detector:   d.ID(),
			Severity:   sev,
			Confidence: conf,
			Message:    claimMessage(bad[worst], len(bad)),
			Evidence:   evidenceOf(c, bad),
		}))
	}
	return out
}

// readCap bounds the tool output kept to tell a categorical value some
// tool named from one none did.
const readCap = 4 << 20

// contradicts reports whether an unsupported value has a visible
// counterpart close enough that the agent was evidently quoting it wrong.
func contradicts(r provenance.Result) bool {
	if r.Class == provenance.NearMiss {
		return true
	}
	if r.Source == nil {
		return false
	}
	switch r.Atom.Kind {
	case provenance.KindMoney, provenance.KindDate:
		return true // Source is the nearest visible amount (within 50%) or date (within a month)
	}
	return false
}

func claimSeverity(r provenance.Result) (probity.Severity, float64) {
	if r.Class != provenance.Ungrounded && r.Class != provenance.NearMiss {
		return probity.SeverityNone, 0
	}
	a := r.Atom
	if a.Weak() || a.Kind == provenance.KindPath || a.Kind == provenance.KindURL || a.Kind == provenance.KindQuoted {
		return probity.SeverityNone, 0
	}
	if contradicts(r) {
		switch {
		case r.Class == provenance.NearMiss && r.AlsoDerived != "":
			return probity.SeverityMedium, 0.5
		case r.Class == provenance.NearMiss && a.Kind == provenance.KindNumber:
			// A plain number one digit from a visible one: line 1073 next
			// to line 1074 is a neighbour as often as a miscopy. Cascade
			// reports it when later steps carry it on.
			return probity.SeverityLow, 0.4
		case r.Class == provenance.NearMiss:
			return probity.SeverityHigh, 0.9
		case a.Kind == provenance.KindDate:
			return probity.SeverityMedium, 0.5
		}
		return probity.SeverityHigh, 0.7
	}
	switch a.Kind {
	case provenance.KindID, provenance.KindEmail, provenance.KindPhone, provenance.KindMoney, provenance.KindDate,
		provenance.KindSuffix:
		return probity.SeverityMedium, 0.6
	}
	return probity.SeverityLow, 0.4
}

func claimMessage(r provenance.Result, n int) string {
	more := ""
	if n > 1 {
		more = fmt.Sprintf(" (and %d more unsupported value(s))", n-1)
	}
	if strings.HasPrefix(r.Note, "status: ") {
		return fmt.Sprintf("the agent gives %s a status the evidence contradicts (%s)%s",
			r.Atom.Raw, strings.TrimPrefix(r.Note, "status: "), more)
	}
	if contradicts(r) && r.Source != nil {
		rel := r.Note
		if rel == "" || rel == "nearest visible value" {
			rel = "different value"
		}
		return fmt.Sprintf("the agent states %s %q but the evidence says %q at step %d (%s)%s",
			r.Atom.Kind, r.Atom.Raw, r.Source.Value, r.Source.Pos.Index, rel, more)
	}
	return fmt.Sprintf("the agent states %s %q that nothing it saw supports%s", r.Atom.Kind, r.Atom.Raw, more)
}

// The status half of contradicted-claim: "your order #W123 has been
// delivered" when the tool said it is pending.

// statusFact is what a tool result said about one record.
type statusFact struct {
	status string // lower case: "pending", "delivered", "available", ...
	raw    string // the record's id as the tool wrote it
	step   int    // index in Trace.Steps
}

// collectStatus records, from one tool result, the status of every record
// it describes: an object with an id field (order_id, reservation_id,
// item_id, id) and a "status" string or an "available" boolean. Later
// results overwrite earlier ones, so a claim is checked against the latest.
func collectStatus(content string, step int, facts map[string]statusFact, vocab map[string]bool) {
	t := strings.TrimSpace(content)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') || len(t) > 1<<20 ||
		!strings.Contains(t, `"status"`) && !strings.Contains(t, `"available"`) ||
		!strings.Contains(t, `id"`) {
		return // decoding is the costly part: skip results that cannot hold an id's status
	}
	var v any
	if json.Unmarshal([]byte(t), &v) != nil {
		return
	}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 8 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			id := ""
			for _, k := range []string{"order_id", "reservation_id", "item_id", "id"} {
				if s, ok := x[k].(string); ok && s != "" {
					id = s
					break
				}
			}
			if id != "" {
				if s, ok := x["status"].(string); ok && s != "" && len(s) < 32 {
					st := normStatus(strings.ToLower(s))
					facts[statusKey(id)] = statusFact{status: st, raw: id, step: step}
					vocab[st] = true
				} else if b, ok := x["available"].(bool); ok {
					st := "unavailable"
					if b {
						st = "available"
					}
					facts[statusKey(id)] = statusFact{status: st, raw: id, step: step}
				}
			}
			for _, e := range x {
				walk(e, depth+1)
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	walk(v, 0)
}

func statusKey(id string) string { return provenance.IDAtom(id).Key() }

// baseStatuses are the record states named often enough in any shop or
// booking system to be recognised before a tool has used them.
var baseStatuses = []string{"pending", "processing", "processed", "shipped", "delivered", "cancelled", "returned",
	"refunded", "exchanged", "confirmed", "completed"}

// normStatus folds spelling variants ("canceled") into one form.
func normStatus(s string) string {
	if s == "canceled" {
		return "cancelled"
	}
	return s
}

// sameStatus reports whether a claimed status agrees with the recorded one:
// equal, or one a word of the other ("pending" for "refund_pending").
func sameStatus(claimed, recorded string) bool {
	if claimed == recorded {
		return true
	}
	words := strings.FieldsFunc(recorded, func(r rune) bool { return r == '_' || r == ' ' || r == '-' })
	for _, w := range words {
		if w == claimed {
			return true
		}
	}
	return false
}

// mentionsStatus reports whether a clause names any status, or an action
// that changes one.
func mentionsStatus(clause string, vocab map[string]bool) bool {
	for st := range vocab {
		if strings.Contains(clause, st) {
			return true
		}
	}
	for _, w := range []string{"cancel", "return", "exchang", "modif", "refund", "updat", "chang"} {
		if strings.Contains(clause, w) {
			return true
		}
	}
	return false
}

// statusBefore matches what may stand between a status-and-noun and the
// record it qualifies: "Delivered Orders (#W1 and ", "the pending order ".
var statusBefore = regexp.MustCompile(`^(?:\s*(?:orders?|reservations?|items?|flights?)\b)?[\s(*:,\-–]*(?:#?\w+[\s,]*(?:and\s+)?)*$`)

// trailingStatus returns the status word that qualifies the record right
// after head ("delivered orders (#W1 and #W2"), or "".
func trailingStatus(head string, vocab map[string]bool) string {
	if k := strings.LastIndexAny(head, ".!?\n;|"); k >= 0 {
		head = head[k+1:]
	}
	best, bestAt := "", -1
	for st := range vocab {
		if st == "" {
			continue
		}
		j := strings.LastIndex(head, st)
		if j < 0 || j > 0 && isASCIILetter(head[j-1]) || j <= bestAt {
			continue
		}
		rest := head[j+len(st):]
		if rest != "" && isASCIILetter(rest[0]) {
			continue
		}
		if statusBefore.MatchString(rest) {
			best, bestAt = st, j
		}
	}
	return best
}

// statusVerbs may stand between a record and its status: "#W1 is
// delivered", "#W1 has been cancelled", "#W1: Pending", "#W1 (delivered".
var statusVerbs = []string{"is currently ", "is now ", "is still ", "is ", "was ", "has been ", "have been ",
	"are ", "status is ", "status: ", "status ", "currently ", "shows as ", "shows "}

// leadingStatus returns the status word a clause opens with, after markup
// and one linking verb, or "" when it opens with anything else (a hedge
// such as "is not" or "will be" included).
func leadingStatus(clause string, vocab map[string]bool) string {
	c := strings.TrimLeft(clause, " *:)(-–—_,")
	for _, v := range statusVerbs {
		if strings.HasPrefix(c, v) {
			c = c[len(v):]
			break
		}
	}
	c = strings.TrimLeft(c, " *:(")
	if strings.HasPrefix(c, "out of stock") {
		return "unavailable"
	}
	end := 0
	for end < len(c) && isASCIILetter(c[end]) {
		end++
	}
	w := normStatus(c[:end])
	switch {
	case w == "unavailable":
		return "unavailable"
	case vocab[w] || w == "available":
		return w
	}
	return ""
}

// statusClaims returns findings for sentences of an assistant message at
// step i that give a record a status the latest tool result contradicts.
func statusClaims(c *Context, i int, facts map[string]statusFact, vocab map[string]bool) []provenance.Result {
	s := c.Trace.Steps[i]
	text := s.Content
	var out []provenance.Result
	for _, r := range c.Prov.Values(i) {
		a := r.Atom
		if a.Path != "" || a.InCode || a.Kind != provenance.KindID {
			continue
		}
		f, ok := facts[a.Key()]
		if !ok {
			continue
		}
		// The clause after the id, up to the end of the sentence or the
		// next id, at most 80 bytes.
		end := a.End + 80
		if end > len(text) {
			end = len(text)
		}
		clause := text[a.End:end]
		if k := strings.IndexAny(clause, ".!?\n;#"); k >= 0 {
			clause = clause[:k]
		}
		lowClause := strings.ToLower(clause)
		claimed := leadingStatus(lowClause, vocab)
		if claimed == "" && !mentionsStatus(lowClause, vocab) {
			// "Delivered orders (#W1 and #W2)": only when nothing after the
			// id speaks of its state ("your pending order #W1 has been
			// cancelled" narrates a change).
			claimed = trailingStatus(strings.ToLower(text[max(0, a.Start-60):a.Start]), vocab)
		}
		if claimed == "" || sameStatus(claimed, f.status) {
			continue
		}
		src := c.Trace.Steps[f.step]
		tool := ""
		if src.Tool != nil {
			tool = src.Tool.Name
		}
		out = append(out, provenance.Result{
			Atom:  a,
			Step:  i,
			Class: provenance.Ungrounded,
			Source: &provenance.Source{Step: f.step, Pos: src.Pos, Kind: src.Kind, Actor: src.Actor, Tool: tool,
				Value: fmt.Sprintf("%s: %q", f.raw, f.status)},
			Note: fmt.Sprintf("status: the agent says %q, the tool said %q for %s at step %d",
				claimed, f.status, f.raw, src.Pos.Index),
		})
	}
	return out
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
