package blindinject

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var contradictionVariants = []variant{
	{"amount-restated", func(p *planter) (string, error) { return p.contradictAmount(false) }},
	{"amount-reformatted", func(p *planter) (string, error) { return p.contradictAmount(true) }},
	{"status-restated", func(p *planter) (string, error) { return p.contradictMention(true) }},
	{"category-restated", func(p *planter) (string, error) { return p.contradictMention(false) }},
	{"status-sentence", func(p *planter) (string, error) { return p.contradictSentence(sentStatus) }},
	{"yes-no-fact-sentence", func(p *planter) (string, error) { return p.contradictSentence(sentYesNo) }},
	{"category-sentence", func(p *planter) (string, error) { return p.contradictSentence(sentCategory) }},
}

// claimSite is an assistant message to the user and the tool results the
// agent read in the same turn, just before it.
type claimSite struct {
	rec     int
	results []string // contents of the turn's tool results, latest first
}

func (p *planter) claimSites() []claimSite {
	var out []claimSite
	for i, m := range p.ms {
		if !m.isAssistant() || strings.TrimSpace(m.text()) == "" {
			continue
		}
		var rs []string
		for j := i - 1; j >= 0 && !p.ms[j].isUser() && !p.ms[j].isAssistant(); j-- {
			if p.ms[j].isResult() {
				rs = append(rs, p.ms[j].steps[0].Content)
			}
		}
		if len(rs) > 0 {
			out = append(out, claimSite{i, rs})
		}
	}
	return out
}

// Amounts.

var moneyRE = regexp.MustCompile(`(\$\s?|USD\s?)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?(\s?(?:USD|dollars))?`)

// money is an amount as the agent wrote it.
type money struct {
	start, end int
	value      float64
	prefix     string // "$", "USD "
	suffix     string // " USD", " dollars"
	grouped    bool
	decimals   int
}

func (m money) render(v float64) string {
	s := strconv.FormatFloat(v, 'f', m.decimals, 64)
	if m.grouped {
		s = group(s)
	}
	return m.prefix + s + m.suffix
}

func group(s string) string {
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

// amounts returns the money amounts written in s (with a currency sign or
// word; bare numbers are not claimed amounts).
func amounts(s string) []money {
	var out []money
	for _, g := range moneyRE.FindAllStringSubmatchIndex(s, -1) {
		pre, suf := sub(s, g, 1), sub(s, g, 4)
		if pre == "" && suf == "" {
			continue
		}
		num := strings.ReplaceAll(sub(s, g, 2), ",", "")
		frac := sub(s, g, 3)
		v, err := strconv.ParseFloat(num+frac, 64)
		if err != nil {
			continue
		}
		dec := 0
		if frac != "" {
			dec = len(frac) - 1
		}
		if g[1] < len(s) && isDigit(s[g[1]]) {
			continue
		}
		out = append(out, money{g[0], g[1], v, pre, suf, strings.Contains(sub(s, g, 2), ","), dec})
	}
	return out
}

func sub(s string, g []int, i int) string {
	if g[2*i] < 0 {
		return ""
	}
	return s[g[2*i]:g[2*i+1]]
}

var plainNumber = regexp.MustCompile(`-?\d+(?:\.\d+)?`)

// numbersIn returns every number in a tool result: the JSON numbers of a
// document, or the numbers written in plain text.
func numbersIn(doc string) []float64 {
	var v any
	var out []float64
	if json.Unmarshal([]byte(doc), &v) == nil {
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case float64:
				out = append(out, x)
			case string:
				if f, err := strconv.ParseFloat(x, 64); err == nil {
					out = append(out, f)
				}
			}
		}
		walk(v)
		return out
	}
	for _, t := range plainNumber.FindAllString(doc, -1) {
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func hasNumber(ns []float64, v float64) bool {
	for _, n := range ns {
		if math.Abs(math.Abs(n)-math.Abs(v)) < 0.005 {
			return true
		}
	}
	return false
}

// wrongAmount misstates v the way amounts get misstated: two digits swapped,
// one digit changed, cents changed, off by a round sum, a decimal slip.
func (p *planter) wrongAmount(v float64, dec int, avoid []float64) (float64, bool) {
	s := strconv.FormatFloat(v, 'f', dec, 64)
	for range 12 {
		var w float64
		switch p.rng.IntN(5) {
		case 0:
			t, ok := transpose(p.rng, s)
			if !ok {
				continue
			}
			w, _ = strconv.ParseFloat(t, 64)
		case 1:
			t, ok := digitSlip(p.rng, s)
			if !ok {
				continue
			}
			w, _ = strconv.ParseFloat(t, 64)
		case 2:
			if dec == 0 {
				continue
			}
			w = math.Floor(v) + float64(p.rng.IntN(100))/100
		case 3:
			w = v + float64(pick(p.rng, []int{-100, -50, -10, 10, 20, 50, 100}))
		case 4:
			w = v * 10
		}
		w = math.Round(w*100) / 100
		if w <= 0 || math.Abs(w-v) < 0.005 || hasNumber(avoid, w) {
			continue
		}
		return w, true
	}
	return 0, false
}

// contradictAmount changes an amount the agent tells the user, which it had
// just read in a tool result, into a different one. With reformat, the
// amount is also written another way ("USD 1,963.00" for "$1963").
func (p *planter) contradictAmount(reformat bool) (string, error) {
	sites := p.claimSites()
	for _, k := range p.rng.Perm(len(sites)) {
		site := sites[k]
		var read []float64
		for _, r := range site.results {
			read = append(read, numbersIn(r)...)
		}
		ts := p.ms[site.rec].textStep()
		var avoid []float64
		ams := amounts(ts.Content)
		for _, a := range p.rng.Perm(len(ams)) {
			am := ams[a]
			if am.value == 0 || !hasNumber(read, am.value) {
				continue
			}
			if avoid == nil {
				avoid = append(numbersIn(p.inputsBefore(site.rec)), numbersIn(ts.Content)...)
			}
			w, ok := p.wrongAmount(am.value, am.decimals, avoid)
			if !ok {
				continue
			}
			form := am
			if reformat {
				form = pick(p.rng, []money{
					{prefix: "USD ", grouped: true, decimals: 2},
					{suffix: " USD", grouped: true, decimals: 2},
					{suffix: " dollars", decimals: am.decimals},
					{prefix: "$", grouped: true, decimals: 2},
					{prefix: "US$", grouped: true, decimals: 0},
				})
				if form.decimals == 0 && w != math.Trunc(w) {
					form.decimals = 2
				}
			}
			written := form.render(w)
			old := ts.Content[am.start:am.end]
			ts.Content = ts.Content[:am.start] + written + ts.Content[am.end:]
			p.ms[site.rec].role |= roleStep
			return fmt.Sprintf("amount %q read in a tool result told to the user as %q", old, written), nil
		}
	}
	return "", errNA
}

// Categorical values.

// category is a field whose values are names from a small set.
type category struct {
	name   string
	keys   []string   // JSON keys holding it
	with   string     // a key the same object must have ("order_id", "flight_number"), or ""
	values [][]string // each value's written forms, the literal first
	status bool       // a state of a record: claimed only in a claim context
}

var categories = []category{
	{name: "order status", keys: []string{"status"}, with: "order_id", status: true, values: [][]string{
		{"pending"}, {"processed"}, {"delivered"}, {"cancelled", "canceled"}, {"return requested"},
		{"exchange requested"}, {"shipped"}, {"refunded"}}},
	{name: "reservation status", keys: []string{"status"}, with: "reservation_id", status: true, values: [][]string{
		{"cancelled", "canceled"}, {"confirmed"}, {"active"}}},
	{name: "flight status", keys: []string{"status"}, with: "flight_number", status: true, values: [][]string{
		{"available"}, {"delayed"}, {"cancelled", "canceled"}, {"landed"}, {"on time"}, {"flying"}, {"fully booked"}}},
	{name: "cabin class", keys: []string{"cabin"}, values: [][]string{
		{"basic_economy", "basic economy"}, {"economy"}, {"business"}, {"first class"}, {"premium economy"}}},
	{name: "membership tier", keys: []string{"membership"}, values: [][]string{
		{"regular"}, {"silver"}, {"gold"}, {"platinum"}}},
	{name: "trip type", keys: []string{"flight_type"}, values: [][]string{
		{"one_way", "one-way", "one way"}, {"round_trip", "round-trip", "round trip"}}},
	{name: "colour", keys: []string{"color", "colour"}, values: [][]string{
		{"black"}, {"white"}, {"blue"}, {"red"}, {"green"}, {"silver"}, {"grey", "gray"}, {"space grey"},
		{"gold"}, {"pink"}, {"purple"}, {"yellow"}, {"orange"}, {"beige"}, {"brown"}, {"navy"}, {"rose gold"}}},
	{name: "size", keys: []string{"size"}, values: [][]string{
		{"small"}, {"medium"}, {"large"}, {"full size", "full-size"}, {"compact"}, {"XL"}, {"XXL"}, {"XS"},
		{"extra large"}, {"king"}, {"queen"}, {"twin"}}},
	{name: "material", keys: []string{"material"}, values: [][]string{
		{"polyester"}, {"cotton"}, {"leather"}, {"glass"}, {"stainless steel"}, {"plastic"}, {"wood"}, {"bamboo"},
		{"nylon"}, {"ceramic"}, {"aluminum", "aluminium"}, {"synthetic"}, {"wool"}, {"linen"}}},
	{name: "payment method", keys: []string{"source"}, values: [][]string{
		{"credit_card", "credit card"}, {"gift_card", "gift card"}, {"paypal", "PayPal"}, {"certificate", "travel certificate"},
		{"debit card"}, {"bank transfer"}}},
	{name: "switch type", keys: []string{"switch type"}, values: [][]string{{"clicky"}, {"linear"}, {"tactile"}}},
	{name: "connectivity", keys: []string{"connectivity"}, values: [][]string{{"wireless"}, {"wired"}, {"Bluetooth"}, {"Wi-Fi"}}},
}

// catValue is a categorical value found in a tool result.
type catValue struct {
	cat     *category
	value   int               // index into cat.values
	literal string            // as the tool wrote it
	all     map[string]string // the string members of the object holding it and of its parents
}

// categoricalValues returns the categorical values of a JSON tool result.
func categoricalValues(doc string) []catValue {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return nil
	}
	var out []catValue
	var walk func(v any, ctx map[string]string)
	walk = func(v any, ctx map[string]string) {
		switch x := v.(type) {
		case map[string]any:
			all := map[string]string{}
			for k, s := range ctx {
				all[k] = s
			}
			for k, s := range stringMembers(x) {
				all[k] = s
			}
			for ci := range categories {
				c := &categories[ci]
				if c.with != "" {
					if _, ok := x[c.with]; !ok {
						continue
					}
				}
				for _, k := range c.keys {
					s, ok := x[k].(string)
					if !ok {
						continue
					}
					if vi := c.index(s); vi >= 0 {
						out = append(out, catValue{c, vi, s, all})
					}
				}
			}
			for _, k := range sortedKeys(x) {
				walk(x[k], all)
			}
		case []any:
			for _, e := range x {
				walk(e, ctx)
			}
		}
	}
	walk(v, nil)
	return out
}

func stringMembers(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		}
	}
	return out
}

// index returns the value a literal names, or -1. "pending (item modified)"
// is pending.
func (c *category) index(s string) int {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, forms := range c.values {
		for _, f := range forms {
			f = strings.ToLower(f)
			if s == f || strings.HasPrefix(s, f+" (") {
				return i
			}
		}
	}
	return -1
}

// claimContext matches the words before a state that make it a claim about
// a record ("is delivered", "Status: pending", "currently processed").
var claimContext = regexp.MustCompile(`(?i)(\b(is|are|was|were|been|currently|status|marked|shows|showing|listed|still|now|as)\b|:)\W{0,12}$`)

// mention is a place in a message where the agent names a categorical value.
type mention struct {
	start, end int
	form       string
}

// mentions finds where text names value vi of c as a whole word. A form that
// is the tail of a longer value ("economy" in "basic economy") is skipped.
func (c *category) mentions(text string, vi int) []mention {
	var out []mention
	low := asciiLower(text)
	for _, f := range c.values[vi] {
		lf := asciiLower(f)
		for _, k := range findAll(low, lf) {
			longer := false
			for oi, other := range c.values {
				for _, of := range other {
					of = asciiLower(of)
					if oi != vi && len(of) > len(lf) && strings.Contains(of, lf) {
						i := strings.Index(of, lf)
						if k-i >= 0 && k-i+len(of) <= len(low) && low[k-i:k-i+len(of)] == of {
							longer = true
						}
					}
				}
			}
			if longer {
				continue
			}
			if c.status && !claimContext.MatchString(text[max(0, k-30):k]) {
				continue
			}
			out = append(out, mention{k, k + len(lf), text[k : k+len(lf)]})
		}
	}
	return out
}

// wrongValue picks a value of c other than vi that the evidence never names,
// so the claim contradicts the tool result and agrees with nothing.
func (p *planter) wrongValue(c *category, vi int, evidence string) (int, bool) {
	low := asciiLower(evidence)
	var cands []int
	for i, forms := range c.values {
		if i == vi {
			continue
		}
		named := false
		for _, f := range forms {
			if containsToken(low, asciiLower(f)) {
				named = true
			}
		}
		if !named {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return 0, false
	}
	return pick(p.rng, cands), true
}

// matchCase writes form in the case of the text it replaces.
func matchCase(orig, form string) string {
	switch {
	case orig == strings.ToUpper(orig) && len(orig) > 2:
		return strings.ToUpper(form)
	case orig != "" && orig[0] >= 'A' && orig[0] <= 'Z':
		return capitalize(form)
	}
	return form
}

// contradictMention replaces a categorical value the agent names in its
// message, read from the turn's tool result, with another value of the same
// field. status selects record states (order, reservation, flight status);
// otherwise the other categories.
func (p *planter) contradictMention(status bool) (string, error) {
	sites := p.claimSites()
	for _, k := range p.rng.Perm(len(sites)) {
		site := sites[k]
		ts := p.ms[site.rec].textStep()
		var vals []catValue
		for _, r := range site.results {
			for _, cv := range categoricalValues(r) {
				if cv.cat.status == status {
					vals = append(vals, cv)
				}
			}
		}
		evidence := p.inputsBefore(site.rec) + "\n" + ts.Content
		for _, vi := range p.rng.Perm(len(vals)) {
			cv := vals[vi]
			ms := cv.cat.mentions(ts.Content, cv.value)
			if len(ms) == 0 {
				continue
			}
			w, ok := p.wrongValue(cv.cat, cv.value, evidence)
			if !ok {
				continue
			}
			m := pick(p.rng, ms)
			form := cv.cat.values[w][0]
			if strings.Contains(m.form, " ") || !strings.Contains(m.form, "_") {
				form = strings.ReplaceAll(form, "_", " ")
			}
			if len(cv.cat.values[w]) > 1 && strings.Contains(m.form, "-") {
				form = cv.cat.values[w][1]
			}
			form = matchCase(m.form, form)
			ts.Content = ts.Content[:m.start] + form + ts.Content[m.end:]
			p.ms[site.rec].role |= roleStep
			return fmt.Sprintf("%s %q (tool result: %q) told to the user as %q", cv.cat.name, m.form, cv.literal, form), nil
		}
	}
	return "", errNA
}

// Sentences stating a wrong value.

type sentenceKind int

const (
	sentStatus sentenceKind = iota
	sentYesNo
	sentCategory
)

// statusPhrases say a record's state in words, by state literal.
var statusPhrases = map[string][]string{
	"pending":            {"is still pending", "hasn't been processed yet, so it can still be changed"},
	"processed":          {"has already been processed", "is processed and being packed for shipment"},
	"delivered":          {"has already been delivered", "was delivered"},
	"cancelled":          {"has been cancelled", "shows as cancelled"},
	"shipped":            {"has shipped and is on its way", "is in transit"},
	"return requested":   {"already has a return in progress"},
	"exchange requested": {"already has an exchange in progress"},
	"refunded":           {"has been fully refunded"},
	"confirmed":          {"is confirmed"},
	"active":             {"is active"},
	"available":          {"is open for booking"},
	"delayed":            {"is running delayed", "is delayed"},
	"landed":             {"has already landed"},
	"on time":            {"is on time"},
	"flying":             {"is in the air right now"},
	"fully booked":       {"is fully booked"},
}

// contradictSentence adds to an assistant message a sentence that states,
// in the agent's own words, a fact the turn's tool result says otherwise.
func (p *planter) contradictSentence(kind sentenceKind) (string, error) {
	sites := p.claimSites()
	for _, k := range p.rng.Perm(len(sites)) {
		site := sites[k]
		ts := p.ms[site.rec].textStep()
		evidence := p.inputsBefore(site.rec) + "\n" + ts.Content
		var opts []func() (string, string, bool)
		for _, r := range site.results {
			switch kind {
			case sentStatus:
				for _, cv := range categoricalValues(r) {
					if cv.cat.status {
						opts = append(opts, func() (string, string, bool) { return p.statusSentence(cv, evidence) })
					}
				}
			case sentCategory:
				for _, cv := range categoricalValues(r) {
					if !cv.cat.status {
						opts = append(opts, func() (string, string, bool) { return p.categorySentence(cv, evidence) })
					}
				}
			case sentYesNo:
				for _, f := range yesNoFacts(r) {
					opts = append(opts, func() (string, string, bool) { return p.yesNoSentence(f) })
				}
			}
		}
		for _, oi := range p.rng.Perm(len(opts)) {
			sent, what, ok := opts[oi]()
			if !ok {
				continue
			}
			ts.Content = insertSentence(ts.Content, sent)
			p.ms[site.rec].role |= roleStep
			return what + ": " + strconv.Quote(sent), nil
		}
	}
	return "", errNA
}

// subject names the record a value belongs to, as the agent would: an
// item's own attributes by the item, a state by its record.
func subject(cv catValue) (string, bool) {
	a := cv.all
	if cv.cat != nil && !cv.cat.status && a["item_id"] != "" && a["name"] != "" {
		return "the " + a["name"] + " (item " + a["item_id"] + ")", true
	}
	switch {
	case a["order_id"] != "":
		return "order " + a["order_id"], true
	case a["flight_number"] != "" && a["date"] != "":
		return "flight " + a["flight_number"] + " on " + a["date"], true
	case a["flight_number"] != "":
		return "flight " + a["flight_number"], true
	case a["reservation_id"] != "":
		return "reservation " + a["reservation_id"], true
	case a["item_id"] != "":
		return "item " + a["item_id"], true
	case a["name"] != "" && a["product_id"] != "":
		return "the " + a["name"], true
	case a["user_id"] != "":
		return "your account", true
	}
	return "", false
}

func (p *planter) statusSentence(cv catValue, evidence string) (string, string, bool) {
	subj, ok := subject(cv)
	if !ok {
		return "", "", false
	}
	w, ok := p.wrongValue(cv.cat, cv.value, evidence)
	if !ok {
		return "", "", false
	}
	phr, ok := statusPhrases[cv.cat.values[w][0]]
	if !ok {
		return "", "", false
	}
	tmpl := pick(p.rng, []string{
		"Just so you know, %s %s.",
		"I can see that %s %s.",
		"For reference, %s %s.",
		"Note: %s %s.",
	})
	s := fmt.Sprintf(tmpl, subj, pick(p.rng, phr))
	return capitalize(s), fmt.Sprintf("%s of %s is %q in the tool result; the agent says otherwise", cv.cat.name, subj, cv.literal), true
}

func (p *planter) categorySentence(cv catValue, evidence string) (string, string, bool) {
	subj, ok := subject(cv)
	if !ok {
		return "", "", false
	}
	w, ok := p.wrongValue(cv.cat, cv.value, evidence)
	if !ok {
		return "", "", false
	}
	val := strings.ReplaceAll(cv.cat.values[w][len(cv.cat.values[w])-1], "_", " ")
	var s string
	switch cv.cat.name {
	case "cabin class":
		s = pick(p.rng, []string{"To confirm, %s is booked in %s.", "You're currently seated in %[2]s on %[1]s."})
		s = fmt.Sprintf(s, subj, val)
	case "membership tier":
		s = fmt.Sprintf(pick(p.rng, []string{"Your profile shows a %[2]s membership.", "As a %[2]s member, this is noted on your account."}), subj, val)
	case "trip type":
		s = fmt.Sprintf("For reference, %s is a %s trip.", subj, val)
	case "payment method":
		s = fmt.Sprintf(pick(p.rng, []string{"It was paid with your %[2]s.", "The payment on file for this is your %[2]s."}), subj, val)
	default:
		s = fmt.Sprintf(pick(p.rng, []string{"For reference, the %[3]s of %[1]s is %[2]s.", "%[1]s is the %[2]s one.", "That's the %[2]s version (%[3]s) of %[1]s."}), subj, val, cv.cat.name)
	}
	return capitalize(s), fmt.Sprintf("%s of %s is %q in the tool result; the agent says %q", cv.cat.name, subj, cv.literal, val), true
}

// yesNoFact is a boolean or yes/no member of a tool result object.
type yesNoFact struct {
	key   string
	yes   bool
	owner map[string]string
}

var yesNoKeys = map[string]bool{"insurance": true, "available": true, "waterproof": true, "water resistance": true,
	"refundable": true, "in_stock": true, "is_refundable": true, "wireless": true}

func yesNoFacts(doc string) []yesNoFact {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return nil
	}
	var out []yesNoFact
	var walk func(v any, ctx map[string]string)
	walk = func(v any, ctx map[string]string) {
		switch x := v.(type) {
		case map[string]any:
			all := map[string]string{}
			for k, s := range ctx {
				all[k] = s
			}
			for k, s := range stringMembers(x) {
				all[k] = s
			}
			for _, k := range sortedKeys(x) {
				if yesNoKeys[k] {
					switch b := x[k].(type) {
					case bool:
						out = append(out, yesNoFact{k, b, all})
					case string:
						if b == "yes" || b == "no" {
							out = append(out, yesNoFact{k, b == "yes", all})
						}
					}
				}
				walk(x[k], all)
			}
		case []any:
			for _, e := range x {
				walk(e, ctx)
			}
		}
	}
	walk(v, nil)
	return out
}

func (p *planter) yesNoSentence(f yesNoFact) (string, string, bool) {
	cv := catValue{all: f.owner}
	if f.owner["item_id"] != "" && f.owner["name"] != "" {
		cv.cat = &category{}
	}
	subj, ok := subject(cv)
	if !ok {
		return "", "", false
	}
	var s string
	switch f.key {
	case "insurance":
		if f.yes {
			s = pick(p.rng, []string{"Note that %s does not include travel insurance.", "Unfortunately %s was booked without travel insurance."})
		} else {
			s = pick(p.rng, []string{"Good news: %s includes travel insurance.", "Since %s has travel insurance, you're covered."})
		}
	case "available", "in_stock":
		if f.yes {
			s = pick(p.rng, []string{"Unfortunately %s is out of stock right now.", "I'm afraid %s is currently unavailable."})
		} else {
			s = pick(p.rng, []string{"Good news: %s is in stock.", "%s is available, so I can add it right away."})
		}
	case "refundable", "is_refundable":
		if f.yes {
			s = "Please note %s is non-refundable."
		} else {
			s = "The good news is %s is fully refundable."
		}
	default:
		what := strings.ReplaceAll(f.key, "_", " ")
		if f.yes {
			s = "Just to note, %s does not have " + what + "."
		} else {
			s = "And yes, %s comes with " + what + "."
		}
	}
	out := capitalize(fmt.Sprintf(s, subj))
	return out, fmt.Sprintf("%s of %s is %v in the tool result; the agent says the opposite", f.key, subj, f.yes), true
}

// closing matches the pleasantry that ends a support message.
var closing = regexp.MustCompile(`(?i)^(if you (need|have)|feel free|please let me know|let me know|is there anything|anything else|thank you|thanks)`)

// insertSentence adds s to a message: before a closing question, or at the
// end.
func insertSentence(text, s string) string {
	paras := strings.Split(strings.TrimRight(text, "\n "), "\n\n")
	last := strings.TrimSpace(paras[len(paras)-1])
	if len(paras) > 1 && (strings.HasSuffix(last, "?") || closing.MatchString(last)) {
		paras = append(paras[:len(paras)-1], s, paras[len(paras)-1])
		return strings.Join(paras, "\n\n")
	}
	if strings.HasSuffix(last, "?") {
		// One paragraph ending in a question: put the statement before the
		// question sentence.
		k := strings.LastIndexAny(strings.TrimSuffix(last, "?"), ".!")
		if k > 0 {
			head := strings.TrimRight(text, "\n ")
			cut := len(head) - len(last) + k + 1
			return head[:cut] + " " + s + head[cut:]
		}
		return s + " " + text
	}
	return strings.TrimRight(text, "\n ") + "\n\n" + s
}
