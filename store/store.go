// Package store holds what `probity serve` keeps and the promises every
// storage backend makes about it: spans as they arrive, the traces assembled
// from them in the database (so any replica may receive any span), the
// analysis of each finished trace, people's feedback, and the state,
// alerts and outbox of monitors.
//
// The domain types and the Store interface live here; each backend lives in
// a subpackage named after its technology (sqlite, postgres), and storetest
// is the one contract suite that every backend passes. Errors are
// *probity.Error with the codes each method documents; anything else is
// internal.
//
// # Trace lifecycle
//
// AddSpans stores spans idempotently: a span id seen twice in a trace is
// stored once, and a batch that brings nothing new changes nothing. A
// trace is ready for analysis when it has spans it was not yet analysed
// with, its root span has ended, and no new span arrived for the idle
// period; a trace whose root never arrives is ready after the longer
// orphan period. ClaimReady hands ready traces out under a lease, safely
// across processes: two claimers never get the same trace while a lease
// holds. SaveAnalyses stores the report only if the claim still holds, and
// marks the trace analysed with the spans it had when claimed. A span that
// arrives later reopens the trace: it becomes ready again after the idle
// period and its next analysis replaces the previous one (Revision counts
// them).
package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
)

// Span is one stored span. The store indexes its ids and times and keeps
// Resource and Data as opaque bytes (the otlp package encodes and decodes
// them); the spans of one resource may share the same Resource bytes, and
// the store keeps each distinct resource once.
type Span struct {
	// TraceID (32 hex digits), SpanID and ParentID (16 hex digits, ""
	// for a root span), lower-case.
	TraceID, SpanID, ParentID string
	// Start and End are the span's own times; zero when unknown.
	Start, End time.Time
	// Service and Agent name what sent the span (service.name,
	// gen_ai.agent.name), for list filters; "" when unknown.
	Service, Agent string
	// Resource and Data are the encoded resource and span.
	Resource, Data []byte
}

// AddResult says what AddSpans did.
type AddResult struct {
	// Added is the number of spans stored; Duplicates the number already
	// there (a retried export).
	Added, Duplicates int
}

// Verdicts a list shows and filters on besides probity's own: a trace not
// yet analysed is pending; one whose spans did not form a trace is error.
const (
	VerdictPending = "pending"
	VerdictError   = "error"
)

// TraceSummary is one trace as lists show it.
type TraceSummary struct {
	TraceID string
	Service string
	Agent   string
	// StartedAt and EndedAt span the trace's spans.
	StartedAt, EndedAt time.Time
	// Spans counts the distinct spans stored.
	Spans int
	// ReceivedAt is when its latest new span arrived.
	ReceivedAt time.Time
	// Verdict is "" until the trace is analysed, VerdictError when it
	// could not be.
	Verdict       probity.Verdict
	RootCauseStep *int
	// Steps counts the steps of the trace as last analysed.
	Steps int
	// Detectors are the distinct detectors with findings, sorted.
	Detectors []string
	// AnalysedAt is when the latest analysis was saved; Revision counts
	// the analyses (0: never analysed; above 1: late spans reopened it).
	AnalysedAt time.Time
	Revision   int
	// Stale reports spans that arrived after the latest analysis: the
	// trace will be analysed again.
	Stale bool
}

// Claim is a ready trace handed to one analyser under a lease.
type Claim struct {
	TraceID string
	// Gen identifies the set of spans the trace had when claimed.
	Gen int64
	// Token proves the claim to SaveAnalyses and Release.
	Token string
}

// ClaimOptions say which traces are ready and for how long a claim holds.
type ClaimOptions struct {
	// Idle is the quiet period after the last new span of a trace whose
	// root span has ended.
	Idle time.Duration
	// OrphanIdle is the quiet period for a trace whose root span has not
	// arrived (its root may be in a service that does not export here).
	OrphanIdle time.Duration
	// Lease is how long the claim holds; after it another claimer may
	// take the trace (the first analyser died).
	Lease time.Duration
	// Limit caps the traces claimed at once.
	Limit int
}

// Analysis is the stored result of analysing one trace.
type Analysis struct {
	TraceID string
	// Verdict, RootCauseStep and Detectors summarise Report for lists.
	Verdict       probity.Verdict
	RootCauseStep *int
	Detectors     []string
	// Steps counts the steps of the analysed trace.
	Steps int
	// Report is exactly the `analyze --format json` object.
	Report json.RawMessage
	// Error says why the trace could not be analysed (spans that do not
	// form a trace); Report is then empty. Such a trace is not retried
	// until new spans arrive.
	Error string
	// AnalysedAt and Revision are set by the store.
	AnalysedAt time.Time
	Revision   int
}

// ClaimedAnalysis is an analysis to save under its claim.
type ClaimedAnalysis struct {
	Claim    Claim
	Analysis Analysis
}

// SaveAnalysis saves one analysis (see Store.SaveAnalyses); ECONFLICT
// when its claim no longer holds.
func SaveAnalysis(ctx context.Context, s Store, c Claim, a Analysis) error {
	errs, err := s.SaveAnalyses(ctx, []ClaimedAnalysis{{c, a}})
	if err != nil {
		return err
	}
	return errs[0]
}

// Filter selects traces for ListTraces. Zero fields do not filter.
type Filter struct {
	// Verdict is ok, suspect, fail, pending or error.
	Verdict string
	// Detector keeps traces with a finding of this detector.
	Detector string
	Service  string
	Agent    string
	// Since and Until bound StartedAt: Since ≤ StartedAt < Until.
	Since, Until time.Time
	// Limit caps the page (DefaultLimit when 0, at most MaxLimit).
	Limit int
	// Cursor continues a previous page (its NextCursor).
	Cursor string
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Page is one page of a trace list, newest StartedAt first.
type Page struct {
	Traces []TraceSummary
	// NextCursor continues the list; "" on the last page.
	NextCursor string
}

// Feedback labels.
const (
	LabelCorrect   = "correct"
	LabelIncorrect = "incorrect"
)

// Feedback is a person's verdict on a trace.
type Feedback struct {
	ID      int64
	TraceID string
	// Label is LabelCorrect or LabelIncorrect.
	Label string
	// Step is the source position the verdict is about, when it is about
	// one.
	Step *int
	Note string
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// MaxNote bounds a feedback note.
const MaxNote = 4096

// EvalRun is an eval run file pushed to the server, kept whole for the UI.
type EvalRun struct {
	// ID is derived from the content: pushing a file twice stores it once.
	ID         string
	Suite      string
	Started    time.Time
	ReceivedAt time.Time
	// Trials counts its trial records.
	Trials int
	// Data is the run file (JSON Lines); lists leave it empty.
	Data []byte
}

// Lock is a held singleton lock (see Store.TryLock).
type Lock interface {
	// Lost is closed when the lock is lost: its connection or lease
	// failed, so another process may now hold it.
	Lost() <-chan struct{}
	// Unlock releases the lock.
	Unlock(ctx context.Context) error
}

// Store is what the server keeps. Implementations are safe for concurrent
// use by many goroutines and by several processes sharing one database.
type Store interface {
	// AddSpans stores spans and updates their traces in one transaction:
	// when it returns nil, every span is durable. A span whose
	// (TraceID, SpanID) is already stored is counted as a duplicate and
	// changes nothing. EINVALID: an id that is not hex of the right length.
	AddSpans(ctx context.Context, spans []Span) (AddResult, error)
	// ClaimReady claims up to o.Limit traces that are ready (see the
	// package doc), oldest first.
	ClaimReady(ctx context.Context, o ClaimOptions) ([]Claim, error)
	// Spans returns a trace's spans ordered by start time, then span id:
	// the same order for every caller. ENOTFOUND: no such trace.
	Spans(ctx context.Context, traceID string) ([]Span, error)
	// SaveAnalyses stores each report for its claimed trace and marks the
	// trace analysed with the spans it had when claimed, all in one
	// transaction (one disk sync for many traces). errs[i] is ECONFLICT
	// when claim i no longer holds (its lease ran out and another claimer
	// took the trace): that one is not stored, the others are. err is a
	// failure of the whole batch.
	SaveAnalyses(ctx context.Context, as []ClaimedAnalysis) (errs []error, err error)
	// Release gives a claim back unanalysed, so the trace is claimable at
	// once. A claim that no longer holds is ignored.
	Release(ctx context.Context, c Claim) error

	// Trace returns one trace's summary. ENOTFOUND: no such trace.
	Trace(ctx context.Context, traceID string) (TraceSummary, error)
	// Analysis returns a trace's latest analysis. ENOTFOUND: no such
	// trace, or not analysed yet.
	Analysis(ctx context.Context, traceID string) (Analysis, error)
	// ListTraces returns one page of traces matching f, newest first.
	// EINVALID: a bad verdict, limit or cursor.
	ListTraces(ctx context.Context, f Filter) (Page, error)

	// AddFeedback stores a person's verdict and returns it with its ID
	// and time. EINVALID: a bad label, step or note; ENOTFOUND: no such
	// trace.
	AddFeedback(ctx context.Context, fb Feedback) (Feedback, error)
	// Feedback returns a trace's feedback, oldest first.
	Feedback(ctx context.Context, traceID string) ([]Feedback, error)

	// AddEvalRun stores an eval run file, once per ID; created is false
	// when that ID was already stored (a file pushed again).
	AddEvalRun(ctx context.Context, r EvalRun) (created bool, err error)
	// EvalRuns lists the stored runs without their data, newest first.
	EvalRuns(ctx context.Context) ([]EvalRun, error)
	// EvalRun returns one run with its data. ENOTFOUND: no such run.
	EvalRun(ctx context.Context, id string) (EvalRun, error)

	// TryLock takes the singleton lock name if no process holds it:
	// monitors and the retention sweeper run on one replica only. ok is
	// false when another process holds it.
	TryLock(ctx context.Context, name string) (l Lock, ok bool, err error)
	// DeleteBefore deletes up to limit traces (with their spans, analyses
	// and feedback) that received no new span since cutoff, and returns
	// how many it deleted.
	DeleteBefore(ctx context.Context, cutoff time.Time, limit int) (int, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// ParseTraceID decodes a trace id (32 hex digits). EINVALID otherwise.
func ParseTraceID(s string) ([]byte, error) { return parseID(s, 16, "trace id") }

// ParseSpanID decodes a span id (16 hex digits). EINVALID otherwise.
func ParseSpanID(s string) ([]byte, error) { return parseID(s, 8, "span id") }

func parseID(s string, n int, what string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, probity.Errorf(probity.EINVALID, "%s %q: want %d hex digits", what, s, 2*n)
	}
	return b, nil
}

// CheckFilter validates f and fills its defaults, for backends.
func CheckFilter(f *Filter) error {
	switch f.Verdict {
	case "", string(probity.VerdictOK), string(probity.VerdictSuspect), string(probity.VerdictFail), VerdictPending, VerdictError:
	default:
		return probity.Errorf(probity.EINVALID, "verdict %q: want ok, suspect, fail, pending or error", f.Verdict)
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		return probity.Errorf(probity.EINVALID, "limit %d: want 1 to %d", f.Limit, MaxLimit)
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	return nil
}

// Cursor is a position in a trace list: the last trace of a page.
type Cursor struct {
	StartedNS int64
	TraceID   []byte
}

// EncodeCursor returns the opaque text of c.
func EncodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.StartedNS, 10) + "." + hex.EncodeToString(c.TraceID)))
}

// DecodeCursor parses a cursor EncodeCursor made. EINVALID otherwise.
func DecodeCursor(s string) (Cursor, error) {
	bad := probity.Errorf(probity.EINVALID, "cursor %q: not a cursor this server made", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	ns, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return Cursor{}, bad
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return Cursor{}, bad
	}
	tid, err := ParseTraceID(id)
	if err != nil {
		return Cursor{}, bad
	}
	return Cursor{StartedNS: n, TraceID: tid}, nil
}

// CheckFeedback validates fb, for backends.
func CheckFeedback(fb Feedback) error {
	if fb.Label != LabelCorrect && fb.Label != LabelIncorrect {
		return probity.Errorf(probity.EINVALID, "label %q: want %q or %q", fb.Label, LabelCorrect, LabelIncorrect)
	}
	if fb.Step != nil && *fb.Step < 0 {
		return probity.Errorf(probity.EINVALID, "step %d: want 0 or more", *fb.Step)
	}
	if len(fb.Note) > MaxNote {
		return probity.Errorf(probity.EINVALID, "note of %d bytes: at most %d", len(fb.Note), MaxNote)
	}
	return nil
}

// Nanos returns t as Unix nanoseconds, 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos is the inverse of Nanos.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// TraceDelta is what one AddSpans batch changes in one trace: backends
// share Deltas so they count the same way.
type TraceDelta struct {
	TraceID        []byte
	Service, Agent string
	StartNS, EndNS int64
	RootEnded      bool
	Added          int
	rootService    bool
}

// Deltas returns one TraceDelta per trace among the spans whose index is
// in added (ids[i] is the decoded TraceID of spans[i]), ordered by trace id
// so that concurrent transactions lock trace rows in one order and cannot
// deadlock.
func Deltas(spans []Span, ids [][]byte, added []int) []*TraceDelta {
	by := map[string]*TraceDelta{}
	var out []*TraceDelta
	for _, i := range added {
		s := &spans[i]
		d := by[string(ids[i])]
		if d == nil {
			d = &TraceDelta{TraceID: ids[i]}
			by[string(ids[i])] = d
			out = append(out, d)
		}
		d.Added++
		if st := Nanos(s.Start); st != 0 && (d.StartNS == 0 || st < d.StartNS) {
			d.StartNS = st
		}
		if en := Nanos(s.End); en > d.EndNS {
			d.EndNS = en
		}
		if s.ParentID == "" && !s.End.IsZero() {
			d.RootEnded = true
			// The root span's service names the trace best.
			if s.Service != "" {
				d.Service, d.rootService = s.Service, true
			}
		}
		if !d.rootService && d.Service == "" {
			d.Service = s.Service
		}
		if d.Agent == "" {
			d.Agent = s.Agent
		}
	}
	slices.SortFunc(out, func(a, b *TraceDelta) int { return bytes.Compare(a.TraceID, b.TraceID) })
	return out
}

// DetectorsOf returns the distinct detectors of a report's findings,
// sorted: what lists show and filter on.
func DetectorsOf(findings []probity.Finding) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range findings {
		if !seen[f.Detector] {
			seen[f.Detector] = true
			out = append(out, f.Detector)
		}
	}
	slices.Sort(out)
	return out
}
