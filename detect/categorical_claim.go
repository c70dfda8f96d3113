package detect

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/probity/probity/provenance"
)

// The categorical half of contradicted-claim: a record's category (cabin
// class, colour, size, membership tier, payment method) or a yes/no fact
// (insurance, availability) read in a tool result, then stated to the user
// as another value of the same field: "you are seated in business" when
// the reservation says economy, "your reservation includes travel
// insurance" when it says "insurance": "no".
//
// A field's vocabulary is every value the run's tool results gave that
// field, plus the values shops and airlines commonly use for fields of that
// name (categoryWords). A sentence is checked only when it asserts (no
// question, no offer, no change being made) and names a value of a field
// the agent read; the record is the one the sentence names by id, else
// every record of that field the agent read. The claim is contradicted when
// no such record has that value and no person in the run said it.

// catFact is one categorical value a tool result gave a record.
type catFact struct {
	field string   // normalised field name: "cabin", "color", "insurance"
	value string   // normalised value: "basic economy", "blue", "no"
	ids   []string // statusKey of every id on the path from the result's root to the value
	step  int      // index in Trace.Steps
	raw   string   // the value as the tool wrote it
}

// categoryWords are the usual values of common categorical fields, so that
// a value no tool of the run named ("first class") is still recognised as
// a value of the field. Field names are matched by their words.
var categoryWords = map[string][]string{
	"cabin":       {"basic economy", "economy", "premium economy", "business", "first class"},
	"color":       {"black", "white", "red", "blue", "green", "yellow", "purple", "pink", "orange", "grey", "gray", "silver", "gold", "brown", "beige", "navy", "teal", "rose gold", "space gray"},
	"size":        {"xs", "xl", "xxl", "small", "medium", "large", "extra large"},
	"membership":  {"regular", "silver", "gold", "platinum"},
	"material":    {"cotton", "polyester", "leather", "wool", "linen", "silk", "nylon", "plastic", "metal", "wood", "glass", "ceramic", "stainless steel", "aluminum"},
	"source":      {"credit card", "gift card", "paypal", "certificate", "debit card"},
	"flight_type": {"one way", "round trip"},
}

// needsFieldWord lists fields whose common values are everyday words
// ("small", "medium"): a sentence must name the field for them to count.
var needsFieldWord = map[string]bool{"size": true, "material": true}

// fieldAliases maps field names as tools write them to one field.
var fieldAliases = map[string]string{
	"colour": "color", "tier": "membership", "membership_level": "membership", "class": "cabin",
	"cabin_class": "cabin", "seat_class": "cabin", "payment_method": "source", "trip_type": "flight_type",
}

// fieldWords are what a sentence says when it talks about a field.
var fieldWords = map[string][]string{
	"cabin": {"cabin", "class", "seat"}, "color": {"color", "colour"}, "size": {"size"},
	"membership": {"member", "tier", "status"}, "material": {"material", "made of"},
	"source": {"pay", "paid", "card", "method"}, "insurance": {"insur"}, "flight_type": {"trip", "way"},
}

func normField(k string) string {
	k = strings.ToLower(k)
	if a, ok := fieldAliases[k]; ok {
		return a
	}
	return k
}

func normCat(v string) string {
	return strings.Join(strings.Fields(strings.ToLower(keySpaces.Replace(v))), " ")
}

// collectCategories records the categorical values of one tool result.
func collectCategories(content string, step int, facts *[]catFact) {
	t := strings.TrimSpace(content)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') || len(t) > 1<<20 {
		return
	}
	var v any
	if json.Unmarshal([]byte(t), &v) != nil {
		return
	}
	var walk func(v any, ids []string, depth int)
	walk = func(v any, ids []string, depth int) {
		if depth > 8 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			own := ids
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "id" || strings.HasSuffix(k, "_id")) && s != "" {
					own = append(own[:len(own):len(own)], statusKey(s))
				}
			}
			for k, e := range x {
				f := normField(k)
				switch y := e.(type) {
				case string:
					if _, known := categoryWords[f]; known || isYesNo(y) && f != "available" {
						if len(y) <= 32 && y != "" {
							*facts = append(*facts, catFact{field: f, value: catValue(f, y), ids: own, step: step, raw: y})
						}
					}
				case bool:
					if f == "available" || f == "success" || f == "ok" {
						break // availability is the status check's; success is swallowed-error's
					}
					*facts = append(*facts, catFact{field: f, value: map[bool]string{true: "yes", false: "no"}[y], ids: own, step: step, raw: fmt.Sprint(y)})
				}
				walk(e, own, depth+1)
			}
		case []any:
			for _, e := range x {
				walk(e, ids, depth+1)
			}
		}
	}
	walk(v, nil, 0)
}

// sizeLetters spell out the letter sizes agents expand ("M" said as
// "medium"): the same value, not a contradiction.
var sizeLetters = map[string]string{"s": "small", "m": "medium", "l": "large", "xl": "extra large"}

// catValue normalises a categorical value of field f.
func catValue(f, v string) string {
	n := yesNo(normCat(v))
	if f == "size" {
		if w, ok := sizeLetters[n]; ok {
			return w
		}
	}
	return n
}

func isYesNo(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "no", "true", "false":
		return true
	}
	return false
}

func yesNo(s string) string {
	switch s {
	case "true":
		return "yes"
	case "false":
		return "no"
	}
	return s
}

// reNotAssertive marks a sentence that asks, offers, plans or narrates a
// change rather than stating a fact: its values are not claims.
var reNotAssertive = regexp.MustCompile(`(?i)\?|\b(?:if|would|could|can|may|might|will|shall|want|wish|like to|prefer|please|upgrade|downgrade|change|changing|switch|modify|update|add|adding|purchase|buy|option|options|choose|select|instead|offer|available in|request|requested|new|must|should|need|needs|cannot|can't)\b`)

// reGeneral marks a sentence about rules or possibilities, not about the
// record: "insurance cannot be added after booking", "insurance typically
// applies to ...".
var reGeneral = regexp.MustCompile(`(?i)\b(?:cannot|can't|unable|must|typically|usually|generally|policy|policies|terms|qualif\w*|only|understand|importance|important|allowed|eligible|requires?|need)\b`)

// reAboutYou marks a sentence about the user's own record.
var reAboutYou = regexp.MustCompile(`(?i)\b(?:your|you(?:'re| are| have)?|(?:the|this|that)\s+(?:reservation|booking|order|flight|trip|ticket|account|item|product))\b`)

// reNegated marks a sentence that denies what it names.
var reNegated = regexp.MustCompile(`(?i)\b(?:no|not|without|none|neither|nor|never|doesn't|does not|isn't|is not|don't|do not|didn't|did not|lacks?|excludes?|out of stock|unavailable|sold out)\b|n't\b`)

// categoricalClaims returns the contradicted categorical claims of the
// agent message at step i.
func categoricalClaims(c *Context, i int, facts []catFact, said, read string) []provenance.Result {
	if len(facts) == 0 {
		return nil
	}
	s := &c.Trace.Steps[i]
	text := s.Content
	byField := map[string][]catFact{}
	vocab := map[string]map[string]bool{}
	for _, f := range facts {
		byField[f.field] = append(byField[f.field], f)
		if vocab[f.field] == nil {
			vocab[f.field] = map[string]bool{}
		}
		vocab[f.field][f.value] = true
	}
	var out []provenance.Result
	for _, sent := range sentences(text) {
		low := strings.ToLower(sent.text)
		if reNotAssertive.MatchString(low) {
			continue
		}
		ids := sentenceIDs(sent.text)
		for field, fs := range byField {
			scoped := scopeFacts(fs, ids)
			if len(scoped) == 0 {
				continue
			}
			if fs[0].value == "yes" || fs[0].value == "no" {
				if r, ok := yesNoClaim(c, i, field, scoped, sent, low); ok {
					out = append(out, r)
				}
				continue
			}
			if r, ok := categoryClaim(c, i, field, scoped, vocab[field], sent, low, said, read); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// categoryClaim checks one sentence for a value of field that none of the
// scoped records has.
func categoryClaim(c *Context, i int, field string, scoped []catFact, seen map[string]bool, sent sentence, low, said, read string) (provenance.Result, bool) {
	words := append([]string(nil), categoryWords[field]...)
	for v := range seen {
		words = append(words, v)
	}
	// Longest first, masking what matched, so "basic economy" is not
	// also read as "economy".
	sort.Slice(words, func(a, b int) bool { return len(words[a]) > len(words[b]) })
	masked := []byte(keySpaces.Replace(low))
	var claimed []string
	for _, w := range words {
		if w == "" {
			continue
		}
		for off := 0; ; {
			k := strings.Index(string(masked[off:]), w)
			if k < 0 {
				break
			}
			k += off
			e := k + len(w)
			off = e
			if k > 0 && isWordByte(masked[k-1]) || e < len(masked) && isWordByte(masked[e]) {
				continue
			}
			claimed = append(claimed, w)
			for j := k; j < e; j++ {
				masked[j] = ' '
			}
		}
	}
	if len(claimed) != 1 {
		return provenance.Result{}, false // none, or a list of options
	}
	v := claimed[0]
	if needsFieldWord[field] && !fieldNamed(field, low) {
		return provenance.Result{}, false
	}
	if !seen[v] && !sameScale(field, seen) {
		// The run's values of this field are of another kind ("6 ft",
		// not "large"): the usual words say nothing about them.
		return provenance.Result{}, false
	}
	if !seen[v] && len(sentenceIDs(sent.text)) == 0 && !reAboutYou.MatchString(low) && !fieldNamed(field, low) {
		// A value no tool gave this field, in a sentence that names
		// neither a record nor the field: not a claim about what the
		// agent read.
		return provenance.Result{}, false
	}
	for _, f := range scoped {
		if f.value == v {
			return provenance.Result{}, false
		}
	}
	if strings.Contains(said, v) {
		return provenance.Result{}, false // a person named it: a request, not a misreading
	}
	if strings.Contains(read, v) {
		// A tool named it somewhere (another item's option, another
		// field): the agent may be talking about that.
		return provenance.Result{}, false
	}
	if reNegated.MatchString(low) {
		return provenance.Result{}, false // "not in business" denies, it does not claim
	}
	f := scoped[len(scoped)-1]
	return catResult(c, i, f, sent, v), true
}

// yesNoClaim checks one sentence that names a yes/no field for the
// opposite of the scoped records' value.
func yesNoClaim(c *Context, i int, field string, scoped []catFact, sent sentence, low string) (provenance.Result, bool) {
	if !fieldNamed(field, low) || reGeneral.MatchString(low) || len(sentenceIDs(sent.text)) == 0 && !reAboutYou.MatchString(low) {
		return provenance.Result{}, false
	}
	want := scoped[len(scoped)-1].value
	for _, f := range scoped {
		if f.value != want {
			return provenance.Result{}, false // the records disagree: no single fact to contradict
		}
	}
	claimed := "yes"
	if reNegated.MatchString(low) {
		claimed = "no"
	}
	if claimed == want {
		return provenance.Result{}, false
	}
	return catResult(c, i, scoped[len(scoped)-1], sent, claimed), true
}

// sameScale reports whether some value the run gave field is one of its
// usual words, so that the usual words are values of the same kind.
func sameScale(field string, seen map[string]bool) bool {
	for _, w := range categoryWords[field] {
		if seen[w] {
			return true
		}
	}
	return false
}

// fieldNamed reports whether a sentence names field (its words, or the
// field's own name).
func fieldNamed(field, low string) bool {
	ws := fieldWords[field]
	if len(ws) == 0 {
		ws = []string{strings.ReplaceAll(field, "_", " ")}
	}
	for _, w := range ws {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

func catResult(c *Context, i int, f catFact, sent sentence, claimed string) provenance.Result {
	src := c.Trace.Steps[f.step]
	tool := ""
	if src.Tool != nil {
		tool = src.Tool.Name
	}
	return provenance.Result{
		Atom:  provenance.Atom{Kind: provenance.KindQuoted, Raw: clip(sent.text, 120), Start: sent.start, End: sent.start + len(sent.text)},
		Step:  i,
		Class: provenance.Ungrounded,
		Source: &provenance.Source{Step: f.step, Pos: src.Pos, Kind: src.Kind, Actor: src.Actor, Tool: tool,
			Value: fmt.Sprintf("%s: %q", f.field, f.raw)},
		Note: fmt.Sprintf("status: the agent says %s %q, the tool said %q at step %d", f.field, claimed, f.raw, src.Pos.Index),
	}
}

// scopeFacts returns the facts about the records a sentence names by id,
// or all facts when it names none of theirs.
func scopeFacts(fs []catFact, ids map[string]bool) []catFact {
	if len(ids) == 0 {
		return fs
	}
	var out []catFact
	for _, f := range fs {
		for _, id := range f.ids {
			if ids[id] {
				out = append(out, f)
				break
			}
		}
	}
	if out == nil {
		return fs
	}
	return out
}

var reIDWord = regexp.MustCompile(`#?[A-Za-z]*\d[\w-]*`)

// sentenceIDs returns the statusKey of every id-like token of a sentence.
func sentenceIDs(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range reIDWord.FindAllString(s, -1) {
		if len(w) >= 4 {
			m[statusKey(w)] = true
		}
	}
	return m
}

type sentence struct {
	text  string
	start int
}

// sentences splits text at sentence ends (see sentenceEnd) and line breaks.
func sentences(text string) []sentence {
	var out []sentence
	start := 0
	for i := 0; i < len(text); i++ {
		if sentenceEnd(text, i) {
			if strings.TrimSpace(text[start:i+1]) != "" {
				out = append(out, sentence{text[start : i+1], start})
			}
			start = i + 1
		}
	}
	if strings.TrimSpace(text[start:]) != "" {
		out = append(out, sentence{text[start:], start})
	}
	return out
}
