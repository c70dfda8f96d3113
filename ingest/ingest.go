// Package ingest reads traces from files, directories, globs and stdin in
// any format Probity knows, detecting each file's format from its first
// structure. It is the one entry point the CLI, the server and the other
// packages use to get Traces; the format packages (otlp, taubench, whowhen,
// sweagent, chatlog) stay independent of each other.
//
// Guarantees, for hostile or broken input as much as for good logs:
//
//   - every failure is a *probity.Error with code EINVALID (bad content) or
//     ENOTFOUND (missing path) naming the file and, for content, the record,
//     line and column;
//   - one bad file never stops the others: Each processes every input and
//     returns a *FileErrors listing the failures at the end;
//   - memory stays bounded: files are streamed, a single record is capped at
//     Options.MaxRecordBytes, endless whitespace and invalid UTF-8 are
//     rejected, nesting is capped by encoding/json; nothing panics or hangs
//     on devices such as /dev/zero or /dev/urandom.
//
// Formats, tried in this order on the structure of each file (the first
// whose rule matches wins; Options.Format skips detection):
//
//	otlp      OTLP/JSON ExportTraceServiceRequest (GenAI and OpenInference spans)
//	taubench  τ-bench / AgentRx: a list of runs with task_id, trial, reward, info, traj
//	whowhen   Who&When: one object with history, question and mistake labels
//	sweagent  mini-swe-agent *.traj.json (messages, info.exit_status); SWE-agent history
//	chatlog   OpenAI / Anthropic chat: message lists, request and response bodies, JSON Lines
//
// Error positions: "record N" is the 0-based element of a top-level list
// (the same numbering as Position.Index), lines and columns are 1-based,
// columns count bytes. They are exact on stdin and pipes too; only an
// importer that reads a whole file at once may fall back to "offset N" there.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/chatlog"
	"github.com/probity/probity/internal/jsonx"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/sweagent"
	"github.com/probity/probity/taubench"
	"github.com/probity/probity/whowhen"
)

// HeadSize is how many leading bytes are read first: enough to recognise
// gzip and to describe input that is not JSON. Detection itself reads the
// structure of the whole first record, however long (see jsonx.ReadShape).
const HeadSize = 64 << 10

// Options control reading.
type Options struct {
	// Format forces a format by name (see Formats; case and common aliases
	// such as "tau-bench", "openai" or "mini-swe-agent" are accepted); ""
	// detects it per file.
	Format string
	// MaxRecordBytes caps one record: an element of a top-level list, a
	// JSON Lines line, or a whole single-object file. 0 means
	// jsonx.DefaultMaxRecordBytes (256 MiB).
	MaxRecordBytes int64
	// Logger receives warnings (skipped files); nil discards them.
	Logger *slog.Logger
	// Stdin is read for the argument "-"; nil means os.Stdin.
	Stdin io.Reader
}

// format is one importer, as every format package exports it.
type format struct {
	name  string
	sniff func(jsonx.Shape) bool
	read  func(context.Context, string, io.Reader, func(*probity.Trace) error) error
}

// formats lists the importers in sniffing order: the most specific shapes
// first, the generic chat log last, since almost any JSON with "role" in it
// would pass its check.
var formats = []format{
	{otlp.Format, otlp.SniffShape, otlp.Read},
	{taubench.Format, taubench.SniffShape, taubench.Read},
	{whowhen.Format, whowhen.SniffShape, whowhen.Read},
	{sweagent.Format, sweagent.SniffShape, sweagent.Read},
	{chatlog.Format, chatlog.SniffShape, chatlog.Read},
}

// Formats returns the names of the known formats, for --from and help.
func Formats() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.name
	}
	return out
}

// aliases are other names people use for the formats.
var aliases = map[string]string{
	"tau-bench": "taubench", "tau": "taubench", "agentrx": "taubench",
	"who-and-when": "whowhen", "whoandwhen": "whowhen",
	"swe-agent": "sweagent", "mini-swe-agent": "sweagent", "swe": "sweagent",
	"openai": "chatlog", "anthropic": "chatlog", "chat": "chatlog", "messages": "chatlog",
	"otel": "otlp", "otlp-json": "otlp", "opentelemetry": "otlp",
}

// lookup finds a format by name or alias, ignoring case.
func lookup(name string) (format, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[name]; ok {
		name = a
	}
	for _, f := range formats {
		if f.name == name {
			return f, true
		}
	}
	return format{}, false
}

// Detect returns the name of the format that the structure of head, the
// start of a file, shows, or "". A head cut before the identifying keys
// shows none; ingest itself reads the whole first record (DetectShape).
func Detect(head []byte) string {
	return DetectShape(jsonx.ShapeOf(head))
}

// DetectFile returns the name of the format of the file at path, read by
// structure as Each reads it (gzip included), or "" when none matches.
func DetectFile(path string, maxRecord int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", openError(path, err)
	}
	defer f.Close()
	var r io.Reader = f
	head, err := readHead(f)
	if err != nil {
		return "", &probity.Error{Code: probity.EINVALID, File: path, Message: "read", Err: err}
	}
	r = io.MultiReader(bytes.NewReader(head), f)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return "", &probity.Error{Code: probity.EINVALID, File: path, Where: "offset 0", Message: "gzip", Err: err}
		}
		defer zr.Close()
		r = zr
	}
	s, _ := jsonx.ReadShape(r, maxRecord)
	return DetectShape(s), nil
}

// DetectShape returns the name of the format whose structural rule accepts
// s, or "".
func DetectShape(s jsonx.Shape) string {
	for _, f := range formats {
		if f.sniff(s) {
			return f.name
		}
	}
	return ""
}

// FileErrors lists the inputs that failed in one Each call. The traces of
// the other inputs were delivered.
type FileErrors struct {
	// Errs holds one error per failed input, in input order.
	Errs []*probity.Error
	// Inputs is how many inputs were tried in all.
	Inputs int
}

// Error summarises the failures; each line names a file and a position.
func (e *FileErrors) Error() string {
	if len(e.Errs) == 1 {
		return e.Errs[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d inputs failed:", len(e.Errs), e.Inputs)
	for _, x := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(x.Error())
	}
	return b.String()
}

// Unwrap returns the per-file errors, so errors.As finds a *probity.Error
// and probity.ErrorCode reports its code.
func (e *FileErrors) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, x := range e.Errs {
		out[i] = x
	}
	return out
}

// Each streams every trace of every input to fn, in input order. args are
// files, directories (walked recursively for *.json, *.jsonl, *.ndjson),
// glob patterns, or "-" for stdin. Each trace has Source set to its file
// and Format to the importer's name.
//
// A file that fails does not stop the others: after all inputs, Each
// returns a *FileErrors with one *probity.Error per failed input (traces
// read from a file before its error were delivered). Files found by walking
// a directory that are JSON but of no known shape (configs, reports) are
// skipped with a warning instead. An error from fn, or ctx ending, stops
// everything and is returned as is.
func Each(ctx context.Context, args []string, opt Options, fn func(*probity.Trace) error) error {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "ingest")
	if opt.Format != "" {
		if _, ok := lookup(opt.Format); !ok {
			return unknownFormat(opt.Format)
		}
	}
	inputs := expand(args)
	fe := &FileErrors{Inputs: len(inputs)}
	traces := 0
	count := func(t *probity.Trace) error {
		traces++
		return fn(t)
	}
	var skipped []*probity.Error
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if in.err != nil {
			fe.Errs = append(fe.Errs, in.err)
			continue
		}
		stop, err := readInput(ctx, in, opt, log, count)
		if stop {
			return err
		}
		if ctx.Err() != nil {
			// The failure, if any, is the cancellation (a closed pipe).
			return ctx.Err()
		}
		var se *skipError
		if errors.As(err, &se) {
			log.Warn("skipping file of unknown format", "file", in.path)
			skipped = append(skipped, se.err)
			continue
		}
		if err != nil {
			fe.Errs = append(fe.Errs, asFileError(in.name(), err))
		}
	}
	if len(fe.Errs) > 0 {
		return fe
	}
	if traces == 0 {
		return &NoTracesError{Args: args, Inputs: len(inputs), Skipped: skipped}
	}
	return nil
}

// skipError marks a file found by walking a directory that is JSON of no
// known shape: passed over, not failed, but said why.
type skipError struct{ err *probity.Error }

func (e *skipError) Error() string { return e.err.Error() }

// NoTracesError is what Each returns when its inputs held no trace at all
// and none failed: a folder of unrelated JSON, an empty directory, an empty
// JSON list. Nothing to analyse is bad input, not a clean result: a CI job
// pointed at the wrong folder must not go green. Its code is EINVALID.
type NoTracesError struct {
	// Args are the arguments Each was given.
	Args []string
	// Inputs is how many files the arguments named or held.
	Inputs int
	// Skipped lists, in input order, the files passed over and why.
	Skipped []*probity.Error
}

// Error says what was read and lists every skipped file with its reason.
func (e *NoTracesError) Error() string {
	var b strings.Builder
	what := strings.Join(e.Args, " ")
	switch {
	case e.Inputs == 0:
		fmt.Fprintf(&b, "no traces in %s: no %s files found", what, strings.Join(Extensions, ", "))
	case len(e.Skipped) == 0:
		fmt.Fprintf(&b, "no traces in %s: %d file%s read, none holds a trace", what, e.Inputs, plural(e.Inputs))
	default:
		fmt.Fprintf(&b, "no traces in %s: %d of %d file%s skipped:", what, len(e.Skipped), e.Inputs, plural(e.Inputs))
		for _, x := range e.Skipped {
			b.WriteString("\n  ")
			b.WriteString(x.Error())
		}
	}
	return b.String()
}

// Unwrap returns an EINVALID *probity.Error, so probity.ErrorCode and the
// CLI's exit status treat the empty result as bad input.
func (e *NoTracesError) Unwrap() error {
	return &probity.Error{Code: probity.EINVALID, Message: "no traces"}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ReadAll returns every trace in path (a file, directory, glob or "-").
// On failure it returns the traces read so far and the error: a single
// *probity.Error when one file failed, a *FileErrors when several did.
func ReadAll(ctx context.Context, path string, opt Options) ([]*probity.Trace, error) {
	var out []*probity.Trace
	err := Each(ctx, []string{path}, opt, func(t *probity.Trace) error {
		out = append(out, t)
		return nil
	})
	var fe *FileErrors
	if errors.As(err, &fe) && len(fe.Errs) == 1 {
		return out, fe.Errs[0]
	}
	return out, err
}

// stopError marks an error from fn, which aborts Each.
type stopError struct{ err error }

// Error returns fn's error text.
func (e *stopError) Error() string { return e.err.Error() }

// readInput reads one input. stop is true when fn failed or ctx ended.
func readInput(ctx context.Context, in input, opt Options, log *slog.Logger, fn func(*probity.Trace) error) (stop bool, err error) {
	name := in.name()
	var r io.Reader
	if in.path == "-" {
		r = opt.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return false, openError(in.path, err)
		}
		defer f.Close()
		// A read from a pipe or device can block forever; closing the file
		// when ctx ends is the only way to interrupt it.
		defer context.AfterFunc(ctx, func() { f.Close() })()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return false, &probity.Error{Code: probity.EINVALID, File: name, Message: "is a directory"}
		}
		r = f
	}

	head, err := readHead(r)
	if err != nil {
		return false, &probity.Error{Code: probity.EINVALID, File: name, Where: "offset 0", Message: "read", Err: err}
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		// Gzip (traces.json.gz): read through it; positions then count in
		// the decompressed text.
		zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(head), r))
		if err != nil {
			return false, &probity.Error{Code: probity.EINVALID, File: name, Where: "offset 0", Message: "gzip", Err: err}
		}
		defer zr.Close()
		r = zr
		if head, err = readHead(r); err != nil {
			return false, &probity.Error{Code: probity.EINVALID, File: name, Message: "gzip", Err: err}
		}
	}
	if len(head) == 0 {
		return false, &probity.Error{Code: probity.EINVALID, File: name, Message: "empty file"}
	}
	// A regular file is re-read from the start after detection, which
	// keeps io.ReaderAt available for exact line:column in errors; anything
	// else (pipes, devices, gzip, a stdin that is not a file) replays what
	// detection read.
	var file *os.File
	if f, ok := r.(*os.File); ok {
		if st, serr := f.Stat(); serr == nil && st.Mode().IsRegular() {
			file = f
		}
	}
	var replay bytes.Buffer
	var fm format
	if opt.Format != "" {
		fm, _ = lookup(opt.Format)
	} else {
		rest := r
		if file == nil {
			rest = io.TeeReader(r, &replay)
		}
		shape, serr := jsonx.ReadShape(io.MultiReader(bytes.NewReader(head), rest), opt.MaxRecordBytes)
		detected := DetectShape(shape)
		if detected == "" && jsonx.FirstByte(head) == '{' && (strings.HasSuffix(in.path, ".traj.json") || strings.HasSuffix(in.path, ".traj")) {
			// Trajectories are named for what they are even when they
			// hold none of the keys the rule looks for.
			detected = sweagent.Format
		}
		if detected == "" {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			var le *jsonx.LimitError
			var ee *jsonx.EncodingError
			c := jsonx.FirstByte(head)
			switch {
			case c != '{' && c != '[':
				// Not JSON at all: undetected says what it starts with.
			case errors.As(serr, &le):
				return false, &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", le.Offset), Message: le.Error() + " before its format was recognised"}
			case errors.As(serr, &ee):
				return false, &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", ee.Offset), Message: "invalid UTF-8 (JSON must be UTF-8)"}
			}
			if in.walked && (c == '{' || c == '[') {
				return false, &skipError{undetected(name, head, shape)}
			}
			return false, undetected(name, head, shape)
		}
		fm, _ = lookup(detected)
	}

	src := io.MultiReader(bytes.NewReader(head), bytes.NewReader(replay.Bytes()), r)
	if file != nil {
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return false, &probity.Error{Code: probity.EINVALID, File: name, Message: "seek", Err: err}
		}
		src = file
	}
	jr := jsonx.NewReader(src, opt.MaxRecordBytes)

	var fnErr error
	err = fm.read(ctx, name, jr, func(t *probity.Trace) error {
		if t.Source == "" {
			t.Source = name
		}
		if t.Format == "" {
			t.Format = fm.name
		}
		if e := fn(t); e != nil {
			fnErr = e
			return &stopError{e}
		}
		return nil
	})
	if fnErr != nil {
		return true, fnErr
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return true, err
	}
	if err != nil {
		return false, positionGuardError(name, jr, err)
	}
	return false, nil
}

// positionGuardError gives a position to errors that the guarded reader
// raised (limits, invalid UTF-8) when the importer reported them without
// one, as importers that read the whole input at once may.
func positionGuardError(name string, jr *jsonx.Reader, err error) error {
	var pe *probity.Error
	if errors.As(err, &pe) && pe.Where != "" {
		return err
	}
	var le *jsonx.LimitError
	var ee *jsonx.EncodingError
	off := int64(-1)
	msg := ""
	switch {
	case errors.As(err, &le):
		off, msg = le.Offset, le.Error()
	case errors.As(err, &ee):
		off, msg = ee.Offset, "invalid UTF-8 (JSON must be UTF-8)"
	default:
		return err
	}
	return &probity.Error{Code: probity.EINVALID, File: name, Where: jsonx.Where(jr, jsonx.NoRecord, off), Message: msg}
}

// readHead reads up to HeadSize bytes; fewer only at end of input.
func readHead(r io.Reader) ([]byte, error) {
	buf := make([]byte, HeadSize)
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

// asFileError makes sure err is a *probity.Error naming the file.
func asFileError(name string, err error) *probity.Error {
	var pe *probity.Error
	if errors.As(err, &pe) {
		if pe.File == "" {
			c := *pe
			c.File = name
			return &c
		}
		return pe
	}
	return &probity.Error{Code: probity.EINVALID, File: name, Message: "read", Err: err}
}

func openError(name string, err error) *probity.Error {
	code := probity.EINVALID
	if errors.Is(err, os.ErrNotExist) {
		code = probity.ENOTFOUND
	}
	msg := "open"
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &probity.Error{Code: code, File: name, Message: msg, Err: err}
}

func unknownFormat(name string) *probity.Error {
	return probity.Errorf(probity.EINVALID, "unknown format %q (known formats: %s)", name, strings.Join(Formats(), ", "))
}

// undetected explains why no importer accepted a file, naming the
// top-level keys it did find so the user can see what was looked at.
func undetected(name string, head []byte, shape jsonx.Shape) *probity.Error {
	e := &probity.Error{Code: probity.EINVALID, File: name, Where: "offset 0"}
	switch c := jsonx.FirstByte(head); {
	case len(bytes.TrimSpace(head)) == 0:
		e.Message = "no JSON value in the first " + sizeName(len(head)) + " (only whitespace)"
	case c != '{' && c != '[':
		e.Message = fmt.Sprintf("not JSON (starts with %s); known formats: %s", printable(c), strings.Join(Formats(), ", "))
	default:
		e.Message = "JSON of unknown shape" + describeKeys(shape) + "; known formats: " + strings.Join(Formats(), ", ") + " (use --from to force one)"
	}
	return e
}

func printable(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", string(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// describeKeys names up to eight top-level keys of the first record.
func describeKeys(s jsonx.Shape) string {
	var top []string
	for _, k := range s.Keys {
		if !strings.ContainsAny(k, ".[") {
			top = append(top, k)
		}
	}
	if len(top) == 0 {
		return ""
	}
	what := "keys"
	if s.Kind == '[' {
		what = "first element's keys"
	}
	if len(top) > 8 {
		top = append(top[:8], "...")
	}
	return " (" + what + ": " + strings.Join(top, ", ") + ")"
}
