package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/proxy/cassette"
)

// recorder turns exchanges into cassettes and traces on its own goroutine,
// so the proxy's hot path only appends a pointer to a queue: decoding,
// redaction, grouping, JSON encoding and disk writes never delay an agent.
type recorder struct {
	dir      string
	fs       FS
	redact   *redact.Redactor
	upstream string
	now      func() time.Time
	log      *slog.Logger
	onTrace  func(run, path string) // Options.OnTrace

	mu       sync.Mutex
	queue    []*exchange
	enqueued int64
	done     int64 // exchanges processed (written or failed)
	changed  chan struct{}
	wake     chan struct{}
	stopping bool
	flushers int // callers waiting in flush: write now, do not batch
	stopped  chan struct{}

	// Owned by the writer goroutine.
	runs     map[string]*runState
	order    []string
	byRespID map[string]string
	nextAuto int
	lastAuto string // the auto-grouped run that received the latest request

	recorded, writeErrors atomic.Int64

	// spool holds every encoded interaction, appended, so cassettes are
	// streamed from disk; its name is removed at once where the system
	// allows, so nothing is left behind.
	spool     *os.File
	spoolName string
	spoolEnd  int64
}

// runState is one run's cassette and what grouping needs to know about
// it. The interactions themselves live in the recorder's spool file, not
// in memory: a run's memory is its extents (16 bytes a call) and its
// conversation, whatever the size of the bodies.
type runState struct {
	id       string
	head     *cassette.Cassette // format, run, created, upstream; no interactions
	calls    []extent
	conv     convBuilder
	explicit bool
	last     []string // fingerprints of the latest request's conversation
	dirty    bool
}

// extent is one encoded interaction: in the spool at off, n bytes long, or
// in mem when the spool could not be written (a full disk), so it is not
// lost before the cassette is.
type extent struct {
	off, n int64
	mem    []byte
}

func newRecorder(dir string, fs FS, red *redact.Redactor, upstream string, now func() time.Time, log *slog.Logger) (*recorder, error) {
	for _, d := range []string{filepath.Join(dir, "cassettes"), filepath.Join(dir, "traces")} {
		if err := fs.MkdirAll(d); err != nil {
			return nil, fmt.Errorf("record dir: %w", err)
		}
	}
	r := &recorder{dir: dir, fs: fs, redact: red, upstream: upstream, now: now, log: log.With("component", "recorder"),
		changed: make(chan struct{}), wake: make(chan struct{}, 1), stopped: make(chan struct{}),
		runs: map[string]*runState{}, byRespID: map[string]string{}}
	r.nextAuto = existingAutoRuns(filepath.Join(dir, "cassettes"))
	sp, err := os.CreateTemp(filepath.Join(dir, "cassettes"), ".spool-*")
	if err != nil {
		return nil, fmt.Errorf("record dir: %w", err)
	}
	r.spool, r.spoolName = sp, sp.Name()
	if os.Remove(sp.Name()) == nil {
		r.spoolName = "" // unlinked: it disappears with the process
	}
	go r.loop()
	return r, nil
}

var autoRunRE = regexp.MustCompile(`^run-(\d+)\.json$`)

// existingAutoRuns returns the highest run-NNNN number already in dir, so a
// proxy restarted on the same directory does not overwrite earlier runs.
func existingAutoRuns(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if m := autoRunRE.FindStringSubmatch(e.Name()); m != nil {
			var k int
			fmt.Sscan(m[1], &k)
			n = max(n, k)
		}
	}
	return n
}

// reserve takes ex's place in the queue when its request arrives, so
// exchanges are recorded in arrival order even when a later request
// finishes first.
func (r *recorder) reserve(ex *exchange) {
	r.mu.Lock()
	r.queue = append(r.queue, ex)
	r.enqueued++
	r.mu.Unlock()
}

// complete marks ex finished; the writer takes finished exchanges from
// the front of the queue.
func (r *recorder) complete(ex *exchange) {
	r.mu.Lock()
	ex.ready = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// writeInterval is the least time between two writes of the recording.
// Each write replaces whole files, so a long run written after every call
// would cost time quadratic in its length; batching keeps a busy proxy's
// disk work bounded while the files stay at most this stale.
const writeInterval = 250 * time.Millisecond

func (r *recorder) loop() {
	defer close(r.stopped)
	defer func() {
		r.spool.Close()
		if r.spoolName != "" {
			os.Remove(r.spoolName)
		}
	}()
	var pending int64 // exchanges added but not yet written
	var lastWrite time.Time
	for {
		r.mu.Lock()
		n := 0
		for n < len(r.queue) && r.queue[n].ready {
			n++
		}
		batch := r.queue[:n:n]
		// A fresh slice for the rest: the old backing array would keep
		// every recorded exchange's bodies reachable.
		r.queue = append([]*exchange(nil), r.queue[n:]...)
		stopping, urgent := r.stopping, r.flushers > 0
		r.mu.Unlock()
		for _, ex := range batch {
			r.add(ex)
		}
		pending += int64(len(batch))
		if pending == 0 {
			if stopping {
				return
			}
			<-r.wake
			continue
		}
		if wait := writeInterval - time.Since(lastWrite); wait > 0 && !stopping && !urgent {
			select {
			case <-r.wake:
			case <-time.After(wait):
			}
			continue
		}
		r.writeDirty()
		lastWrite = time.Now()
		r.mu.Lock()
		r.done += pending
		pending = 0
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

func (r *recorder) flush(ctx context.Context) error {
	r.mu.Lock()
	target := r.enqueued
	r.flushers++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.flushers--
		r.mu.Unlock()
	}()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	for {
		r.mu.Lock()
		done, ch := r.done, r.changed
		r.mu.Unlock()
		if done >= target {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("flush recording: %w", ctx.Err())
		}
	}
}

func (r *recorder) close(ctx context.Context) error {
	err := r.flush(ctx)
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	select {
	case <-r.stopped:
	case <-ctx.Done():
		return fmt.Errorf("close recorder: %w", ctx.Err())
	}
	return err
}

func (r *recorder) runIDs() []string {
	// Read through the queue lock: order only grows on the writer goroutine
	// and callers use this after Flush.
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// add redacts ex, assigns it to a run and appends it to that run's cassette.
func (r *recorder) add(ex *exchange) {
	defer func() {
		// Bodies come from the network; a bug in reading one must cost
		// that exchange's trace, not the proxy.
		if v := recover(); v != nil {
			r.writeErrors.Add(1)
			r.log.Error("exchange not recorded: internal error", "path", ex.path, "panic", fmt.Sprint(v))
		}
	}()
	red := r.redact
	// Learn every credential of the exchange before writing any part of
	// it, so a key echoed anywhere (a response header, an error) goes too.
	red.LearnHeader(ex.reqHeader)
	red.LearnHeader(ex.respHeader)
	query := red.Query(ex.query)
	reqHeader := red.Header(ex.reqHeader)
	respHeader := red.Header(ex.respHeader)
	reqHeader.Del(RunHeader)

	reqBody, reqBodyRec := r.recordBody(ex.reqHeader, ex.reqBody, false, 0)
	var resp *cassette.Response
	var plain []byte
	if ex.status != 0 && ex.respHeader != nil {
		var body cassette.Body
		plain, body = r.recordBody(ex.respHeader, ex.respBody, ex.truncated, ex.respSize)
		resp = &cassette.Response{Status: ex.status, Header: respHeader, Body: body, Stream: ex.stream}
	}
	errText := red.String(ex.err)

	rs := r.assign(ex, reqBody, plain)
	in := cassette.Interaction{
		Seq:         len(rs.calls),
		Start:       ex.start.UTC(),
		DurationMS:  ms(ex.dur),
		FirstByteMS: ms(ex.ttfb),
		Request: cassette.Request{Method: ex.method, Path: ex.path, Query: query, Header: reqHeader,
			Body: reqBodyRec},
		Response: resp,
		Error:    errText,
		Guard:    ex.guard,
	}
	for i := range in.Guard {
		in.Guard[i].Message = red.String(in.Guard[i].Message)
	}
	r.append(rs, in)
}

// append spools in as the next interaction of rs.
func (r *recorder) append(rs *runState, in cassette.Interaction) {
	rs.conv.add(in)
	b, err := cassette.EncodeInteraction(in)
	if err != nil {
		r.writeErrors.Add(1)
		r.log.Error("exchange not recorded", "run", rs.id, "err", err)
		return
	}
	e := extent{off: r.spoolEnd, n: int64(len(b))}
	if _, err := r.spool.WriteAt(b, r.spoolEnd); err != nil {
		r.log.Warn("recording spool not written; keeping the exchange in memory until the cassette is", "run", rs.id, "err", err)
		e = extent{mem: b, n: int64(len(b))}
	} else {
		r.spoolEnd += int64(len(b))
	}
	rs.calls = append(rs.calls, e)
	rs.dirty = true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// recordBody returns the plain (decoded, redacted) bytes of a body with
// header h, and the Body to store. A body in a content encoding the
// proxy cannot decode is not stored at all (Withheld says why): redaction
// cannot see inside it, and a key may be. A body cut short (the client
// went away, the recording cap) is decoded as far as it goes.
func (r *recorder) recordBody(h http.Header, raw []byte, truncated bool, size int64) ([]byte, cassette.Body) {
	var body cassette.Body
	plain := raw
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if enc != "" && enc != "identity" {
		dec, err := decodeBody(enc, raw)
		if len(dec) == 0 && len(raw) > 0 && err != nil {
			body.Withheld = fmt.Sprintf("%d bytes in content encoding %q not stored: %v", len(raw), enc, err)
			body.Truncated, body.Size = truncated, size
			return nil, body
		}
		if err != nil {
			truncated = true // decoded as far as the bytes went
			if size == 0 {
				size = int64(len(raw))
			}
		}
		plain = dec
		body.DecodedFrom = enc
	}
	plain = r.redact.JSON(plain)
	nb := cassette.NewBody(plain)
	nb.DecodedFrom = body.DecodedFrom
	nb.Truncated = truncated
	if truncated {
		nb.Size = size
	}
	return plain, nb
}

// decodeBody removes the content encoding enc (a list, as in
// "gzip, br", is undone from the last applied). It returns what it could
// decode with the error that stopped it, so a stream cut mid-way still
// yields its beginning.
func decodeBody(enc string, b []byte) ([]byte, error) {
	encs := strings.Split(enc, ",")
	for i := len(encs) - 1; i >= 0; i-- {
		e := strings.ToLower(strings.TrimSpace(encs[i]))
		if e == "" || e == "identity" {
			continue
		}
		out, err := decodeOne(e, b)
		if err != nil {
			if i > 0 {
				return nil, err // an outer layer cut short cannot be undone further
			}
			return out, err
		}
		b = out
	}
	return b, nil
}

func decodeOne(enc string, b []byte) ([]byte, error) {
	var rd io.Reader
	var err error
	switch enc {
	case "gzip", "x-gzip":
		rd, err = gzip.NewReader(bytes.NewReader(b))
	case "br":
		rd = brotli.NewReader(bytes.NewReader(b))
	case "deflate":
		rd, err = zlib.NewReader(bytes.NewReader(b))
	case "zstd":
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(512<<20))
		if err == nil {
			defer zr.Close()
			rd = zr
		}
	default:
		return nil, fmt.Errorf("content encoding %q is not decoded", enc)
	}
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(rd, 512<<20))
	return out, err
}

// assign picks the run of ex: the one it names, else the run whose latest
// request's conversation is a prefix of this request's (each request of a
// conversation repeats the history), else the run a Responses API
// previous_response_id points to, else a new run.
func (r *recorder) assign(ex *exchange, reqBody, respBody []byte) *runState {
	a := wire.APIOf(ex.path)
	req, err := wire.DecodeRequest(a, reqBody)
	ok := err == nil
	var fp []string
	if ok {
		fp = fingerprints(req)
	}
	var rs *runState
	switch {
	case ex.run != "":
		rs = r.run(ex.run, true)
	case ok:
		var prev struct {
			Prev string `json:"previous_response_id"`
		}
		json.Unmarshal(reqBody, &prev)
		if id := r.byRespID[prev.Prev]; prev.Prev != "" && id != "" {
			rs = r.runs[id]
			break
		}
		bestLen := -1
		for i := len(r.order) - 1; i >= 0; i-- {
			c := r.runs[r.order[i]]
			if c.explicit || len(c.last) == 0 || len(c.last) > len(fp) || len(c.last) <= bestLen {
				continue
			}
			if isPrefix(c.last, fp) {
				rs, bestLen = c, len(c.last)
			}
		}
	}
	if rs == nil && !ok && r.lastAuto != "" {
		// Not a conversation we can read (embeddings, another provider's
		// API): keep it with the run that was active last rather than
		// making a run per call.
		rs = r.runs[r.lastAuto]
	}
	if rs == nil {
		r.nextAuto++
		rs = r.run(fmt.Sprintf("run-%04d", r.nextAuto), false)
	}
	if ok && len(fp) > 0 {
		rs.last = fp
	}
	if !rs.explicit {
		r.lastAuto = rs.id
	}
	if a == wire.APIResponses && ex.status/100 == 2 {
		if id := wire.ResponseID(respBody, ex.stream); id != "" {
			r.byRespID[id] = rs.id
		}
	}
	return rs
}

// fingerprints identify a request's messages (the system prompt first) for
// conversation-prefix grouping.
func fingerprints(req *wire.Request) []string {
	var fp []string
	if req.System != nil {
		b, _ := json.Marshal(req.System)
		fp = append(fp, "system:"+string(b))
	}
	for i := range req.Messages {
		b, _ := json.Marshal(&req.Messages[i])
		fp = append(fp, string(b))
	}
	return fp
}

func isPrefix(p, s []string) bool {
	if len(p) > len(s) {
		return false
	}
	for i := range p {
		if p[i] != s[i] {
			return false
		}
	}
	return true
}

func (r *recorder) run(id string, explicit bool) *runState {
	if rs := r.runs[id]; rs != nil {
		return rs
	}
	rs := &runState{id: id, explicit: explicit}
	r.runs[id] = rs
	// A named run recorded before (a restarted proxy) is continued, not
	// overwritten.
	if f, err := os.Open(r.cassettePath(id)); err == nil {
		c, err := cassette.Read(f, f.Name())
		f.Close()
		if err == nil && c.Run == id {
			ins := c.Interactions
			c.Interactions = nil
			rs.head = c
			for _, in := range ins {
				r.append(rs, in)
			}
			rs.dirty = false
		}
	}
	if rs.head == nil {
		rs.head = cassette.New(id, r.upstream, r.now())
		rs.head.Interactions = nil
	}
	r.mu.Lock()
	r.order = append(r.order, id)
	r.mu.Unlock()
	return rs
}

func (r *recorder) cassettePath(run string) string {
	return filepath.Join(r.dir, "cassettes", run+".json")
}

// TracePath returns where a recording in dir keeps the trace of run.
func TracePath(dir, run string) string { return filepath.Join(dir, "traces", run+".json") }

// CassettePath returns where a recording in dir keeps the cassette of run.
func CassettePath(dir, run string) string { return filepath.Join(dir, "cassettes", run+".json") }

// writeDirty writes the cassette and trace of every run changed since the
// last write. A failed write (a full disk) is logged and counted, the old
// file stays intact, and the run is retried on the next batch.
func (r *recorder) writeDirty() {
	ids := make([]string, 0, len(r.runs))
	for id, rs := range r.runs {
		if rs.dirty {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		rs := r.runs[id]
		err := r.fs.WriteAtomic(r.cassettePath(id), func(w io.Writer) error {
			return cassette.WriteStream(w, rs.head, len(rs.calls), func(i int, w io.Writer) error {
				e := rs.calls[i]
				if e.mem != nil {
					_, err := w.Write(e.mem)
					return err
				}
				_, err := io.Copy(w, io.NewSectionReader(r.spool, e.off, e.n))
				return err
			})
		})
		if err != nil {
			r.writeErrors.Add(1)
			r.log.Error("cassette not written; the previous version is intact and the write will be retried",
				"run", id, "err", err)
			continue
		}
		rs.dirty = false
		r.recorded.Add(int64(len(rs.calls)))
		if err := r.writeTrace(rs); err != nil {
			r.writeErrors.Add(1)
			r.log.Error("trace not written", "run", id, "err", err)
		} else if r.onTrace != nil {
			r.onTrace(id, TracePath(r.dir, id))
		}
	}
}

func (r *recorder) writeTrace(rs *runState) error {
	model, system, msgs := rs.conv.result()
	if len(msgs) == 0 {
		return nil
	}
	var tf TraceFile
	tf.Model, tf.System, tf.Messages = model, system, msgs
	tf.Probity.Run = rs.id
	tf.Probity.Cassette = filepath.Join("..", "cassettes", rs.id+".json")
	tf.Probity.Calls = len(rs.calls)
	b, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode trace: %w", err)
	}
	// Built from redacted interactions already; scrubbed again so what
	// was learned since is gone too.
	return r.fs.WriteFileAtomic(TracePath(r.dir, rs.id), append(r.redact.Bytes(b), '\n'))
}

var runIDRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// sanitizeRun makes a run id safe as a file name.
func sanitizeRun(s string) string {
	s = runIDRE.ReplaceAllString(s, "_")
	s = strings.TrimLeft(s, ".")
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}
