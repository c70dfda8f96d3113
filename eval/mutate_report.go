package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/probity/probity/stats"
)

// Robustness is how a run's variants fared against their original cases,
// per mutation kind. The JSON keys are a contract.
type Robustness struct {
	Type  string           `json:"type"` // "robustness"
	Kinds []KindRobustness `json:"kinds"`
}

// KindRobustness pairs each variant of one kind with its original, trial t
// with trial t (both valid), as Compare pairs two runs (METHODS §3).
type KindRobustness struct {
	Kind     string    `json:"kind"`
	Variants int       `json:"variants"`
	Pairs    PairTable `json:"pairs"` // A = original, B = variant
	// PassRateOriginal and PassRateVariant are over the paired trials.
	PassRateOriginal float64 `json:"pass_rate_original"`
	PassRateVariant  float64 `json:"pass_rate_variant"`
	// Delta is the posterior mean of original − variant pass rate
	// (Dirichlet(1,1,1,1)); > 0 means the variants do worse. Interval is
	// its equal-tailed 95% credible interval (stats.PairedDeltaInterval).
	Delta    float64    `json:"delta"`
	Interval [2]float64 `json:"interval"`
	// PValue is the exact one-sided McNemar p-value for "variants worse".
	PValue float64 `json:"p_value"`
	// Breaks are variants whose original passes in at least half its
	// trials and which pass in fewer than half of theirs.
	Breaks []Break `json:"breaks"`
}

// Break is a variant that fails where its original passes.
type Break struct {
	Variant      string  `json:"variant"`
	Case         string  `json:"case"`
	RateOriginal float64 `json:"rate_original"`
	RateVariant  float64 `json:"rate_variant"`
}

// RunRobustness returns the per-kind report of a run whose cases include
// variants (eval mutate), or nil when it has none.
func RunRobustness(r *Run) *Robustness {
	var variants []CaseInfo
	for _, c := range r.Header.Cases {
		if c.VariantOf != "" {
			variants = append(variants, c)
		}
	}
	if len(variants) == 0 {
		return nil
	}
	out := outcomes(r)
	rep := &Robustness{Type: "robustness"}
	byKind := map[string]*KindRobustness{}
	var order []string
	for _, v := range variants {
		k := byKind[v.Kind]
		if k == nil {
			k = &KindRobustness{Kind: v.Kind, Breaks: []Break{}}
			byKind[v.Kind] = k
			order = append(order, v.Kind)
		}
		k.Variants++
		var t PairTable
		ta, tb := out[v.VariantOf], out[v.ID]
		for i := 0; i < min(len(ta), len(tb)); i++ {
			x, y := ta[i], tb[i]
			if x == oUnknown || y == oUnknown || x == oError || y == oError {
				continue
			}
			switch {
			case x == oPass && y == oPass:
				t.N11++
			case x == oPass:
				t.N10++
			case y == oPass:
				t.N01++
			default:
				t.N00++
			}
		}
		k.Pairs.N00 += t.N00
		k.Pairs.N01 += t.N01
		k.Pairs.N10 += t.N10
		k.Pairs.N11 += t.N11
		ro, rv, okO, okV := passShare(ta), passShare(tb), valid(ta) > 0, valid(tb) > 0
		if okO && okV && ro >= 0.5 && rv < 0.5 {
			k.Breaks = append(k.Breaks, Break{Variant: v.ID, Case: v.VariantOf, RateOriginal: round6(ro), RateVariant: round6(rv)})
		}
	}
	for _, kind := range order {
		k := byKind[kind]
		p := k.Pairs
		if n := p.N00 + p.N01 + p.N10 + p.N11; n > 0 {
			k.PassRateOriginal = round6(float64(p.N10+p.N11) / float64(n))
			k.PassRateVariant = round6(float64(p.N01+p.N11) / float64(n))
			mean, ci := stats.PairedDeltaInterval(p.N00, p.N01, p.N10, p.N11, 0.95)
			k.Delta, k.Interval = round6(mean), [2]float64{round6(ci.Lo), round6(ci.Hi)}
			k.PValue, _ = stats.McNemarExact(p.N10, p.N01)
			k.PValue = round6(k.PValue)
		} else {
			k.Delta, k.Interval, k.PValue = math.NaN(), [2]float64{math.NaN(), math.NaN()}, 1
		}
		slices.SortStableFunc(k.Breaks, func(a, b Break) int { return strings.Compare(a.Variant, b.Variant) })
		rep.Kinds = append(rep.Kinds, *k)
	}
	kindOrder := func(s string) int {
		if i := slices.Index(MutationKinds, s); i >= 0 {
			return i
		}
		return len(MutationKinds)
	}
	slices.SortStableFunc(rep.Kinds, func(a, b KindRobustness) int { return kindOrder(a.Kind) - kindOrder(b.Kind) })
	return rep
}

func valid(l []int8) int {
	n := 0
	for _, o := range l {
		if o == oPass || o == oFail {
			n++
		}
	}
	return n
}

func passShare(l []int8) float64 {
	n, p := 0, 0
	for _, o := range l {
		switch o {
		case oPass:
			n++
			p++
		case oFail:
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(p) / float64(n)
}

// WriteRobustness writes r as text, or json (one object on one line; NaN
// for a kind with no valid pairs is written as null).
func WriteRobustness(w io.Writer, r *Robustness, format string) error {
	if format == FormatJSON {
		type kindJSON struct {
			KindRobustness
			Delta    *float64    `json:"delta"`
			Interval *[2]float64 `json:"interval"`
		}
		out := struct {
			Type  string     `json:"type"`
			Kinds []kindJSON `json:"kinds"`
		}{Type: r.Type}
		for _, k := range r.Kinds {
			kj := kindJSON{KindRobustness: k}
			if !math.IsNaN(k.Delta) {
				d, iv := k.Delta, k.Interval
				kj.Delta, kj.Interval = &d, &iv
			}
			out.Kinds = append(out.Kinds, kj)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	var b strings.Builder
	b.WriteString("\nrobustness: each variant paired with its case, trial by trial; Δ = case − variant pass rate (> 0: variants worse), 95% interval\n")
	fmt.Fprintf(&b, "  %-12s %8s %6s %8s %8s %8s  %-17s %8s %6s\n", "kind", "variants", "pairs", "case", "variant", "Δ", "95% interval", "p(worse)", "breaks")
	for _, k := range r.Kinds {
		n := k.Pairs.N00 + k.Pairs.N01 + k.Pairs.N10 + k.Pairs.N11
		if n == 0 {
			fmt.Fprintf(&b, "  %-12s %8d %6d  no valid pairs\n", k.Kind, k.Variants, 0)
			continue
		}
		fmt.Fprintf(&b, "  %-12s %8d %6d %8.2f %8.2f %+8.2f  [%+.2f, %+.2f]    %8.3f %6d\n", k.Kind, k.Variants, n,
			k.PassRateOriginal, k.PassRateVariant, k.Delta, k.Interval[0], k.Interval[1], k.PValue, len(k.Breaks))
	}
	for _, k := range r.Kinds {
		for _, br := range k.Breaks {
			fmt.Fprintf(&b, "  breaks: %-24s passes %.2f, its case %s passes %.2f\n", br.Variant, br.RateVariant, br.Case, br.RateOriginal)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
