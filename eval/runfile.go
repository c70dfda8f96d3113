package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/probity/probity"
)

// RunFileVersion is the version of the run-file format written by this
// package.
const RunFileVersion = 1

// A run file is JSON Lines: one RunHeader, then one record per completed
// trial (TrialRecord) and per early-stopped case (StopRecord), in completion
// order, each written and flushed as it happens, so a crash or Ctrl-C loses at
// most the line being written. Resume appends to the same file.

// RunHeader is the first line of a run file.
type RunHeader struct {
	Type    string    `json:"type"` // "run"
	Version int       `json:"version"`
	Suite   string    `json:"suite"`
	File    string    `json:"suite_file,omitempty"`
	Started time.Time `json:"started"`
	// Trials is the per-case trial budget (the cap under sequential stopping).
	Trials int      `json:"trials"`
	Stop   StopSpec `json:"stop"`
	Gate   GateSpec `json:"gate"`
	// Cases lists every case of the suite in dataset order, so a summary
	// knows about cases that have no trials yet.
	Cases []CaseInfo `json:"cases"`
	// Seed is the suite's seed (bootstrap intervals use it).
	Seed int64 `json:"seed,omitempty"`
}

// CaseInfo names a case in the run header.
type CaseInfo struct {
	ID   string   `json:"id"`
	Tags []string `json:"tags,omitempty"`
	// VariantOf and Kind link a mutated case to its original (eval mutate).
	VariantOf string `json:"variant_of,omitempty"`
	Kind      string `json:"kind,omitempty"`
}

// Trial statuses. An error is the target's (or the judge's) failure to
// answer, never the agent's wrong answer: errors are not counted in pass
// rates.
const (
	StatusPass  = "pass"
	StatusFail  = "fail"
	StatusError = "error"
)

// TrialRecord is one completed trial.
type TrialRecord struct {
	Type       string          `json:"type"` // "trial"
	Case       string          `json:"case"`
	Trial      int             `json:"trial"`
	Status     string          `json:"status"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Trace      *probity.Trace  `json:"trace,omitempty"`
	Assertions []AssertResult  `json:"assertions,omitempty"`
	Error      *ErrorInfo      `json:"error,omitempty"`
	Started    time.Time       `json:"started"`
	LatencyMS  float64         `json:"latency_ms"`
	CostUSD    float64         `json:"cost_usd,omitempty"`
	Tokens     *Usage          `json:"tokens,omitempty"`
	Attempts   int             `json:"attempts,omitempty"`
	Cached     bool            `json:"cached,omitempty"`
	// Localization says where a failing trial went wrong (see
	// docs/localization.md); absent for other trials.
	Localization *probity.Localization `json:"localization,omitempty"`
}

// ErrorInfo describes an error trial.
type ErrorInfo struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// StopRecord says a case stopped early under sequential stopping.
type StopRecord struct {
	Type     string  `json:"type"` // "stop"
	Case     string  `json:"case"`
	Decision string  `json:"decision"` // "pass" (rate ≥ p1 side) or "fail" (≤ p0 side)
	Trials   int     `json:"trials"`   // trials observed when it stopped
	LogLR    float64 `json:"log_lr"`   // the SPRT statistic at the stop
}

// RunWriter appends records to a run file, one flushed line each. It is
// safe for concurrent use.
type RunWriter struct {
	mu   sync.Mutex
	f    *os.File
	path string
	err  error
}

// CreateRun creates (truncating) a run file at path and writes its header.
func CreateRun(path string, h RunHeader) (*RunWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create run file: %w", err)
	}
	h.Type, h.Version = "run", RunFileVersion
	w := &RunWriter{f: f, path: path}
	if err := w.write(h); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// AppendRun opens an existing run file for appending, first cutting off a
// torn last line (a crash mid-write), so the file stays valid JSON Lines.
func AppendRun(path string, validSize int64) (*RunWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open run file: %w", err)
	}
	if err := f.Truncate(validSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("truncate torn line: %w", err)
	}
	if _, err := f.Seek(validSize, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek run file: %w", err)
	}
	return &RunWriter{f: f, path: path}, nil
}

// Path is the run file's path.
func (w *RunWriter) Path() string { return w.path }

// lineBuf is a reusable buffer with its encoder, so encoding a record
// allocates neither.
type lineBuf struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var lineBufs = sync.Pool{New: func() any {
	b := &lineBuf{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}}

func (w *RunWriter) write(v any) error {
	// Encode before taking the lock: with hundreds of workers, encoding
	// under it made them queue behind each other's JSON.
	lb := lineBufs.Get().(*lineBuf)
	defer func() {
		if lb.buf.Cap() <= 64<<10 { // a huge record's buffer is not kept
			lineBufs.Put(lb)
		}
	}()
	lb.buf.Reset()
	if err := lb.enc.Encode(v); err != nil {
		return fmt.Errorf("encode run record: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	// One write per line: the kernel appends it whole, so a crash leaves at
	// most a torn final line, which AppendRun and ReadRun tolerate.
	if _, err := w.f.Write(lb.buf.Bytes()); err != nil {
		w.err = fmt.Errorf("write run file: %w", err)
		return w.err
	}
	return nil
}

// Close closes the file.
func (w *RunWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.f.Close(); err != nil && w.err == nil {
		return fmt.Errorf("close run file: %w", err)
	}
	return w.err
}

// Run is a run file read back: the header, every trial, and the stop
// decisions.
type Run struct {
	Header RunHeader
	Trials []TrialRecord
	Stops  []StopRecord
	// Path is the file it was read from.
	Path string
	// ValidSize is the length of the file up to the last complete line.
	ValidSize int64
	// Torn reports whether the file ended in a partial line (a crash while
	// writing), which was ignored.
	Torn bool
}

// ReadRun reads a run file. A torn last line is ignored (and reported in
// Torn); any other bad line is an error naming the line.
func ReadRun(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "run file not found"}
		}
		return nil, fmt.Errorf("open run file: %w", err)
	}
	defer f.Close()
	return decodeRun(path, f, true)
}

// ScanRun reads a run file like ReadRun but keeps only the fields
// summaries need (no inputs, outputs or traces), so huge runs summarise in
// little memory.
func ScanRun(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "run file not found"}
		}
		return nil, fmt.Errorf("open run file: %w", err)
	}
	defer f.Close()
	return decodeRun(path, f, false)
}

// DecodeRun reads a run file from r as ReadRun does; name is what errors
// call it (a run kept in the server's store has no path).
func DecodeRun(name string, r io.Reader) (*Run, error) { return decodeRun(name, r, true) }

// trialLite is the part of a trial record summaries need.
type trialLite struct {
	Case       string         `json:"case"`
	Trial      int            `json:"trial"`
	Status     string         `json:"status"`
	Assertions []AssertResult `json:"assertions"`
	Error      *ErrorInfo     `json:"error"`
	LatencyMS  float64        `json:"latency_ms"`
	CostUSD    float64        `json:"cost_usd"`
	Tokens     *Usage         `json:"tokens"`
	Cached     bool           `json:"cached"`
}

func decodeRun(path string, r io.Reader, full bool) (*Run, error) {
	run := &Run{Path: path}
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	var offset int64
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] != '\n' {
			// A final line without its newline was cut off mid-write.
			if line == 0 {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: "line 1", Message: "run file has no complete header"}
			}
			run.Torn = true
			break
		}
		if len(b) > 0 {
			line++
			if err := run.decodeLine(path, line, bytes.TrimSpace(b), full); err != nil {
				return nil, err
			}
			offset += int64(len(b))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read run file: %w", err)
		}
	}
	if line == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "empty run file"}
	}
	run.ValidSize = offset
	return run, nil
}

func (run *Run) decodeLine(path string, line int, b []byte, full bool) error {
	bad := func(msg string, err error) error {
		return &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line), Message: msg, Err: err}
	}
	if len(b) == 0 {
		return nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return bad("not a run record", err)
	}
	if line == 1 {
		if head.Type != "run" {
			return bad("not a probity run file (first line is not a run header)", nil)
		}
		if err := json.Unmarshal(b, &run.Header); err != nil {
			return bad("bad run header", err)
		}
		if run.Header.Version > RunFileVersion {
			return bad(fmt.Sprintf("run file version %d is newer than this probity (%d)", run.Header.Version, RunFileVersion), nil)
		}
		return nil
	}
	switch head.Type {
	case "trial":
		var t TrialRecord
		if full {
			if err := json.Unmarshal(b, &t); err != nil {
				return bad("bad trial record", err)
			}
		} else {
			var l trialLite
			if err := json.Unmarshal(b, &l); err != nil {
				return bad("bad trial record", err)
			}
			t = TrialRecord{Type: "trial", Case: l.Case, Trial: l.Trial, Status: l.Status, Assertions: l.Assertions, Error: l.Error,
				LatencyMS: l.LatencyMS, CostUSD: l.CostUSD, Tokens: l.Tokens, Cached: l.Cached}
		}
		switch t.Status {
		case StatusPass, StatusFail, StatusError:
		default:
			return bad(fmt.Sprintf("unknown trial status %q", t.Status), nil)
		}
		run.Trials = append(run.Trials, t)
	case "stop":
		var s StopRecord
		if err := json.Unmarshal(b, &s); err != nil {
			return bad("bad stop record", err)
		}
		run.Stops = append(run.Stops, s)
	case "run":
		return bad("a second run header: is this two run files concatenated?", nil)
	default:
		// Unknown record types from newer versions are skipped, not fatal.
	}
	return nil
}
