// Package otlp reads and writes traces as OTLP/JSON following the
// OpenTelemetry GenAI semantic conventions and OpenInference attributes.
//
// # Reading
//
// Read accepts an ExportTraceServiceRequest as one JSON object (pretty or
// compact) or as JSON Lines of them, as the OpenTelemetry Collector's file
// exporter writes. Spans are grouped by trace id into one probity.Trace each,
// in order of first appearance in the file. Steps are ordered by the time
// they happened (stable: ties keep file order). Every step's Pos.Index is
// the 0-based ordinal of its span in the file and Pos.SpanID its hex span id;
// one span can yield several steps (a chat span with a user message, text and
// two tool calls yields four), told apart by Pos.Part. Pos.Line is the line
// of the span's record when that record is one line (JSON Lines input).
//
// The mapping follows the conventions:
//
//   - model calls (gen_ai.operation.name chat / text_completion /
//     generate_content, openinference.span.kind LLM, openllmetry's
//     llm.request.type): input messages become system / user / tool-result
//     steps only when new (each model call repeats the whole history, so an
//     already-seen message is skipped: user messages trace-wide, others per
//     agent); the first output message (the first choice: the run went on
//     with it) becomes an assistant step and one tool_call step per tool call.
//     Messages are read from gen_ai.input.messages / gen_ai.output.messages /
//     gen_ai.system_instructions (JSON string or structured value), from
//     openllmetry's gen_ai.prompt.N.* / gen_ai.completion.N.*, from
//     OpenInference llm.input_messages.N.message.* / llm.output_messages.N.*,
//     and from the span events gen_ai.{system,user,assistant,tool}.message and
//     gen_ai.choice.
//   - tools (execute_tool, TOOL): a tool_call step (unless the model call
//     already produced one with the same call id) and a tool_result step at
//     the span's end; span status ERROR or error.type sets Step.Error.
//   - agents (invoke_agent, AGENT): gen_ai.agent.name / agent.name becomes the
//     Actor of every descendant span. An agent span nested in another agent's
//     span is a hand-off: a handoff step at its start and a return step at its
//     end. A top-level agent or CHAIN span's input becomes a user step and its
//     output a final step (unless it repeats the last assistant message).
//   - retrieval (gen_ai.operation.name retrieval, RETRIEVER): one retrieval
//     step per document.
//
// # Writing and round trips
//
// Write and Encode turn any probity.Trace into OTLP/JSON with GenAI
// attributes, one span per step, under a root span per trace; a handoff step
// becomes an invoke_agent span that encloses the sub-agent's steps up to the
// matching return. Ids are derived from the trace and the step's position, so
// the same input always gives the same output. Besides the conventional
// attributes every span carries probity.step.* attributes and the resource
// carries probity.trace.*, probity.labels.*, probity.meta.* attributes; Read
// recognises them and restores the trace exactly, including the ORIGINAL
// source position (probity.source.index / part / line / span_id). This is
// deliberate: a finding on a converted trace points at the message in the
// file the trace was first read from, not at a span in the OTLP carrier file.
// Source and Format, though, name the file actually read and "otlp" (the
// analyze and inspect JSON contracts promise the input path); the original
// file and format are kept in Meta under MetaOriginalSource and
// MetaOriginalFormat.
//
// # Bad input
//
// Read holds one file in memory (the spans of a trace may be anywhere in it)
// and refuses files over MaxFileBytes or MaxSpans spans; attribute values
// nested deeper than 128 levels, ids that are not 32/16 hex digits (or their
// base64), malformed JSON and cyclic span parents (A → B → A) are reported
// as a *probity.Error naming the file and the line, record or span.
//
// # Ids
//
// The OTLP/JSON specification encodes traceId, spanId and parentSpanId as
// hex strings, while protojson (the protobuf JSON mapping) expects base64 for
// bytes fields. A 32-digit hex trace id is also valid base64 (of 24 bytes),
// so protojson accepts spec-conformant files but yields ids of the wrong
// length. Read decodes with protojson and then recovers the hex text from
// such 24- and 12-byte ids; genuine base64 ids (16 and 8 bytes, as some
// exporters write) are accepted too. Write emits hex, as the specification
// requires; the files it writes still decode without error with plain
// protojson.Unmarshal.
package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/jsonx"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Format is the name of this format for --format.
const Format = "otlp"

// Limits that keep memory and time bounded on hostile input. Read holds a
// whole file in memory because the spans of one trace may be spread over
// the whole file.
const (
	// MaxFileBytes is the largest input Read accepts.
	MaxFileBytes = 512 << 20
	// MaxSpans is the largest number of spans Read accepts in one file.
	MaxSpans = 1 << 20
	// maxDepth bounds nested attribute values (kvlist in kvlist ...).
	maxDepth = 128
)

// Sniff reports whether head, the first bytes of a file, looks like OTLP/JSON:
// a JSON object whose first key is resourceSpans (or resource_spans).
func Sniff(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 || head[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(head[1:], " \t\r\n")
	return bytes.HasPrefix(rest, []byte(`"resourceSpans"`)) || bytes.HasPrefix(rest, []byte(`"resource_spans"`))
}

// SniffShape reports whether s, the structure of a whole input, is an OTLP
// export: an object (or JSON Lines of objects) with resourceSpans.
func SniffShape(s jsonx.Shape) bool {
	return s.Kind == '{' && s.HasAny("resourceSpans", "resource_spans")
}

// Read decodes every trace in r, which was opened from path, and calls emit
// for each in order of first appearance. Bad input returns a *probity.Error
// with code EINVALID naming path and the line, record or span; Read never
// panics and stops at MaxFileBytes. It checks ctx between records and traces.
func Read(ctx context.Context, path string, r io.Reader, emit func(*probity.Trace) error) error {
	data, err := readAll(ctx, path, r)
	if err != nil {
		return err
	}
	f, err := decodeFile(ctx, path, data)
	if err != nil {
		return err
	}
	for _, tr := range f.traces {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := buildTrace(path, tr)
		if err != nil {
			return err
		}
		if err := emit(t); err != nil {
			return err
		}
	}
	return nil
}

func invalid(path, where, msg string, err error) *probity.Error {
	return &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: msg, Err: err}
}

// ctxReader stops a read that never ends (a device, a pipe) when ctx is
// cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func readAll(ctx context.Context, path string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, MaxFileBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read", Err: err}
	}
	if len(data) > MaxFileBytes {
		return nil, invalid(path, fmt.Sprintf("offset %d", MaxFileBytes), fmt.Sprintf("file larger than %d MiB", MaxFileBytes>>20), nil)
	}
	return data, nil
}

// file is the decoded content of one input: spans grouped by trace.
type file struct {
	traces []*traceSpans
}

// traceSpans is one trace's spans in file order.
type traceSpans struct {
	id    string
	spans []*spanRec
}

func decodeFile(ctx context.Context, path string, data []byte) (*file, error) {
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid(path, "", "empty file: no OTLP/JSON record", nil)
	}
	bom := len(data) - len(body)
	dec := json.NewDecoder(bytes.NewReader(body))
	opts := protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: maxDepth}
	f := &file{}
	byTrace := map[string]*traceSpans{}
	ordinal := 0
	for rec := 1; ; rec++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			// Point at the offending byte, or for a truncated record at
			// where the record starts.
			off := int(dec.InputOffset())
			for off < len(body) && (body[off] == ' ' || body[off] == '\t' || body[off] == '\r' || body[off] == '\n') {
				off++
			}
			msg := "malformed JSON"
			var se *json.SyntaxError
			switch {
			case errors.As(err, &se):
				off = max(int(se.Offset)-1, 0)
			case errors.Is(err, io.ErrUnexpectedEOF):
				msg = "truncated JSON record"
			}
			return nil, invalid(path, fmt.Sprintf("line %d, offset %d (record %d)", lineAt(body, off), off+bom, rec), msg, err)
		}
		start := int(dec.InputOffset()) - len(raw)
		line := lineAt(body, start)
		where := fmt.Sprintf("line %d (record %d)", line, rec)
		if len(raw) == 0 || raw[0] != '{' {
			return nil, invalid(path, where, "not an OTLP/JSON ExportTraceServiceRequest: want a JSON object", nil)
		}
		req := &coltrace.ExportTraceServiceRequest{}
		if err := opts.Unmarshal(raw, req); err != nil {
			return nil, invalid(path, where, "not an OTLP/JSON ExportTraceServiceRequest", err)
		}
		recLine := 0
		if !bytes.ContainsRune(raw, '\n') {
			recLine = line // a one-line record: a JSON Lines source
		}
		for _, rs := range req.GetResourceSpans() {
			res := attrMap(rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					if ordinal >= MaxSpans {
						return nil, invalid(path, where, fmt.Sprintf("more than %d spans in one file", MaxSpans), nil)
					}
					s, err := newSpanRec(sp, ordinal, recLine, res)
					if err != nil {
						return nil, invalid(path, fmt.Sprintf("%s, span %d", where, ordinal), "bad span", err)
					}
					ordinal++
					ts := byTrace[s.trace]
					if ts == nil {
						ts = &traceSpans{id: s.trace}
						byTrace[s.trace] = ts
						f.traces = append(f.traces, ts)
					}
					ts.spans = append(ts.spans, s)
				}
			}
		}
	}
	return f, nil
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}
