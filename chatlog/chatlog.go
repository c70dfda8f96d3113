// Package chatlog reads plain chat logs in the OpenAI chat-completions and
// Anthropic Messages shapes: what an agent sends to and gets back from a
// model API, logged as files.
//
// Accepted conversations, in a file, a JSON list of them, or JSON Lines:
//
//   - a list of messages: [{"role": "user", "content": "..."}, ...];
//   - an object with "messages" (a log, or a request body with model,
//     temperature, seed, tools; Anthropic's top-level "system" too);
//   - a provider response: OpenAI {"choices": [{"message": ...}]} or
//     Anthropic {"type": "message", "content": [...]}, as a one-message
//     conversation whose steps carry the model and token counts.
//
// In JSON Lines, a line holding a whole conversation yields one trace per
// line; lines holding single messages form one conversation together. A
// concatenation of pretty-printed values is read the same way.
//
// Message rules (see internal/wire): Pos.Index is the message's 0-based
// index in its list (in message-per-line files, the message's ordinal, with
// Pos.Line its line); string content is Part 0; content blocks keep their
// block index as Part; OpenAI tool_calls follow the content as Parts 1..N.
// OpenAI tool_calls, role "tool" results, legacy function_call and role
// "function", Anthropic tool_use and tool_result (is_error marks a failed
// result) all become KindToolCall / KindToolResult steps with the call id
// and tool name; arguments sent as a JSON string are decoded.
//
// Anthropic's top-level "system" prompt is not part of "messages"; its step
// has Pos.Index -1 so that every other index still equals the message's
// position in the source list.
package chatlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/jsonx"
	"github.com/probity/probity/internal/wire"
)

// Format is the name of this format for --format.
const Format = "chatlog"

// SystemIndex is the Pos.Index of a step made from a conversation's
// top-level system prompt (Anthropic "system"), which sits outside the
// message list.
const SystemIndex = -1

// Sniff reports whether head looks like a chat log. It is the loosest of
// the sniffers (any JSON with "role" keys), so ingest tries it last.
func Sniff(head []byte) bool {
	switch jsonx.FirstByte(head) {
	case '[':
		return jsonx.HasKey(head, "role") || jsonx.HasKey(head, "messages")
	case '{':
		return jsonx.HasKey(head, "messages") || jsonx.HasKey(head, "choices") ||
			jsonx.HasKey(head, "role")
	}
	return false
}

// SniffShape reports whether s, the structure of a whole input, is a chat
// log: a list of messages or conversations, or an object (or JSON Lines of
// objects) that is a conversation, a response or a message.
func SniffShape(s jsonx.Shape) bool {
	switch s.Kind {
	case '[':
		return s.HasAny("role", "messages")
	case '{':
		return s.HasAny("messages", "choices", "role")
	}
	return false
}

// conversation is every object we accept, decoded in one pass: a
// conversation (messages, an OpenAI or Anthropic response) or a single
// message, told apart afterwards by shape.
type conversation struct {
	wire.Message
	// RoleKey shadows Message.Role so that a "role" key is seen even when
	// empty: a message without a role is an error, not another shape.
	RoleKey     *string        `json:"role"`
	Messages    []wire.Message `json:"messages"`
	System      *wire.Content  `json:"system"`
	Model       string         `json:"model"`
	Temperature *float64       `json:"temperature"`
	Seed        *int64         `json:"seed"`
	Tools       []struct {
		Name     string `json:"name"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	Choices []struct {
		Message *wire.Message `json:"message"`
	} `json:"choices"`
	Object  string `json:"object"`
	Created int64  `json:"created"` // OpenAI: Unix seconds of the response
	Type    string `json:"type"`
	Usage   *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		InputTokens      int64 `json:"input_tokens"`
		OutputTokens     int64 `json:"output_tokens"`
	} `json:"usage"`
}

// shape says what one JSON value is.
type shape int

const (
	shapeOther shape = iota
	shapeMessage
	shapeConversation
	shapeMessageList
)

// shape tells a conversation from a single message.
func (c *conversation) shape() shape {
	switch {
	case c.Messages != nil || c.Choices != nil || c.Type == "message":
		return shapeConversation
	case c.RoleKey != nil:
		c.Message.Role = *c.RoleKey
		return shapeMessage
	}
	return shapeOther
}

// parsed is one decoded JSON value.
type parsed struct {
	shape shape
	conv  conversation   // shapeConversation, shapeMessage
	list  []wire.Message // shapeMessageList
}

// parse decodes one value, in one pass. Errors are *offsetError.
func parse(raw []byte) (*parsed, error) {
	p := &parsed{}
	switch jsonx.FirstByte(raw) {
	case '[':
		p.shape = shapeMessageList
		if err := json.Unmarshal(raw, &p.list); err != nil {
			return nil, unmarshalErr(err)
		}
	case '{':
		if err := json.Unmarshal(raw, &p.conv); err != nil {
			return nil, unmarshalErr(err)
		}
		p.shape = p.conv.shape()
	default:
		if !json.Valid(raw) {
			var v json.RawMessage
			return nil, unmarshalErr(json.Unmarshal(raw, &v))
		}
	}
	return p, nil
}

// DecodeConversation decodes one conversation in any accepted shape (a
// message list, an object with "messages", an OpenAI or Anthropic response
// object, or a single message) into a Trace with Format "chatlog" and no
// Source or ID. The proxy uses it to rebuild traces from recorded API
// requests and responses. Errors are *probity.Error (EINVALID) with the
// line and column in data.
func DecodeConversation(data []byte) (*probity.Trace, error) {
	t, err := decode(data)
	if err != nil {
		return nil, positioned("", bytes.NewReader(data), 0, jsonx.NoRecord, err)
	}
	return t, nil
}

// offsetError is a decoding error at an offset within the value.
type offsetError struct {
	off int64
	msg string
}

// Error returns the message.
func (e *offsetError) Error() string { return e.msg }

// decode turns one value into a trace. Errors are *offsetError.
func decode(raw []byte) (*probity.Trace, error) {
	p, err := parse(raw)
	if err != nil {
		return nil, err
	}
	return build(p)
}

// build turns a parsed value into a trace. Errors are *offsetError.
func build(p *parsed) (*probity.Trace, error) {
	t := &probity.Trace{Format: Format, Meta: map[string]string{}}
	var conv wire.Converter
	switch p.shape {
	case shapeMessageList:
		return t, addMessages(t, &conv, p.list, 0)
	case shapeMessage:
		return t, addMessages(t, &conv, []wire.Message{p.conv.Message}, 0)
	case shapeOther:
		return nil, &offsetError{msg: "not a chat conversation: want a list of messages or an object with \"messages\", \"choices\" or \"role\""}
	}
	c := &p.conv
	setMeta(t, c)
	if c.System != nil {
		if text := c.System.PlainText(); text != "" {
			t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: SystemIndex}, Kind: probity.KindSystem, Actor: "system", Content: text})
		}
	}
	var md *probity.Model
	switch {
	case c.Choices != nil:
		// OpenAI response: the first choice is the conversation's message.
		if len(c.Choices) == 0 || c.Choices[0].Message == nil {
			return nil, &offsetError{msg: "OpenAI response without choices[0].message"}
		}
		md = &probity.Model{Provider: "openai", Name: c.Model}
		if c.Usage != nil {
			md.InputTokens, md.OutputTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
		if err := addMessages(t, &conv, []wire.Message{*c.Choices[0].Message}, 0); err != nil {
			return nil, err
		}
	case c.Messages == nil && c.Type == "message":
		// Anthropic response: the object is the message.
		md = &probity.Model{Provider: "anthropic", Name: c.Model}
		if c.Usage != nil {
			md.InputTokens, md.OutputTokens = c.Usage.InputTokens, c.Usage.OutputTokens
		}
		role := "assistant"
		if c.RoleKey != nil && *c.RoleKey != "" {
			role = *c.RoleKey
		}
		if err := addMessages(t, &conv, []wire.Message{{Role: role, Content: c.Content}}, 0); err != nil {
			return nil, err
		}
	default:
		if err := addMessages(t, &conv, c.Messages, 0); err != nil {
			return nil, err
		}
	}
	if md != nil {
		for i := range t.Steps {
			if k := t.Steps[i].Kind; k == probity.KindAssistant || k == probity.KindToolCall {
				m := *md
				t.Steps[i].Model = &m
				if c.Created > 0 {
					t.Steps[i].Start = time.Unix(c.Created, 0).UTC()
				}
			}
		}
	}
	return t, nil
}

// setMeta records request parameters. They describe the call the request
// makes, not the earlier assistant turns it replays, so they go to Meta
// rather than to steps.
func setMeta(t *probity.Trace, c *conversation) {
	if c.Model != "" {
		t.Meta["model"] = c.Model
	}
	if c.Temperature != nil {
		t.Meta["temperature"] = strconv.FormatFloat(*c.Temperature, 'f', -1, 64)
	}
	if c.Seed != nil {
		t.Meta["seed"] = strconv.FormatInt(*c.Seed, 10)
	}
	var tools []string
	for _, tl := range c.Tools {
		name := tl.Name
		if tl.Function != nil && tl.Function.Name != "" {
			name = tl.Function.Name
		}
		if name != "" {
			tools = append(tools, name)
		}
	}
	if len(tools) > 0 {
		t.Meta["tools"] = strings.Join(tools, ",")
	}
}

// addMessages appends the steps of msgs, the first of which has index
// first, and sets the task from the first user text.
func addMessages(t *probity.Trace, conv *wire.Converter, msgs []wire.Message, first int) error {
	for i := range msgs {
		n0 := len(t.Steps)
		var err error
		t.Steps, err = conv.Steps(t.Steps, first+i, &msgs[i])
		if err != nil {
			return &offsetError{msg: err.Error()}
		}
		if t.Task == "" {
			for _, s := range t.Steps[n0:] {
				if s.Kind == probity.KindUser && s.Content != "" {
					t.Task = s.Content
					break
				}
			}
		}
	}
	return nil
}

func unmarshalErr(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "value"
		}
		return &offsetError{off: max(te.Offset-1, 0), msg: fmt.Sprintf("%s: want %s, got %s", field, kind(te), te.Value)}
	case errors.As(err, &se):
		return &offsetError{off: max(se.Offset-1, 0), msg: "malformed JSON: " + se.Error()}
	}
	return &offsetError{msg: err.Error()}
}

func kind(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "another type"
	}
	switch te.Type.Kind().String() {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// positioned converts an error from decode for a value starting at file
// offset start into a *probity.Error.
func positioned(path string, ra io.ReaderAt, start int64, record int, err error) *probity.Error {
	var oe *offsetError
	if !errors.As(err, &oe) {
		return jsonx.AsError(path, err)
	}
	where := ""
	if record >= 0 {
		where = fmt.Sprintf("record %d", record)
	}
	if line, col, ok := jsonx.LineColAt(ra, start+oe.off); ok {
		if where != "" {
			where += ", "
		}
		where += fmt.Sprintf("line %d, column %d", line, col)
	} else if path != "" {
		if where != "" {
			where += ", "
		}
		where += fmt.Sprintf("offset %d", start+oe.off)
	}
	return &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: oe.msg}
}

// Read decodes the chat log in r and emits one trace per conversation.
func Read(ctx context.Context, path string, r io.Reader, emit func(*probity.Trace) error) error {
	jr := jsonx.NewReader(r, 0)
	head := jr.Peek(64 << 10)
	if len(bytes.TrimSpace(head)) == 0 {
		// Let the stream produce the right error (empty, whitespace, ...).
		_, _, err := jsonx.NewStream(path, jr).Element(jsonx.NoRecord)
		if err == nil {
			err = jsonx.NewStream(path, jr).Errorf(jsonx.NoRecord, -1, "empty input")
		}
		return err
	}
	stem := stemOf(path)
	if isJSONLines(head) {
		return readLines(ctx, path, stem, jr, emit)
	}
	return readValues(ctx, path, stem, jr, emit)
}

// isJSONLines reports whether head starts with a line that is a complete
// JSON value followed by more content: JSON Lines rather than one
// (possibly pretty-printed) document.
func isJSONLines(head []byte) bool {
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 {
		return false
	}
	return json.Valid(head[:nl]) && len(bytes.TrimSpace(head[nl:])) > 0
}

func stemOf(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".gz")
	for _, ext := range []string{".jsonl", ".ndjson", ".json"} {
		base = strings.TrimSuffix(base, ext)
	}
	if base == "" || base == "." || base == "<stdin>" || base == "-" {
		return "chat"
	}
	return base
}

// pending collects single messages (one per line or per value) into one
// conversation.
type pending struct {
	t     *probity.Trace
	conv  wire.Converter
	n     int
	bytes int64 // source bytes held, capped like one record
	max   int64
}

func (p *pending) add(m wire.Message, size int, line int) error {
	// The messages of one conversation are held until its end, so together
	// they count as one record: an endless stream of messages must fail,
	// not fill memory.
	p.bytes += int64(size)
	if p.max > 0 && p.bytes > p.max {
		return &offsetError{msg: (&jsonx.LimitError{What: "record", Limit: p.max}).Error() + " (one conversation of single messages)"}
	}
	if p.t == nil {
		p.t = &probity.Trace{Format: Format, Meta: map[string]string{}}
	}
	n0 := len(p.t.Steps)
	if err := addMessages(p.t, &p.conv, []wire.Message{m}, p.n); err != nil {
		return err
	}
	for i := n0; i < len(p.t.Steps); i++ {
		p.t.Steps[i].Pos.Line = line
	}
	p.n++
	return nil
}

// readLines reads JSON Lines: one conversation or one message per line.
func readLines(ctx context.Context, path, stem string, jr *jsonx.Reader, emit func(*probity.Trace) error) error {
	br := bufio.NewReaderSize(jr, 64<<10)
	msgs := pending{max: jr.MaxRecordBytes()}
	convs := 0
	var mode shape
	var off int64 // file offset of the current line
	// Lines are numbered as we go, so positions need no re-reading.
	fail := func(line, col int, err error) error {
		var oe *offsetError
		if !errors.As(err, &oe) {
			return jsonx.AsError(path, err)
		}
		return &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d, column %d", line, col+int(oe.off)+1), Message: oe.msg}
	}
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		jr.Mark(off)
		raw, err := readLine(br, jr.MaxRecordBytes())
		if len(raw) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return jsonx.DecodeError(path, jr, off, jsonx.NoRecord, err)
		}
		off += int64(len(raw))
		lead := len(raw) - len(bytes.TrimLeft(raw, " \t\r\n"))
		val := bytes.TrimSpace(raw)
		if len(val) == 0 {
			if err == io.EOF {
				break
			}
			continue
		}
		p, e := parse(val)
		if e != nil {
			return fail(line, lead, e)
		}
		sh := p.shape
		if mode == 0 {
			mode = sh
		}
		switch {
		case sh == shapeMessage && mode == shapeMessage:
			if e := msgs.add(p.conv.Message, len(val), line); e != nil {
				return fail(line, lead, e)
			}
		case (sh == shapeConversation || sh == shapeMessageList) && mode != shapeMessage:
			t, e := build(p)
			if e != nil {
				return fail(line, lead, e)
			}
			for i := range t.Steps {
				t.Steps[i].Pos.Line = line
			}
			t.ID = fmt.Sprintf("%s/line-%d", stem, line)
			t.Source = path
			convs++
			if err := emit(t); err != nil {
				return err
			}
		case sh == shapeOther:
			return fail(line, lead, &offsetError{msg: "not a chat message or conversation"})
		default:
			return fail(line, lead, &offsetError{msg: "mixes single messages and whole conversations in one file"})
		}
		if err == io.EOF {
			break
		}
	}
	if msgs.t != nil {
		msgs.t.ID, msgs.t.Source = stem, path
		return emit(msgs.t)
	}
	return nil
}

// readLine returns the next line including its newline, at most max bytes.
func readLine(br *bufio.Reader, max int64) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			buf = append(buf, chunk...)
			if int64(len(buf)) > max {
				return nil, &jsonx.LimitError{What: "record", Limit: max}
			}
			continue
		}
		if buf == nil {
			return chunk, err
		}
		return append(buf, chunk...), err
	}
}

// readValues reads one document, or several concatenated: a list (of
// messages or of conversations, streamed element by element) or objects.
func readValues(ctx context.Context, path, stem string, jr *jsonx.Reader, emit func(*probity.Trace) error) error {
	s := jsonx.NewStream(path, jr)
	// Offsets inside the current record resolve to lines from the stream's
	// own bookkeeping, so stdin gets exact positions too.
	fail := func(start int64, rec int, err error) error {
		var oe *offsetError
		if !errors.As(err, &oe) {
			return jsonx.AsError(path, err)
		}
		return s.Errorf(rec, start+oe.off, "%s", oe.msg)
	}
	msgs := pending{max: jr.MaxRecordBytes()}
	var held *probity.Trace
	n := 0
	handle := func(raw []byte, start int64, rec int) error {
		p, e := parse(raw)
		if e != nil {
			return fail(start, rec, e)
		}
		switch p.shape {
		case shapeMessage:
			if e := msgs.add(p.conv.Message, len(raw), 0); e != nil {
				return fail(start, rec, e)
			}
			return nil
		case shapeOther:
			return fail(start, rec, &offsetError{msg: "not a chat message or conversation"})
		}
		if msgs.t != nil {
			return fail(start, rec, &offsetError{msg: "mixes single messages and whole conversations"})
		}
		t, e := build(p)
		if e != nil {
			return fail(start, rec, e)
		}
		// The first conversation waits: alone in its file it is named
		// after the file, otherwise "<file>/0".
		t.Source = path
		n++
		if n == 1 {
			held = t
			return nil
		}
		if held != nil {
			held.ID = stem + "/0"
			if err := emit(held); err != nil {
				return err
			}
			held = nil
		}
		t.ID = fmt.Sprintf("%s/%d", stem, n-1)
		return emit(t)
	}

	if s.Peek() == '[' {
		// A top-level list: of messages (one conversation) or of
		// conversations (one trace each), streamed.
		if err := s.BeginArray("a list"); err != nil {
			return err
		}
		rec := 0
		for ; s.More(); rec++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			raw, start, err := s.Element(rec)
			if err != nil {
				return err
			}
			if err := handle(raw, start, rec); err != nil {
				return err
			}
		}
		if err := s.EndArray(rec); err != nil {
			return err
		}
	} else {
		for rec := 0; ; rec++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !s.More() {
				// More is false at the end of input, and also before a stray
				// ']' or '}', which End reports.
				if err := s.End(); err != nil {
					return err
				}
				break
			}
			// A lone document is not "record 0"; later ones are numbered.
			r := rec
			if rec == 0 {
				r = jsonx.NoRecord
			}
			raw, start, err := s.Element(r)
			if err != nil {
				return err
			}
			if err := handle(raw, start, r); err != nil {
				return err
			}
		}
	}
	if msgs.t != nil {
		msgs.t.ID, msgs.t.Source = stem, path
		return emit(msgs.t)
	}
	if held != nil {
		held.ID = stem
		return emit(held)
	}
	return nil
}
