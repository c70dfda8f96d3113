package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/localize"
	"golang.org/x/time/rate"
)

// Options are the runtime dependencies of a run. The zero value works.
type Options struct {
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient is used by http targets and judges; nil builds one sized
	// for the suite's concurrency.
	HTTPClient *http.Client
	// Progress is called after every recorded trial, from one goroutine at
	// a time; it must be quick.
	Progress func(Progress)
	// CacheDir overrides the suite's cache directory ("" keeps it; "-"
	// disables the cache).
	CacheDir string
}

// Progress reports how far a run is.
type Progress struct {
	Done    int // trials recorded in this invocation
	Total   int // trials planned in this invocation (shrinks as cases stop early)
	Pass    int
	Fail    int
	Errors  int
	Saved   int // trials not run because their case stopped early
	Elapsed time.Duration
}

// RunResult is what Run did in this invocation.
type RunResult struct {
	Progress
	// Interrupted is true when the context was cancelled: the run file holds
	// every trial that finished and Resume continues it.
	Interrupted bool
}

// Runner runs one suite's trials.
type Runner struct {
	suite   *Suite
	cases   []Case
	target  Target
	asserts []Assertion
	opts    Options
	log     *slog.Logger
	cache   *diskCache
	rps     *rate.Limiter
	tpm     *rate.Limiter
	tkey    string // hash of the target configuration, part of cache keys
}

// NewRunner compiles the suite's target and assertions for cases.
func NewRunner(s *Suite, cases []Case, opts Options) (*Runner, error) {
	if len(cases) == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, File: s.Path, Message: "no cases to run"}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{suite: s, cases: cases, opts: opts, log: log.With("component", "eval")}
	var err error
	if r.target, err = NewTarget(s, opts); err != nil {
		return nil, err
	}
	if r.asserts, err = CompileAssertions(s, opts); err != nil {
		return nil, err
	}
	dir := s.resolve(s.Cache)
	switch opts.CacheDir {
	case "":
	case "-":
		dir = ""
	default:
		dir = opts.CacheDir
	}
	if dir != "" {
		r.cache = &diskCache{dir: dir}
	}
	if rl := s.RateLimit; rl != nil {
		if rl.RequestsPerSecond > 0 {
			// Burst 1 paces requests evenly instead of letting a second's
			// worth out at once, which is what providers' limits punish.
			r.rps = rate.NewLimiter(rate.Limit(rl.RequestsPerSecond), 1)
		}
		if rl.TokensPerMinute > 0 {
			r.tpm = rate.NewLimiter(rate.Limit(float64(rl.TokensPerMinute)/60), rl.TokensPerMinute)
		}
	}
	tb, _ := json.Marshal(s.Target)
	sum := sha256.Sum256(tb)
	r.tkey = hex.EncodeToString(sum[:])
	return r, nil
}

// Header returns the run-file header for this runner's suite and cases.
func (r *Runner) Header() RunHeader {
	h := RunHeader{Suite: r.suite.Name, File: r.suite.Path, Started: time.Now().UTC(), Trials: r.suite.Trials,
		Stop: r.suite.Stop, Gate: r.suite.Gate, Seed: r.suite.Seed}
	for _, c := range r.cases {
		h.Cases = append(h.Cases, CaseInfo{ID: c.ID, Tags: c.Tags, VariantOf: c.VariantOf, Kind: c.Kind})
	}
	return h
}

// caseState is one case's progress. Outcomes are observed by the sequential
// test in trial order, whatever order trials finish in, so the stopping
// decision depends on the outcomes alone and not on timing.
type caseState struct {
	mu       sync.Mutex
	c        *Case
	input    any
	expected any
	outcome  []int8 // per trial: unknown, dispatched, pass, fail, error
	nextObs  int
	stop     *sequentialTest
	decided  bool
	// passing are the traces of this case's passing trials so far: the
	// siblings a failing trial is localised against.
	passing []*probity.Trace
}

const (
	oUnknown int8 = iota
	oDispatched
	oPass
	oFail
	oError
)

// observe advances the sequential test over outcomes now known in order and
// returns a stop record when the case's verdict became clear.
func (st *caseState) observe() *StopRecord {
	if st.stop == nil || st.decided {
		return nil
	}
	for st.nextObs < len(st.outcome) {
		o := st.outcome[st.nextObs]
		if o == oUnknown || o == oDispatched {
			return nil
		}
		st.nextObs++
		if o == oError {
			continue // the target failed; that says nothing about the agent
		}
		if d := st.stop.Observe(o == oPass); d != "" {
			st.decided = true
			return &StopRecord{Type: "stop", Case: st.c.ID, Decision: d, Trials: st.stop.N(), LogLR: st.stop.LogLR()}
		}
	}
	return nil
}

type job struct {
	st    *caseState
	trial int
}

// Run runs every trial not already in prior (a run read back for resume;
// nil for a fresh run) and streams each to w as it completes. Cancelling ctx
// stops dispatching, abandons trials in flight (they are not recorded, so
// Resume runs them again) and returns with Interrupted set.
func (r *Runner) Run(ctx context.Context, w *RunWriter, prior *Run) (*RunResult, error) {
	states := make([]*caseState, len(r.cases))
	byID := make(map[string]*caseState, len(r.cases))
	for i := range r.cases {
		c := &r.cases[i]
		st := &caseState{c: c, outcome: make([]int8, r.suite.Trials)}
		st.input, _ = decodeJSON(c.Input)
		st.expected, _ = decodeJSON(c.Expected)
		if r.suite.Stop.Mode == StopSequential {
			st.stop = newSequentialTest(r.suite.Stop, r.suite.Trials)
		}
		states[i], byID[c.ID] = st, st
	}
	if prior != nil {
		restored, err := r.restore(prior, byID)
		if err != nil {
			return nil, err
		}
		for _, stop := range restored {
			if err := w.write(stop); err != nil {
				return nil, err
			}
		}
	}
	res := &RunResult{}
	for _, st := range states {
		if st.decided {
			continue
		}
		for _, o := range st.outcome {
			if o == oUnknown {
				res.Total++
			}
		}
	}
	start := time.Now()
	var pmu sync.Mutex
	report := func(update func(*Progress)) {
		pmu.Lock()
		defer pmu.Unlock()
		update(&res.Progress)
		res.Elapsed = time.Since(start)
		if r.opts.Progress != nil {
			r.opts.Progress(res.Progress)
		}
	}

	jobs := make(chan job)
	go func() {
		defer close(jobs)
		// Trial-major order spreads each case's trials over the run, so
		// sequential stopping sees early outcomes before later trials of the
		// same case are dispatched.
		for t := 0; t < r.suite.Trials; t++ {
			for _, st := range states {
				st.mu.Lock()
				ok := !st.decided && st.outcome[t] == oUnknown
				if ok {
					st.outcome[t] = oDispatched
				}
				st.mu.Unlock()
				if !ok {
					continue
				}
				select {
				case jobs <- job{st, t}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	var wg sync.WaitGroup
	var werrMu sync.Mutex
	var werr error
	for range min(r.suite.Concurrency, res.Total+1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				rec := r.runTrial(ctx, j.st, j.trial)
				if ctx.Err() != nil {
					// Abandoned mid-flight: leave it for Resume rather than
					// record a cancellation as the target's error.
					continue
				}
				if err := w.write(rec); err != nil {
					werrMu.Lock()
					werr = err
					werrMu.Unlock()
					continue
				}
				j.st.mu.Lock()
				switch rec.Status {
				case StatusPass:
					j.st.outcome[j.trial] = oPass
				case StatusFail:
					j.st.outcome[j.trial] = oFail
				default:
					j.st.outcome[j.trial] = oError
				}
				stop := j.st.observe()
				saved := 0
				if stop != nil {
					for _, o := range j.st.outcome {
						if o == oUnknown {
							saved++
						}
					}
				}
				j.st.mu.Unlock()
				if stop != nil {
					if err := w.write(stop); err != nil {
						werrMu.Lock()
						werr = err
						werrMu.Unlock()
					}
					r.log.Debug("case stopped early", "case", stop.Case, "decision", stop.Decision, "trials", stop.Trials)
				}
				report(func(p *Progress) {
					p.Done++
					switch rec.Status {
					case StatusPass:
						p.Pass++
					case StatusFail:
						p.Fail++
					default:
						p.Errors++
					}
					p.Saved += saved
					p.Total -= saved
				})
			}
		}()
	}
	wg.Wait()
	if c, ok := r.target.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	res.Interrupted = ctx.Err() != nil
	res.Elapsed = time.Since(start)
	if werr != nil {
		return res, werr
	}
	return res, nil
}

// restore marks the trials prior already holds, replays them through the
// sequential tests, and checks prior belongs to this suite.
func (r *Runner) restore(prior *Run, byID map[string]*caseState) (restored []*StopRecord, err error) {
	if prior.Header.Suite != r.suite.Name {
		return nil, &probity.Error{Code: probity.ECONFLICT, File: prior.Path,
			Message: fmt.Sprintf("run is of suite %q, not %q", prior.Header.Suite, r.suite.Name)}
	}
	if prior.Header.Trials != r.suite.Trials || prior.Header.Stop.Mode != r.suite.Stop.Mode {
		return nil, &probity.Error{Code: probity.ECONFLICT, File: prior.Path,
			Message: "the suite's trials or stop mode changed since this run started; start a new run"}
	}
	for _, t := range prior.Trials {
		st, ok := byID[t.Case]
		if !ok || t.Trial < 0 || t.Trial >= len(st.outcome) {
			continue // a case since removed from the dataset
		}
		switch t.Status {
		case StatusPass:
			st.outcome[t.Trial] = oPass
		case StatusFail:
			st.outcome[t.Trial] = oFail
		default:
			st.outcome[t.Trial] = oError
		}
	}
	for _, s := range prior.Stops {
		if st, ok := byID[s.Case]; ok {
			st.decided = true
		}
	}
	for _, c := range r.cases {
		// Replay may reach a decision the interrupted run had not recorded;
		// it is recomputed from the same outcomes in the same order, so it
		// is the decision the run would have made.
		if stop := byID[c.ID].observe(); stop != nil {
			restored = append(restored, stop)
		}
	}
	return restored, nil
}

// runTrial runs one trial and its assertions and returns its record.
func (r *Runner) runTrial(ctx context.Context, st *caseState, trial int) TrialRecord {
	start := time.Now()
	rec := TrialRecord{Type: "trial", Case: st.c.ID, Trial: trial, Input: st.c.Input, Started: start.UTC()}
	tctx, cancel := context.WithTimeoutCause(ctx, r.suite.Timeout, errTrialTimeout)
	defer cancel()
	req := Request{Case: st.c, Trial: trial}
	out, attempts, cached, err := r.call(tctx, req)
	rec.Attempts = attempts
	rec.Cached = cached
	if err != nil {
		rec.Status = StatusError
		rec.LatencyMS = ms(time.Since(start))
		var te *TargetError
		if errors.As(err, &te) {
			if te.Kind == "canceled" && tctx.Err() != nil && errors.Is(context.Cause(tctx), errTrialTimeout) {
				te = targetErr("timeout", "no answer within %s", r.suite.Timeout)
			}
			rec.Error = &ErrorInfo{Kind: te.Kind, Message: te.Msg}
		} else {
			rec.Error = &ErrorInfo{Kind: "internal", Message: err.Error()}
		}
		return rec
	}
	if !cached {
		out.Latency = time.Since(start)
	}
	rec.LatencyMS = ms(out.Latency)
	rec.Output, _ = json.Marshal(out.Value)
	rec.Trace = out.Trace
	rec.CostUSD = out.CostUSD
	if out.Tokens.Total() > 0 {
		u := out.Tokens
		rec.Tokens = &u
	}
	// Assertions get their own deadline: a slow judge is not the target's
	// latency.
	actx, acancel := context.WithTimeout(ctx, r.suite.Timeout)
	defer acancel()
	chk := &Check{Case: st.c, Input: st.input, Expected: st.expected, Output: out}
	rec.Status = StatusPass
	for _, a := range r.asserts {
		res := a.Check(actx, chk)
		rec.CostUSD += res.CostUSD
		rec.Assertions = append(rec.Assertions, res)
		switch {
		case res.Error != "":
			rec.Status = StatusError
			if rec.Error == nil {
				rec.Error = &ErrorInfo{Kind: "assertion", Message: res.Name + ": " + res.Error}
			}
		case !res.Pass && rec.Status == StatusPass:
			rec.Status = StatusFail
		}
	}
	r.localizeTrial(st, &rec, out.Trace)
	return rec
}

// localizeTrial records where a failing trial went wrong, against the
// case's expected actions and output and the passing trials of the same
// case finished so far (trials run concurrently: a sibling still running
// is not seen). A passing trial's trace joins the siblings.
func (r *Runner) localizeTrial(st *caseState, rec *TrialRecord, t *probity.Trace) {
	if t == nil || (rec.Status != StatusPass && rec.Status != StatusFail) {
		return
	}
	// The trial's status is the outcome; the trace itself carries none.
	c := *t
	ok := rec.Status == StatusPass
	c.Labels.IsCorrect = &ok
	st.mu.Lock()
	if ok {
		st.passing = append(st.passing, &c)
		st.mu.Unlock()
		return
	}
	sibs := slices.Clone(st.passing)
	st.mu.Unlock()
	rep := detect.Run(&c, nil, nil)
	rec.Localization = localize.Run(localize.Input{Trace: &c, Report: &rep, Reference: caseReference(st.c.Expected), Siblings: sibs})
}

// caseReference reads a case's expected value as a reference: an object
// with "actions" ([{name, arguments|kwargs|args}]) and "output" or
// "answer", or any other value as the expected answer.
func caseReference(expected json.RawMessage) *localize.Reference {
	if len(expected) == 0 {
		return nil
	}
	refs, err := localize.ParseReferences("expected", append(append([]byte("[{\"expected\": "), expected...), []byte("}]")...))
	if err == nil {
		if ref := refs["0"]; ref != nil && (len(ref.Actions) > 0 || ref.Answer != "") {
			return ref
		}
	}
	var v any
	if json.Unmarshal(expected, &v) != nil {
		return nil
	}
	if s, ok := v.(string); ok {
		return &localize.Reference{Answer: s}
	}
	return &localize.Reference{Answer: string(expected)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// call runs the target with the cache, rate limits and retries. Retries
// happen only when the target says "slow down" (429) or "not now" (503),
// after its Retry-After or an exponential backoff with jitter; every other
// failure is the trial's error.
func (r *Runner) call(ctx context.Context, req Request) (out *Output, attempts int, cached bool, err error) {
	var key string
	if r.cache != nil {
		key = r.cacheKey(req)
		if o, ok := r.cache.get(key); ok {
			return o, 0, true, nil
		}
	}
	retries := DefaultRetries
	if r.suite.Retries != nil {
		retries = *r.suite.Retries
	}
	for attempt := 1; ; attempt++ {
		if err := r.waitRate(ctx); err != nil {
			return nil, attempt - 1, false, ctxErr(ctx)
		}
		out, err = r.target.Run(ctx, req)
		if err == nil {
			if r.tpm != nil && out.Tokens.Total() > 0 {
				// Charge the tokens spent: later requests wait off the debt.
				r.tpm.ReserveN(time.Now(), int(min(out.Tokens.Total(), int64(r.tpm.Burst()))))
			}
			if r.cache != nil {
				if cerr := r.cache.put(key, out); cerr != nil {
					r.log.Warn("cache write failed", "err", cerr)
				}
			}
			return out, attempt, false, nil
		}
		var re *retryable
		if !errors.As(err, &re) || attempt > retries {
			return nil, attempt, false, err
		}
		wait := re.after
		if wait <= 0 {
			wait = backoff(attempt)
		}
		r.log.Debug("target asked to slow down", "case", req.Case.ID, "trial", req.Trial, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attempt, false, ctxErr(ctx)
		case <-t.C:
		}
	}
}

// backoff is exponential from 250 ms, capped at 20 s, with full jitter so
// many workers throttled together do not retry together.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt-1, 7)
	d = min(d, 20*time.Second)
	return d/2 + rand.N(d/2+1)
}

func (r *Runner) waitRate(ctx context.Context) error {
	if r.rps != nil {
		if err := r.rps.Wait(ctx); err != nil {
			return err
		}
	}
	if r.tpm != nil {
		if err := r.tpm.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// cacheKey addresses a trial's result by content: the target configuration,
// the case as the target sees it, and the trial number, so the k trials of
// a case are k distinct entries (real repeated trials), and changing the
// target or the case misses the cache.
func (r *Runner) cacheKey(req Request) string {
	h := sha256.New()
	b, _ := json.Marshal(struct {
		Target   string          `json:"target"`
		ID       string          `json:"id"`
		Input    json.RawMessage `json:"input"`
		Fixtures json.RawMessage `json:"fixtures"`
		Tags     []string        `json:"tags"`
		Trial    int             `json:"trial"`
	}{r.tkey, req.Case.ID, req.Case.Input, req.Case.Fixtures, req.Case.Tags, req.Trial})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
