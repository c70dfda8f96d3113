package eval

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/probity/probity/stats"
	"gonum.org/v1/gonum/stat/distuv"
)

// Case classes. They describe what was observed, with the evidence next to
// them: a case is flaky as soon as it has both passed and failed, and
// stable when every valid trial agreed. The interval says how far "stable"
// can be trusted: 10/10 passes is stable-pass with a 95% interval of
// [0.72, 1], not a proof of reliability.
const (
	ClassStablePass = "stable-pass"
	ClassStableFail = "stable-fail"
	ClassFlaky      = "flaky"
	ClassError      = "error" // every trial was an error: nothing is known about the agent
	ClassNotRun     = "not-run"
)

// Level is the confidence level of every interval in a summary.
const Level = 0.95

// bootstrapReps is the number of task-bootstrap resamples for pass@k and
// pass^k intervals; 2000 keeps the percentile ends stable to about ±0.01.
const bootstrapReps = 2000

// Summary is the digest of a run: `probity eval run --format json` prints it.
// The keys suite{trials, passes, pass_rate, interval, pass_hat_k},
// cases[{id, trials, passes, pass_rate, interval, class}] and gate{passed,
// reason} are a contract.
type Summary struct {
	Suite SuiteSummary  `json:"suite"`
	Cases []CaseSummary `json:"cases"`
	Gate  GateResult    `json:"gate"`
	// Baseline compares the run with --baseline, when one is given.
	Baseline *BaselineSummary `json:"baseline,omitempty"`
	// Interrupted marks a run stopped before it finished (Ctrl-C): it has
	// no gate verdict, and every writer says so instead of printing one.
	// Set it with Interrupt.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Interrupt marks s as the summary of an interrupted run: a run that did
// not finish has no gate verdict, so Gate no longer passes and says why.
func (s *Summary) Interrupt() {
	s.Interrupted = true
	s.Gate = GateResult{Passed: false, Reason: "interrupted: no gate verdict"}
}

// ErrorSample is one distinct target error: what went wrong, how many
// trials it ended, and the first of them, so the cause is on screen and not
// only in the run file.
type ErrorSample struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Trials  int    `json:"trials"`
	Case    string `json:"case"`
	Trial   int    `json:"trial"`
}

// maxErrorSamples bounds SuiteSummary.FirstErrors: a few distinct causes
// explain a broken target; a hundred would bury the verdict.
const maxErrorSamples = 3

// BaselineSummary is the paired comparison with the baseline run (see
// Compare): how likely this run is worse by more than the margin.
type BaselineSummary struct {
	File         string   `json:"file"`
	PassRate     float64  `json:"pass_rate"` // the baseline's, over the paired trials
	Delta        float64  `json:"delta"`     // baseline − this run; > 0 means worse
	Margin       float64  `json:"margin"`
	PWorse       float64  `json:"p_worse"`
	Regressed    bool     `json:"regressed"`
	NewlyFailing []string `json:"newly_failing"`
	NewlyFlaky   []string `json:"newly_flaky"`
}

// SuiteSummary is the suite-level result.
type SuiteSummary struct {
	Name string `json:"name"`
	// Trials counts valid trials (passes + failures); errors are apart.
	Trials int `json:"trials"`
	Passes int `json:"passes"`
	Errors int `json:"errors"`
	// PassRate is the mean of the cases' pass rates (see SuiteInterval); it
	// is Passes/Trials when every case has the same number of valid trials.
	PassRate float64 `json:"pass_rate"`
	// Interval is the two-sided 95% interval of the pass rate and
	// LowerBound its one-sided 95% lower bound, both cluster-aware (see
	// SuiteInterval).
	Interval     [2]float64 `json:"interval"`
	LowerBound   float64    `json:"lower_bound"`
	EffectiveN   float64    `json:"effective_n"`
	DesignEffect float64    `json:"design_effect"`
	// PassHatK[k] is τ-bench's pass^k (all k trials pass), unbiased per
	// case and averaged over cases; PassAtK[k] is pass@k (at least one of k
	// passes). Intervals bootstrap over cases. k runs to the smallest number
	// of valid trials of any case.
	PassHatK         map[string]float64    `json:"pass_hat_k"`
	PassHatKInterval map[string][2]float64 `json:"pass_hat_k_interval"`
	PassAtK          map[string]float64    `json:"pass_at_k"`
	PassAtKInterval  map[string][2]float64 `json:"pass_at_k_interval"`
	// Classes counts cases per class.
	Classes map[string]int `json:"classes"`
	// Cases is the number of cases; Planned the trial budget (cases ×
	// trials); Saved the trials early stopping did not need to run.
	Cases        int  `json:"cases"`
	Planned      int  `json:"planned"`
	Saved        int  `json:"trials_saved"`
	StoppedEarly int  `json:"cases_stopped_early"`
	Complete     bool `json:"complete"`
	// ErrorKinds counts error trials by kind (timeout, http, crash, ...).
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	// FirstErrors are the first distinct error messages, in run-file
	// order (at most three).
	FirstErrors []ErrorSample `json:"first_errors,omitempty"`
	CostUSD     float64       `json:"cost_usd"`
	Tokens      Usage         `json:"tokens"`
	Latency     LatencyStats  `json:"latency_ms"`
	Cached      int           `json:"cached,omitempty"`
	// JudgeAgreement is the mean share of judge votes on the majority side,
	// over every judge assertion that voted more than once: 1 means the
	// judge never disagreed with itself.
	JudgeAgreement *float64 `json:"judge_agreement,omitempty"`
}

// LatencyStats summarises trial latencies in milliseconds.
type LatencyStats struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Max  float64 `json:"max"`
}

// CaseSummary is one case's result.
type CaseSummary struct {
	ID       string     `json:"id"`
	Tags     []string   `json:"tags,omitempty"`
	Trials   int        `json:"trials"`
	Passes   int        `json:"passes"`
	Errors   int        `json:"errors"`
	PassRate float64    `json:"pass_rate"`
	Interval [2]float64 `json:"interval"`
	Class    string     `json:"class"`
	// Evidence says in words why the case has its class.
	Evidence string `json:"evidence"`
	// FailedTrials lists the trial numbers that failed (up to 20).
	FailedTrials []int `json:"failed_trials,omitempty"`
	// FailedAssertions counts failures per assertion name.
	FailedAssertions map[string]int `json:"failed_assertions,omitempty"`
	// Stopped is set when sequential stopping ended the case early.
	Stopped *StopRecord `json:"stopped,omitempty"`
	CostUSD float64     `json:"cost_usd"`
	// LatencyMS is the mean latency of the case's trials.
	LatencyMS float64 `json:"latency_ms"`
}

// GateResult is the CI verdict.
type GateResult struct {
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
	// Checks lists every condition evaluated.
	Checks []GateCheck `json:"checks,omitempty"`
}

// GateCheck is one gate condition.
type GateCheck struct {
	Name   string  `json:"name"`
	Passed bool    `json:"passed"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Detail string  `json:"detail"`
}

// SuiteInterval estimates a suite pass rate and its cluster-aware interval
// from each case's trial scores (1 pass, 0 fail).
//
// The estimate is the mean of the cases' pass rates: each case weighs the
// same, whatever number of valid trials it has (it equals passes/trials when
// every case has the same number, and it is τ-bench's pass^1). Pooling
// trials instead would let the cases that sequential stopping or target
// errors cut short count for less.
//
// The interval: trials of one case are correlated, so they are worth fewer
// independent trials. Following METHODS §1 ("aggregate per task first"),
// the standard error is the CR1 cluster-robust SE of the case means
// (stats.ClusteredSECR1 over one score per case: the sample variance of the
// case rates over G, Miller 2024). Its ratio to the binomial variance
// p̂(1−p̂)/N of N valid trials is the design effect deff, bounded to [1, m]
// where m is the most trials any case has (a case counts at least as one
// observation). The effective sample size is n_eff = N/deff, and the
// interval is Wilson's at (p̂, n_eff) with Student-t critical values on G−1
// degrees of freedom instead of normal ones (METHODS §1's small-G
// correction): two-sided at level for the interval, one-sided (the level
// quantile) for the lower bound the gate uses. When p̂ is 0 or 1 every
// case agrees with every other, the case rates have no spread and deff = 1:
// the limit the rule approaches as the last failure disappears (19 cases at
// 10/10 and one at 9/10 already give deff ≈ 1), so the bound does not jump
// when it does. With a single case, its trials are independent draws of it:
// deff = 1 and normal critical values.
//
// Simulated coverage of the two-sided 95% interval (case rates drawn from
// {0.5, 0.7, 0.85, 0.95, 1}; 4000 suites each): 0.956 at G = 8, m = 10;
// 0.954 at G = 20, m = 10; 0.951 at G = 50, m = 10; conservative (0.99) at
// G = 4. Without the corrections (CR0, normal) it was 0.905, 0.932, 0.942
// and 0.842. TestSuiteIntervalCovers and TestSuiteIntervalCoverageSimulated
// check it.
func SuiteInterval(perCase [][]float64, level float64) (p, lo, hi, lower, nEff, deff float64) {
	n, m := 0, 0
	var rates [][]float64
	for _, c := range perCase {
		if len(c) == 0 {
			continue
		}
		n += len(c)
		m = max(m, len(c))
		sum := 0.0
		for _, x := range c {
			sum += x
		}
		rates = append(rates, []float64{sum / float64(len(c))})
	}
	g := len(rates)
	if n == 0 {
		return math.NaN(), 0, 1, 0, 0, math.NaN()
	}
	for _, r := range rates {
		p += r[0]
	}
	p /= float64(g)
	zTwo := stdNormalQuantile(1 - (1-level)/2)
	zOne := stdNormalQuantile(level)
	switch {
	case g == 1, p <= 0, p >= 1:
		deff = 1
	default:
		_, se := stats.ClusteredSECR1(rates)
		deff = se * se / (p * (1 - p) / float64(n))
		deff = math.Max(1, math.Min(float64(m), deff))
	}
	if g > 1 {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(g - 1)}
		zTwo, zOne = t.Quantile(1-(1-level)/2), t.Quantile(level)
	}
	nEff = float64(n) / deff
	lo, hi = wilsonFloat(p, nEff, zTwo)
	lower, _ = wilsonFloat(p, nEff, zOne)
	return p, lo, hi, lower, nEff, deff
}

// wilsonFloat is the Wilson score interval at a real-valued sample size (an
// effective n); at integer n it equals stats.Wilson, which the tests check.
func wilsonFloat(p, n, z float64) (lo, hi float64) {
	z2 := z * z
	d := 1 + z2/n
	centre := (p + z2/(2*n)) / d
	half := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / d
	lo, hi = math.Max(0, centre-half), math.Min(1, centre+half)
	if p == 0 {
		lo = 0
	}
	if p == 1 {
		hi = 1
	}
	return lo, hi
}

// stdNormalQuantile is Φ⁻¹(q) via the inverse error function.
func stdNormalQuantile(q float64) float64 { return math.Sqrt2 * math.Erfinv(2*q-1) }

// Summarize digests a run. baseline, when not nil, is the run the gate's
// max_regression compares against.
func Summarize(run *Run, baseline *Run) *Summary {
	h := run.Header
	s := &Summary{Suite: SuiteSummary{Name: h.Suite, Classes: map[string]int{}, Cases: len(h.Cases), Planned: len(h.Cases) * h.Trials}}
	idx := map[string]int{}
	for i, c := range h.Cases {
		idx[c.ID] = i
		s.Cases = append(s.Cases, CaseSummary{ID: c.ID, Tags: c.Tags})
	}
	var lat []float64
	errKinds := map[string]int{}
	agreeSum, agreeN := 0.0, 0
	for _, t := range run.Trials {
		for _, a := range t.Assertions {
			if a.Agreement != nil {
				agreeSum += *a.Agreement
				agreeN++
			}
		}
		i, ok := idx[t.Case]
		if !ok {
			i = len(s.Cases)
			idx[t.Case] = i
			s.Cases = append(s.Cases, CaseSummary{ID: t.Case})
		}
		c := &s.Cases[i]
		c.CostUSD += t.CostUSD
		c.LatencyMS += t.LatencyMS
		s.Suite.CostUSD += t.CostUSD
		if t.Tokens != nil {
			s.Suite.Tokens.Input += t.Tokens.Input
			s.Suite.Tokens.Output += t.Tokens.Output
		}
		if t.Cached {
			s.Suite.Cached++
		}
		lat = append(lat, t.LatencyMS)
		switch t.Status {
		case StatusPass:
			c.Trials++
			c.Passes++
		case StatusFail:
			c.Trials++
			if len(c.FailedTrials) < 20 {
				c.FailedTrials = append(c.FailedTrials, t.Trial)
			}
			for _, a := range t.Assertions {
				if !a.Pass && a.Error == "" {
					if c.FailedAssertions == nil {
						c.FailedAssertions = map[string]int{}
					}
					c.FailedAssertions[a.Name]++
				}
			}
		default:
			c.Errors++
			kind, msg := "unknown", ""
			if t.Error != nil {
				kind, msg = t.Error.Kind, t.Error.Message
			}
			errKinds[kind]++
			s.Suite.FirstErrors = addErrorSample(s.Suite.FirstErrors, kind, msg, t.Case, t.Trial)
		}
	}
	if len(errKinds) > 0 {
		s.Suite.ErrorKinds = errKinds
	}
	if agreeN > 0 {
		a := round6(agreeSum / float64(agreeN))
		s.Suite.JudgeAgreement = &a
	}
	for _, st := range run.Stops {
		if i, ok := idx[st.Case]; ok {
			stop := st
			s.Cases[i].Stopped = &stop
			s.Suite.StoppedEarly++
		}
	}
	perCase := make([][]float64, 0, len(s.Cases))
	var tasks []stats.TaskCounts
	done := 0
	for i := range s.Cases {
		c := &s.Cases[i]
		ran := c.Trials + c.Errors
		done += ran
		if ran > 0 {
			c.LatencyMS /= float64(ran)
		}
		c.CostUSD, c.LatencyMS = round6(c.CostUSD), round3(c.LatencyMS)
		if c.Stopped != nil {
			s.Suite.Saved += max(0, h.Trials-ran)
		}
		c.Interval = [2]float64{0, 1}
		classify(c, h.Trials)
		s.Suite.Classes[c.Class]++
		s.Suite.Trials += c.Trials
		s.Suite.Passes += c.Passes
		s.Suite.Errors += c.Errors
		if c.Trials == 0 {
			continue
		}
		scores := make([]float64, c.Trials)
		for j := range c.Passes {
			scores[j] = 1
		}
		perCase = append(perCase, scores)
		tasks = append(tasks, stats.TaskCounts{N: c.Trials, C: c.Passes})
	}
	s.Suite.Complete = done+s.Suite.Saved >= s.Suite.Planned
	s.Suite.CostUSD = round6(s.Suite.CostUSD)
	s.Suite.Latency = latencyStats(lat)
	if s.Suite.Trials > 0 {
		p, lo, hi, lower, nEff, deff := SuiteInterval(perCase, Level)
		s.Suite.PassRate, s.Suite.Interval, s.Suite.LowerBound = round6(p), [2]float64{round6(lo), round6(hi)}, round6(lower)
		s.Suite.EffectiveN, s.Suite.DesignEffect = round6(nEff), round6(deff)
	} else {
		s.Suite.Interval = [2]float64{0, 1}
	}
	s.Suite.PassHatK, s.Suite.PassHatKInterval = map[string]float64{}, map[string][2]float64{}
	s.Suite.PassAtK, s.Suite.PassAtKInterval = map[string]float64{}, map[string][2]float64{}
	if len(tasks) > 0 {
		kmax := tasks[0].N
		for _, t := range tasks {
			kmax = min(kmax, t.N)
		}
		seed := uint64(h.Seed)
		for k := 1; k <= min(kmax, 10); k++ {
			key := strconv.Itoa(k)
			est, iv := stats.PassHatKBootstrap(tasks, k, bootstrapReps, seed, Level)
			s.Suite.PassHatK[key], s.Suite.PassHatKInterval[key] = round6(est), [2]float64{round6(iv.Lo), round6(iv.Hi)}
			est, iv = stats.PassAtKBootstrap(tasks, k, bootstrapReps, seed, Level)
			s.Suite.PassAtK[key], s.Suite.PassAtKInterval[key] = round6(est), [2]float64{round6(iv.Lo), round6(iv.Hi)}
		}
	}
	s.Gate = evaluateGate(h.Gate, s, tasks, run, baseline)
	if baseline != nil {
		o := CompareOptions{Confidence: h.Gate.RegressionConfidence}
		if h.Gate.MaxRegression != nil {
			o.Margin = *h.Gate.MaxRegression
		}
		c := Compare(baseline, run, o)
		s.Baseline = &BaselineSummary{File: baseline.Path, PassRate: c.PassRateA, Delta: c.Delta, Margin: c.Margin, PWorse: c.PWorse,
			Regressed: c.Regressed, NewlyFailing: c.NewlyFailing, NewlyFlaky: c.NewlyFlaky}
	}
	return s
}

// classify sets a case's rate, interval, class and evidence.
func classify(c *CaseSummary, budget int) {
	if c.Trials == 0 {
		if c.Errors > 0 {
			c.Class = ClassError
			c.Evidence = fmt.Sprintf("all %d trials were errors: the target never answered, so nothing is known about the agent", c.Errors)
		} else {
			c.Class = ClassNotRun
			c.Evidence = "no trials ran"
		}
		return
	}
	c.PassRate = round6(float64(c.Passes) / float64(c.Trials))
	slices.Sort(c.FailedTrials)
	iv := stats.Wilson(c.Passes, c.Trials, Level)
	c.Interval = [2]float64{round6(iv.Lo), round6(iv.Hi)}
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d passed, 95%% CI [%.2f, %.2f]", c.Passes, c.Trials, iv.Lo, iv.Hi)
	switch {
	case c.Passes == c.Trials:
		c.Class = ClassStablePass
	case c.Passes == 0:
		c.Class = ClassStableFail
	default:
		c.Class = ClassFlaky
		fmt.Fprintf(&b, "; failed trial(s) %s", intList(c.FailedTrials))
	}
	if len(c.FailedAssertions) > 0 {
		names := sortedKeys(c.FailedAssertions)
		slices.SortStableFunc(names, func(x, y string) int { return c.FailedAssertions[y] - c.FailedAssertions[x] })
		var parts []string
		for _, n := range names[:min(3, len(names))] {
			parts = append(parts, fmt.Sprintf("%s ×%d", n, c.FailedAssertions[n]))
		}
		fmt.Fprintf(&b, "; failing: %s", strings.Join(parts, ", "))
	}
	if c.Errors > 0 {
		fmt.Fprintf(&b, "; %d error trial(s) not counted", c.Errors)
	}
	if c.Stopped != nil {
		side := "above p0"
		if c.Stopped.Decision == StatusFail {
			side = "below p1"
		}
		fmt.Fprintf(&b, "; stopped early after %d of %d trials: rate %s", c.Stopped.Trials, budget, side)
	}
	c.Evidence = b.String()
}

func intList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = "#" + strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func latencyStats(xs []float64) LatencyStats {
	if len(xs) == 0 {
		return LatencyStats{}
	}
	slices.Sort(xs)
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	q := func(p float64) float64 { return xs[min(len(xs)-1, int(math.Ceil(p*float64(len(xs))))-1)] }
	return LatencyStats{Mean: round3(sum / float64(len(xs))), P50: q(0.5), P95: q(0.95), Max: xs[len(xs)-1]}
}

func round6(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return math.Round(x*1e6) / 1e6
}

func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }

// evaluateGate checks every condition the suite's gate sets.
func evaluateGate(g GateSpec, s *Summary, tasks []stats.TaskCounts, run, baseline *Run) GateResult {
	var checks []GateCheck
	if s.Suite.Trials == 0 {
		return GateResult{Passed: false, Reason: fmt.Sprintf("no valid trials (%d errors): the gate cannot pass on no evidence", s.Suite.Errors)}
	}
	if g.MinPassRate != nil {
		ok := s.Suite.LowerBound >= *g.MinPassRate
		checks = append(checks, GateCheck{Name: "min_pass_rate", Passed: ok, Value: round6(s.Suite.LowerBound), Limit: *g.MinPassRate,
			Detail: fmt.Sprintf("pass rate %.3f, one-sided 95%% lower bound %.3f %s %.3f required", s.Suite.PassRate, s.Suite.LowerBound, cmpWord(ok), *g.MinPassRate)})
	}
	if pk := g.PassHatK; pk != nil {
		eligible := 0
		for _, t := range tasks {
			if t.N >= pk.K {
				eligible++
			}
		}
		var c GateCheck
		if eligible < len(tasks) || len(tasks) == 0 {
			c = GateCheck{Name: "pass_hat_k", Limit: pk.Min, Detail: fmt.Sprintf("pass^%d needs %d valid trials in every case; %d of %d cases have them", pk.K, pk.K, eligible, len(tasks))}
		} else {
			// The 90% two-sided bootstrap interval's lower end is a one-sided
			// 95% lower bound.
			est, iv := stats.PassHatKBootstrap(tasks, pk.K, bootstrapReps, uint64(run.Header.Seed), 1-2*(1-Level))
			ok := iv.Lo >= pk.Min
			c = GateCheck{Name: "pass_hat_k", Passed: ok, Value: round6(iv.Lo), Limit: pk.Min,
				Detail: fmt.Sprintf("pass^%d %.3f, one-sided 95%% lower bound %.3f %s %.3f required", pk.K, est, iv.Lo, cmpWord(ok), pk.Min)}
		}
		checks = append(checks, c)
	}
	if g.MaxRegression != nil {
		if baseline == nil {
			checks = append(checks, GateCheck{Name: "max_regression", Passed: true, Limit: *g.MaxRegression,
				Detail: "no baseline given (--baseline), regression not checked"})
		} else {
			cmp := Compare(baseline, run, CompareOptions{Margin: *g.MaxRegression, Confidence: g.RegressionConfidence})
			ok := !cmp.Regressed
			checks = append(checks, GateCheck{Name: "max_regression", Passed: ok, Value: round6(cmp.PWorse), Limit: g.RegressionConfidence,
				Detail: fmt.Sprintf("P(pass rate dropped by more than %.3f vs baseline) = %.3f %s %.2f", *g.MaxRegression, cmp.PWorse, map[bool]string{true: "<", false: "≥"}[ok], g.RegressionConfidence)})
		}
	}
	if g.MaxErrorRate != nil {
		rate := float64(s.Suite.Errors) / float64(s.Suite.Errors+s.Suite.Trials)
		ok := rate <= *g.MaxErrorRate
		checks = append(checks, GateCheck{Name: "max_error_rate", Passed: ok, Value: round6(rate), Limit: *g.MaxErrorRate,
			Detail: fmt.Sprintf("error rate %.3f %s %.3f allowed", rate, map[bool]string{true: "≤", false: ">"}[ok], *g.MaxErrorRate)})
	}
	if len(checks) == 0 {
		return GateResult{Passed: true, Reason: "no gate conditions set"}
	}
	res := GateResult{Passed: true, Checks: checks}
	var failed, all []string
	for _, c := range checks {
		all = append(all, c.Detail)
		if !c.Passed {
			res.Passed = false
			failed = append(failed, c.Detail)
		}
	}
	if res.Passed {
		res.Reason = strings.Join(all, "; ")
	} else {
		res.Reason = strings.Join(failed, "; ")
	}
	return res
}

func cmpWord(ok bool) string {
	if ok {
		return "≥"
	}
	return "<"
}

// addErrorSample counts one error trial into samples: a known message
// gains a trial, a new one is added while there is room.
func addErrorSample(samples []ErrorSample, kind, msg, caseID string, trial int) []ErrorSample {
	for i := range samples {
		if samples[i].Kind == kind && samples[i].Message == msg {
			samples[i].Trials++
			return samples
		}
	}
	if len(samples) < maxErrorSamples {
		samples = append(samples, ErrorSample{Kind: kind, Message: msg, Trials: 1, Case: caseID, Trial: trial})
	}
	return samples
}
