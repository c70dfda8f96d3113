package eval

import (
	"math"
	"slices"

	"github.com/probity/probity/stats"
)

// CompareOptions tune Compare.
type CompareOptions struct {
	// Margin is the drop in pass rate that matters (default 0.02): the
	// question is P(θ_A − θ_B > Margin).
	Margin float64
	// Confidence is the posterior probability at which a drop counts as a
	// regression (default 0.95).
	Confidence float64
}

// Comparison is A (baseline) against B (candidate), paired by case: the JSON
// keys p_worse and regressed are a contract.
type Comparison struct {
	A string `json:"a"`
	B string `json:"b"`
	// Pairs is the 2×2 table of paired trials: trial t of a case in A with
	// trial t of the same case in B, where both were valid. N10 counts A
	// pass/B fail; N01 A fail/B pass.
	Pairs      PairTable `json:"pairs"`
	PassRateA  float64   `json:"pass_rate_a"`
	PassRateB  float64   `json:"pass_rate_b"`
	Delta      float64   `json:"delta"` // θ̂_A − θ̂_B over the pairs; > 0 means B is worse
	Margin     float64   `json:"margin"`
	Confidence float64   `json:"confidence"`
	// PWorse is the posterior probability that B is worse than A by more
	// than Margin (stats.PairedPosterior, Dirichlet(1,1,1,1), exact).
	PWorse float64 `json:"p_worse"`
	// PValue is the exact one-sided McNemar p-value for "B is worse".
	PValue float64 `json:"p_value"`
	// Regressed is PWorse ≥ Confidence.
	Regressed bool `json:"regressed"`
	// Cases compares each case present in both runs.
	Cases []CaseComparison `json:"cases"`
	// NewlyFailing are cases that passed at least sometimes in A and never
	// in B; NewlyFlaky were stable-pass in A and flaky in B; Fixed went the
	// other way (never passed, or flaky, in A; stable-pass in B).
	NewlyFailing []string `json:"newly_failing"`
	NewlyFlaky   []string `json:"newly_flaky"`
	Fixed        []string `json:"fixed"`
	// OnlyInA and OnlyInB are cases not in both runs (not compared).
	OnlyInA []string `json:"only_in_a,omitempty"`
	OnlyInB []string `json:"only_in_b,omitempty"`
}

// PairTable is a 2×2 table of paired outcomes.
type PairTable struct {
	N00 int `json:"n00"` // both fail
	N01 int `json:"n01"` // A fails, B passes
	N10 int `json:"n10"` // A passes, B fails
	N11 int `json:"n11"` // both pass
}

// CaseComparison is one case in both runs.
type CaseComparison struct {
	ID      string  `json:"id"`
	ClassA  string  `json:"class_a"`
	ClassB  string  `json:"class_b"`
	RateA   float64 `json:"rate_a"`
	RateB   float64 `json:"rate_b"`
	TrialsA int     `json:"trials_a"`
	TrialsB int     `json:"trials_b"`
	// Delta is RateA − RateB.
	Delta float64 `json:"delta"`
	// PValue is the exact one-sided McNemar p-value on the case's paired
	// trials (informational: one per case, uncorrected for multiplicity).
	PValue float64   `json:"p_value"`
	Pairs  PairTable `json:"pairs"`
}

// Compare pairs A and B by case and trial number. Trials of one case are
// independent draws of the same item in both runs, so pairing trial t with
// trial t keeps the item fixed and lets the discordant pairs carry the
// difference (METHODS §3); errors in either run drop the pair.
func Compare(a, b *Run, o CompareOptions) *Comparison {
	if o.Margin == 0 {
		o.Margin = 0.02
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	sa, sb := Summarize(a, nil), Summarize(b, nil)
	outA, outB := outcomes(a), outcomes(b)
	cmp := &Comparison{A: a.Path, B: b.Path, Margin: o.Margin, Confidence: o.Confidence,
		NewlyFailing: []string{}, NewlyFlaky: []string{}, Fixed: []string{}}
	byB := map[string]*CaseSummary{}
	for i := range sb.Cases {
		byB[sb.Cases[i].ID] = &sb.Cases[i]
	}
	seenA := map[string]bool{}
	for i := range sa.Cases {
		ca := &sa.Cases[i]
		seenA[ca.ID] = true
		cb, ok := byB[ca.ID]
		if !ok {
			cmp.OnlyInA = append(cmp.OnlyInA, ca.ID)
			continue
		}
		cc := CaseComparison{ID: ca.ID, ClassA: ca.Class, ClassB: cb.Class, RateA: round6(ca.PassRate), RateB: round6(cb.PassRate),
			TrialsA: ca.Trials, TrialsB: cb.Trials}
		cc.Delta = round6(cc.RateA - cc.RateB)
		ta, tb := outA[ca.ID], outB[ca.ID]
		for t := 0; t < min(len(ta), len(tb)); t++ {
			x, y := ta[t], tb[t]
			if x == oUnknown || y == oUnknown || x == oError || y == oError {
				continue
			}
			switch {
			case x == oPass && y == oPass:
				cc.Pairs.N11++
			case x == oPass:
				cc.Pairs.N10++
			case y == oPass:
				cc.Pairs.N01++
			default:
				cc.Pairs.N00++
			}
		}
		cc.PValue, _ = stats.McNemarExact(cc.Pairs.N10, cc.Pairs.N01)
		cc.PValue = round6(cc.PValue)
		cmp.Pairs.N00 += cc.Pairs.N00
		cmp.Pairs.N01 += cc.Pairs.N01
		cmp.Pairs.N10 += cc.Pairs.N10
		cmp.Pairs.N11 += cc.Pairs.N11
		switch {
		case ca.Class != ClassStableFail && ca.Trials > 0 && cb.Class == ClassStableFail:
			cmp.NewlyFailing = append(cmp.NewlyFailing, ca.ID)
		case ca.Class == ClassStablePass && cb.Class == ClassFlaky:
			cmp.NewlyFlaky = append(cmp.NewlyFlaky, ca.ID)
		case (ca.Class == ClassStableFail || ca.Class == ClassFlaky) && cb.Class == ClassStablePass:
			cmp.Fixed = append(cmp.Fixed, ca.ID)
		}
		cmp.Cases = append(cmp.Cases, cc)
	}
	for _, c := range sb.Cases {
		if !seenA[c.ID] {
			cmp.OnlyInB = append(cmp.OnlyInB, c.ID)
		}
	}
	p := cmp.Pairs
	n := p.N00 + p.N01 + p.N10 + p.N11
	if n > 0 {
		cmp.PassRateA = round6(float64(p.N10+p.N11) / float64(n))
		cmp.PassRateB = round6(float64(p.N01+p.N11) / float64(n))
		cmp.Delta = round6(cmp.PassRateA - cmp.PassRateB)
		cmp.PWorse = stats.PairedPosterior(p.N00, p.N01, p.N10, p.N11, o.Margin, 0, 0)
		if math.IsNaN(cmp.PWorse) {
			cmp.PWorse = 0
		}
		cmp.PWorse = round6(cmp.PWorse)
		cmp.PValue, _ = stats.McNemarExact(p.N10, p.N01)
		cmp.PValue = round6(cmp.PValue)
		cmp.Regressed = cmp.PWorse >= o.Confidence
	} else {
		cmp.PValue = 1
	}
	slices.Sort(cmp.OnlyInA)
	slices.Sort(cmp.OnlyInB)
	return cmp
}

// outcomes returns, per case, the outcome of each trial number.
func outcomes(r *Run) map[string][]int8 {
	m := map[string][]int8{}
	for _, t := range r.Trials {
		if t.Trial < 0 || t.Trial > 1<<20 {
			continue
		}
		l := m[t.Case]
		for len(l) <= t.Trial {
			l = append(l, oUnknown)
		}
		switch t.Status {
		case StatusPass:
			l[t.Trial] = oPass
		case StatusFail:
			l[t.Trial] = oFail
		default:
			l[t.Trial] = oError
		}
		m[t.Case] = l
	}
	return m
}
