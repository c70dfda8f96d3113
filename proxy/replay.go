package proxy

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/proxy/cassette"
	"github.com/probity/probity/proxy/match"
	"github.com/probity/probity/proxy/vcr"
)

// Divergence is where a request first departs from the recording.
type Divergence struct {
	// Run and Call name the recorded interaction the request was compared
	// with (Call is its 0-based Seq); Call equals the number of recorded
	// calls when the recording has no more.
	Run  string `json:"run"`
	Call int    `json:"call"`
	// Message is the 0-based index of the first differing message in the
	// request's messages (or input) list, when the difference is in one.
	Message *int `json:"message,omitempty"`
	// Path is a JSON path into the normalised request: $.path, $.query.x,
	// $.body.messages[3].content.
	Path     string `json:"path"`
	Recorded any    `json:"recorded"`
	Received any    `json:"received"`
	// Reason is one sentence for people.
	Reason string `json:"reason"`
}

// VolatileFields are the request body fields replay ignores; see
// match.VolatileFields.
var VolatileFields = match.VolatileFields

// Normalize is match.Normalize after removing a run path prefix.
func Normalize(method, path, query string, body []byte, ignore []string) map[string]any {
	_, path = splitRun(path)
	return match.Normalize(method, path, query, body, ignore)
}

// Diverge is match.Diverge.
func Diverge(recorded, received any) (path string, rec, got any, ok bool) {
	return match.Diverge(recorded, received)
}

// ReplayOptions configures a Replayer.
type ReplayOptions struct {
	// Cassettes are recordings in memory to answer from (see Load).
	Cassettes []*cassette.Cassette
	// Recordings are recordings read from their files when needed (see
	// Open): the replayer keeps a hash and an offset per call.
	Recordings []*cassette.Index
	// Logger receives one line per request and every divergence. Nil
	// discards.
	Logger *slog.Logger
	// ForkAt, when positive, answers only the first ForkAt calls from the
	// recording and forwards every later call to Fork.
	ForkAt int
	// Fork is the proxy later calls go to when ForkAt is set; it may
	// record.
	Fork *Proxy
	// IgnoreFields are request body fields left out of matching, in
	// addition to VolatileFields (give the proxy's RedactFields here).
	IgnoreFields []string
}

// Replayer is an OpenAI- and Anthropic-compatible http.Handler that
// answers from cassettes, hermetically: it never opens a connection
// (except to Fork, after ForkAt calls).
//
// A request matches a recorded one when their normalised forms (see
// Normalize) are equal. Within a run, recorded interactions are used in
// order, each once; a request repeated more often than recorded (an SDK
// retry) gets the last matching answer again. A request that matches
// nothing gets HTTP 409 with a JSON body naming the first point of
// divergence from the call the recording expected next.
type Replayer struct {
	opts ReplayOptions
	log  *slog.Logger

	mu     sync.Mutex
	runs   []*replayRun
	served int
}

type replayRun struct {
	ix   *cassette.Index
	run  string
	seqs []int
	keys []matchKey
	used []bool
	last map[matchKey]int // key -> index answered last
}

// matchKey is the hash of a normalised request: equal requests have equal
// keys, and a long recording costs 32 bytes a call.
type matchKey [sha256.Size]byte

func keyOf(n map[string]any) matchKey { return sha256.Sum256([]byte(match.Key(n))) }

// NewReplayer returns a Replayer over opts.Cassettes.
func NewReplayer(opts ReplayOptions) (*Replayer, error) {
	if len(opts.Cassettes) == 0 && len(opts.Recordings) == 0 {
		return nil, probity.Errorf(probity.EINVALID, "nothing to replay: no cassettes")
	}
	if opts.ForkAt > 0 && opts.Fork == nil {
		return nil, probity.Errorf(probity.EINVALID, "fork at call %d needs an upstream", opts.ForkAt)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	rp := &Replayer{opts: opts, log: opts.Logger.With("component", "replay")}
	ixs := slices.Clone(opts.Recordings)
	for _, c := range opts.Cassettes {
		ixs = append(ixs, cassette.IndexOf(c))
	}
	for _, ix := range ixs {
		r := &replayRun{ix: ix, run: ix.Head.Run, used: make([]bool, ix.Len()), last: map[matchKey]int{}}
		err := ix.Each(func(_ int, in cassette.Interaction) error {
			r.seqs = append(r.seqs, in.Seq)
			r.keys = append(r.keys, keyOf(rp.normOf(in)))
			return nil
		})
		if err != nil {
			return nil, err
		}
		rp.runs = append(rp.runs, r)
	}
	return rp, nil
}

// Served returns how many requests were answered from the recording.
func (rp *Replayer) Served() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.served
}

// ServeHTTP answers r from the recording, or with HTTP 409 naming the first
// point of divergence when the recording holds no such request.
func (rp *Replayer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	run, path := splitRun(r.URL.Path)
	if h := r.Header.Get(RunHeader); run == "" && h != "" {
		run = h
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "probity_bad_request", "reading request body: "+err.Error())
		return
	}
	n := Normalize(r.Method, path, r.URL.RawQuery, comparable(r, body), rp.opts.IgnoreFields)
	key := keyOf(n)

	rp.mu.Lock()
	if rp.opts.ForkAt > 0 && rp.served >= rp.opts.ForkAt {
		rp.mu.Unlock()
		rp.log.Info("forward", "path", path, "run", run)
		p := rp.opts.Fork
		p.requests.Add(1)
		p.active.Add(1)
		defer p.active.Add(-1)
		ex := &exchange{run: sanitizeRun(run), start: p.opts.Now(), method: r.Method, path: path, query: r.URL.RawQuery,
			reqHeader: r.Header.Clone(), reqBody: body}
		if p.rec != nil {
			p.rec.reserve(ex)
		}
		defer func() {
			ex.dur = p.opts.Now().Sub(ex.start)
			if p.rec != nil {
				p.rec.complete(ex)
			}
		}()
		p.forward(w, r, ex, path)
		return
	}
	cands := rp.runs
	if run != "" {
		cands = nil
		for _, rr := range rp.runs {
			if rr.run == run {
				cands = append(cands, rr)
			}
		}
		if len(cands) == 0 {
			// A recording replayed under another run name (one cassette
			// of a repro, say): match against every run.
			cands = rp.runs
		}
	}
	var hit *replayRun
	idx := -1
	for _, rr := range cands {
		for i, k := range rr.keys {
			if !rr.used[i] && k == key {
				hit, idx = rr, i
				break
			}
		}
		if hit != nil {
			break
		}
	}
	if hit == nil {
		for _, rr := range cands {
			if i, ok := rr.last[key]; ok {
				hit, idx = rr, i
				break
			}
		}
	}
	if hit == nil {
		d := rp.divergence(cands, n)
		rp.mu.Unlock()
		rp.log.Warn("divergence", "run", d.Run, "call", d.Call, "path", d.Path, "reason", d.Reason)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Probity-Error", "probity_replay_divergence")
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]any{
			"type": "probity_replay_divergence", "code": "probity_replay_divergence",
			"message": "probity replay: " + d.Reason, "divergence": d}})
		return
	}
	hit.used[idx] = true
	hit.last[key] = idx
	rp.served++
	rp.mu.Unlock()
	in, err := hit.ix.Interaction(idx)
	if err != nil {
		rp.log.Error("recording unreadable", "run", hit.run, "call", hit.seqs[idx], "err", err)
		writeError(w, http.StatusInternalServerError, "probity_replay_unreadable", "probity replay: "+err.Error())
		return
	}
	rp.log.Info("replay", "path", path, "run", hit.run, "call", in.Seq)
	writeRecorded(w, hit.run, in)
}

// comparable returns a request body as the recorder would have stored it,
// so it can be compared with a recording: decoded from its content
// encoding, with the request's own credentials and secret-shaped text
// replaced by REDACTED. (Fields named for redaction are left out of
// matching by IgnoreFields.)
func comparable(r *http.Request, body []byte) []byte {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		if dec, err := decodeBody(enc, body); err == nil {
			body = dec
		}
	}
	red := redact.New(nil, nil)
	red.LearnHeader(r.Header)
	red.Query(r.URL.RawQuery)
	return red.Bytes(body)
}

// divergence compares n with the call each candidate run expects next and
// keeps the one that agrees longest (the deepest first difference).
func (rp *Replayer) divergence(cands []*replayRun, n map[string]any) Divergence {
	var best *Divergence
	score := func(d Divergence) int {
		s := 0
		if d.Message != nil {
			s = 1000 + *d.Message
		}
		if strings.HasPrefix(d.Path, "$.body") {
			s += 100
		}
		return s
	}
	for _, rr := range cands {
		next := -1
		for i := range rr.used {
			if !rr.used[i] {
				next = i
				break
			}
		}
		var d Divergence
		if next < 0 {
			// Every recorded call was answered: compare with the closest
			// one, so a changed retry still shows what changed.
			d = Divergence{Run: rr.run, Path: "$", Recorded: match.Missing, Received: match.Clip(n["path"]),
				Reason: fmt.Sprintf("run %q recorded no calls", rr.run)}
			for i := range rr.keys {
				if c := rp.diverge(rr, i, n); i == 0 || score(c) >= score(d) {
					d = c
				}
			}
			if len(rr.keys) > 0 {
				d.Reason = fmt.Sprintf("run %q recorded %d calls and all were answered; this request is call %d, and the closest recorded call differs: %s",
					rr.run, len(rr.keys), len(rr.keys), d.Reason)
			}
		} else {
			d = rp.diverge(rr, next, n)
		}
		if best == nil || score(d) > score(*best) {
			best = &d
		}
	}
	return *best
}

// normOf is the normalised request of a recorded interaction.
func (rp *Replayer) normOf(in cassette.Interaction) map[string]any {
	body, _ := in.Request.Body.Bytes()
	return Normalize(in.Request.Method, in.Request.Path, in.Request.Query, body, rp.opts.IgnoreFields)
}

// diverge compares n with recorded call i of rr, reading it again: only
// requests that match nothing pay for this.
func (rp *Replayer) diverge(rr *replayRun, i int, n map[string]any) Divergence {
	in, err := rr.ix.Interaction(i)
	if err != nil {
		return Divergence{Run: rr.run, Call: rr.seqs[i], Path: "$", Recorded: match.Missing, Received: match.Clip(n["path"]),
			Reason: err.Error()}
	}
	p, rec, got, _ := Diverge(rp.normOf(in), n)
	d := Divergence{Run: rr.run, Call: rr.seqs[i], Message: match.MessageIndex(p), Path: p,
		Recorded: match.Clip(rec), Received: match.Clip(got)}
	where := fmt.Sprintf("call %d", d.Call)
	if d.Message != nil {
		where += fmt.Sprintf(", message %d", *d.Message)
	}
	d.Reason = fmt.Sprintf("request differs from run %q at %s, field %s: recorded %s, received %s",
		rr.run, where, p, match.Quote(rec, 120), match.Quote(got, 120))
	return d
}

// writeRecorded sends a recorded response: same status, headers and body
// bytes, a stream event by event.
func writeRecorded(w http.ResponseWriter, run string, in cassette.Interaction) {
	if in.Response == nil {
		msg := in.Error
		if msg == "" {
			msg = "the recorded call got no response"
		}
		writeError(w, http.StatusBadGateway, "probity_upstream_unreachable", "probity replay (recorded failure): "+msg)
		return
	}
	resp := in.Response
	h := w.Header()
	copyHeader(h, resp.Header)
	h.Del("Content-Length")
	if resp.Body.DecodedFrom != "" || resp.Body.Withheld != "" {
		h.Del("Content-Encoding")
	}
	h.Set("X-Probity-Replay", fmt.Sprintf("%s/%d", run, in.Seq))
	body, _ := resp.Body.Bytes()
	if !resp.Stream || resp.Body.Encoding != "" {
		h.Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.WriteHeader(resp.Status)
	if !resp.Stream || resp.Body.Encoding != "" {
		w.Write(body)
		return
	}
	rc := http.NewResponseController(w)
	for _, ev := range wire.SplitEvents(body) {
		if _, err := w.Write(ev); err != nil {
			return
		}
		rc.Flush()
	}
}

// Load reads the cassettes at path: a Probity cassette file, a vcrpy YAML
// file, a recording directory (its cassettes/ folder), or a directory of
// cassette files. Bad files return a *probity.Error naming them. Only
// regular files are read: a FIFO or device in a directory is skipped (it
// would block or never end), and named alone it is refused.
func Load(path string) ([]*cassette.Cassette, error) {
	names, err := recordingFiles(path, nil)
	if err != nil {
		return nil, err
	}
	var out []*cassette.Cassette
	for _, n := range names {
		c, err := loadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Open is Load for a replay server: Probity cassettes are indexed (read
// once, kept as an offset per call, see cassette.OpenIndex) instead of
// held in memory; vcrpy files are read whole. Skipped files are logged
// on log as warnings.
func Open(path string, log *slog.Logger) ([]*cassette.Index, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, err := recordingFiles(path, func(name, why string) {
		log.Warn("skipped: not a regular file", "file", name, "type", why)
	})
	if err != nil {
		return nil, err
	}
	var out []*cassette.Index
	for _, n := range names {
		if isYAML(n) {
			c, err := vcr.ReadFile(n)
			if err != nil {
				return nil, err
			}
			out = append(out, cassette.IndexOf(c))
			continue
		}
		ix, err := cassette.OpenIndex(n)
		if err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, nil
}

// recordingFiles lists the cassette files at path, calling skip for each
// entry that is not a regular file.
func recordingFiles(path string, skip func(name, why string)) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "no such recording", Err: err}
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, &probity.Error{Code: probity.EINVALID, File: path,
				Message: fmt.Sprintf("not a regular file (%s): a cassette must be a plain file", fileType(st.Mode()))}
		}
		return []string{path}, nil
	}
	dir := path
	if st, err := os.Stat(filepath.Join(path, "cassettes")); err == nil && st.IsDir() {
		dir = filepath.Join(path, "cassettes")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load recording: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".json") || isYAML(n)) {
			continue
		}
		full := filepath.Join(dir, n)
		// Follow a symbolic link to see what it names; anything but a
		// plain file (a FIFO would block replay forever) is skipped.
		st, err := os.Stat(full)
		if err != nil || !st.Mode().IsRegular() {
			why := "unreadable"
			if err == nil {
				why = fileType(st.Mode())
			}
			if skip != nil {
				skip(full, why)
			}
			continue
		}
		names = append(names, full)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "no cassettes (*.json, *.yaml) in this directory"}
	}
	return names, nil
}

func fileType(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&os.ModeDevice != 0, m&os.ModeCharDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}

func isYAML(n string) bool { return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") }

func loadFile(name string) (*cassette.Cassette, error) {
	if isYAML(name) {
		return vcr.ReadFile(name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: name, Message: "cannot open cassette", Err: err}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, &probity.Error{Code: probity.EINVALID, File: name, Message: "not a regular file: a cassette must be a plain file"}
	}
	return cassette.Read(f, name)
}
