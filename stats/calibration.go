package stats

import (
	"fmt"
	"math"
	"slices"

	"github.com/probity/probity"
)

// BinScheme says how forecasts are grouped into bins. The scheme changes the
// ECE (METHODS §6 shows 0.25 vs 0.28 for the same 10 predictions), so print
// it next to any ECE.
type BinScheme int

const (
	// EqualWidth uses right-closed bins ((m−1)/M, m/M], with 0 in the first
	// bin: the convention of Guo et al. (2017).
	EqualWidth BinScheme = iota
	// EqualWidthLeftClosed uses [(m−1)/M, m/M), with 1 in the last bin.
	EqualWidthLeftClosed
	// EqualMass sorts the forecasts (stably) and splits them into M groups
	// whose sizes differ by at most one, larger groups first (numpy's
	// array_split). METHODS §6 recommends it for ECE, with at most 15 bins
	// and about 30 or more items per bin.
	EqualMass
)

// String names the scheme as a report should print it.
func (s BinScheme) String() string {
	switch s {
	case EqualWidth:
		return "equal-width, right-closed ((m-1)/M, m/M]"
	case EqualWidthLeftClosed:
		return "equal-width, left-closed [(m-1)/M, m/M)"
	case EqualMass:
		return "equal-mass"
	}
	return "unknown"
}

// BinOptions configures a reliability diagram.
type BinOptions struct {
	Bins   int       // number of bins M; default 10
	Scheme BinScheme // default EqualWidth
	Level  float64   // level of each bin's Wilson interval; default 0.95
}

// CalibrationBin is one bin of a reliability diagram.
type CalibrationBin struct {
	Lo, Hi       float64  // the bin's edges; for EqualMass the smallest and largest forecast in it
	N            int      // forecasts in the bin
	Positives    int      // outcomes that were true
	MeanForecast float64  // mean forecast in the bin (the diagram's x)
	Rate         float64  // Positives/N, the observed frequency (the diagram's y)
	Interval     Interval // Wilson interval of Rate: small bins are mostly noise
}

// Diagram is a reliability diagram with the calibration summaries computed
// from its bins.
type Diagram struct {
	Scheme BinScheme
	Bins   []CalibrationBin // non-empty bins only, in forecast order
	// ECE is Σ (n_k/N)·|Rate_k − MeanForecast_k| over the bins.
	ECE float64
	// Reliability and Resolution are the Murphy terms computed with bin
	// means as forecasts. Unlike the distinct-value decomposition in
	// BrierResult they do not add up to the Brier score: binning adds two
	// within-bin terms (Stephenson et al. 2008).
	Reliability, Resolution float64
}

// BrierResult is the Brier score and its Murphy decomposition.
type BrierResult struct {
	N     int
	Score float64 // (1/N) Σ (fᵢ − oᵢ)²; lower is better, 0.25 for always 0.5
	// Reliability, Resolution and Uncertainty are the Murphy (1973)
	// decomposition grouped by distinct forecast values, where it is exact:
	// Score = Reliability − Resolution + Uncertainty. Reliability is the
	// calibration error (lower is better), Resolution how much forecasts
	// separate outcomes (higher is better), Uncertainty = ō(1−ō) is fixed by
	// the data. With few items per distinct value Reliability is biased
	// upward (Ferro & Fricker 2012).
	Reliability, Resolution, Uncertainty float64
	// Bins is the reliability diagram: 10 equal-width right-closed bins with
	// per-bin counts and Wilson 95% intervals. Use ReliabilityDiagram for
	// other schemes.
	Bins []CalibrationBin
}

// Brier returns the Brier score of forecasts probs (probabilities in [0, 1],
// e.g. a judge's or agent's stated confidence) against outcomes (true when
// the thing forecast happened, e.g. the answer was right), with the exact
// Murphy decomposition and a reliability diagram.
//
// Brier plus its decomposition is METHODS §6's primary calibration report:
// unlike ECE it needs no binning choice. Invalid input (no items, lengths
// that differ, a forecast outside [0, 1] or NaN) gives NaN fields and no
// bins; ReliabilityDiagram reports the position of the bad forecast.
func Brier(probs []float64, outcomes []bool) BrierResult {
	nan := math.NaN()
	bad := BrierResult{Score: nan, Reliability: nan, Resolution: nan, Uncertainty: nan}
	if checkForecasts(probs, outcomes) != nil {
		return bad
	}
	n := len(probs)
	nf := float64(n)
	var score, obar float64
	for i, f := range probs {
		o := b2f(outcomes[i])
		score += (f - o) * (f - o)
		obar += o
	}
	score /= nf
	obar /= nf
	type group struct{ n, pos float64 }
	groups := map[float64]*group{}
	for i, f := range probs {
		g := groups[f]
		if g == nil {
			g = &group{}
			groups[f] = g
		}
		g.n++
		g.pos += b2f(outcomes[i])
	}
	var rel, res float64
	for f, g := range groups {
		ok := g.pos / g.n
		rel += g.n * (f - ok) * (f - ok)
		res += g.n * (ok - obar) * (ok - obar)
	}
	d, _ := ReliabilityDiagram(probs, outcomes, BinOptions{})
	return BrierResult{N: n, Score: score, Reliability: rel / nf, Resolution: res / nf, Uncertainty: obar * (1 - obar), Bins: d.Bins}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// checkForecasts returns a *probity.Error (EINVALID) naming the first bad
// forecast.
func checkForecasts(probs []float64, outcomes []bool) error {
	if len(probs) == 0 {
		return probity.Errorf(probity.EINVALID, "calibration: no forecasts")
	}
	if len(probs) != len(outcomes) {
		return probity.Errorf(probity.EINVALID, "calibration: %d forecasts but %d outcomes", len(probs), len(outcomes))
	}
	for i, f := range probs {
		if !(f >= 0 && f <= 1) {
			return &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("forecast %d", i), Message: fmt.Sprintf("calibration: forecast %v outside [0, 1]", f)}
		}
	}
	return nil
}

// ReliabilityDiagram bins forecasts against outcomes as opts says and
// returns per-bin counts, observed rates with Wilson intervals, the ECE and
// the binned Murphy terms. Bin edges are assigned with a tolerance of 1e-9,
// so a forecast of 0.7 lands on the edge 7/10 even though 0.7·10 is not
// exactly 7 in floating point (METHODS §6 warns that a bare ceil(conf·M) is
// fragile there). It returns a *probity.Error (EINVALID) naming the first
// bad forecast, for mismatched lengths, or for Bins < 1.
func ReliabilityDiagram(probs []float64, outcomes []bool, opts BinOptions) (Diagram, error) {
	if opts.Bins == 0 {
		opts.Bins = 10
	}
	if opts.Level == 0 {
		opts.Level = 0.95
	}
	d := Diagram{Scheme: opts.Scheme}
	if opts.Bins < 1 || !validLevel(opts.Level) || opts.Scheme < EqualWidth || opts.Scheme > EqualMass {
		return d, probity.Errorf(probity.EINVALID, "reliability diagram: bins = %d, level = %v, scheme %d", opts.Bins, opts.Level, int(opts.Scheme))
	}
	if err := checkForecasts(probs, outcomes); err != nil {
		return d, err
	}
	m := opts.Bins
	var groups [][]int // item indices per bin
	switch opts.Scheme {
	case EqualWidth, EqualWidthLeftClosed:
		groups = make([][]int, m)
		for i, f := range probs {
			b := widthBin(f, m, opts.Scheme == EqualWidth)
			groups[b] = append(groups[b], i)
		}
	case EqualMass:
		order := make([]int, len(probs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case probs[a] < probs[b]:
				return -1
			case probs[a] > probs[b]:
				return 1
			}
			return 0
		})
		size, extra := len(order)/m, len(order)%m
		start := 0
		for k := range m {
			end := start + size
			if k < extra {
				end++
			}
			groups = append(groups, order[start:end])
			start = end
		}
	}
	nf := float64(len(probs))
	obar := 0.0
	for _, o := range outcomes {
		obar += b2f(o)
	}
	obar /= nf
	for k, g := range groups {
		if len(g) == 0 {
			continue
		}
		bin := CalibrationBin{N: len(g)}
		sum := 0.0
		bin.Lo, bin.Hi = math.Inf(1), math.Inf(-1)
		for _, i := range g {
			sum += probs[i]
			if outcomes[i] {
				bin.Positives++
			}
			bin.Lo, bin.Hi = math.Min(bin.Lo, probs[i]), math.Max(bin.Hi, probs[i])
		}
		if opts.Scheme != EqualMass {
			bin.Lo, bin.Hi = float64(k)/float64(m), float64(k+1)/float64(m)
		}
		bin.MeanForecast = sum / float64(len(g))
		bin.Rate = float64(bin.Positives) / float64(len(g))
		bin.Interval = Wilson(bin.Positives, len(g), opts.Level)
		w := float64(len(g)) / nf
		d.ECE += w * math.Abs(bin.Rate-bin.MeanForecast)
		d.Reliability += w * (bin.MeanForecast - bin.Rate) * (bin.MeanForecast - bin.Rate)
		d.Resolution += w * (bin.Rate - obar) * (bin.Rate - obar)
		d.Bins = append(d.Bins, bin)
	}
	return d, nil
}

// widthBin returns the 0-based equal-width bin of forecast f among m bins,
// treating f·m within 1e-9 of an integer as exactly on that edge.
func widthBin(f float64, m int, rightClosed bool) int {
	x := f * float64(m)
	k := math.Round(x)
	onEdge := math.Abs(x-k) < 1e-9
	var b int
	switch {
	case rightClosed && onEdge:
		b = int(k) - 1
	case rightClosed:
		b = int(math.Ceil(x)) - 1
	case onEdge:
		b = int(k)
	default:
		b = int(math.Floor(x))
	}
	return min(max(b, 0), m-1)
}
