package wire

import (
	"bufio"
	"bytes"
	"errors"
)

// Event is one server-sent event: its optional event name and its data
// lines joined by newlines.
type Event struct {
	Name string
	Data []byte
}

// ParseSSE splits a complete text/event-stream body into events. It is
// lenient: lines it does not understand are skipped.
func ParseSSE(b []byte) []Event {
	var out []Event
	for _, block := range SplitEvents(b) {
		if ev, ok := ParseEvent(block); ok {
			out = append(out, ev)
		}
	}
	return out
}

// SplitEvents cuts b at blank lines, keeping each event's bytes exactly
// (terminator included) so replay can send them one by one unchanged.
func SplitEvents(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i, n := eventEnd(b)
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+n])
		b = b[i+n:]
	}
	return out
}

// eventEnd returns the index and length of the first blank-line separator.
func eventEnd(b []byte) (int, int) {
	best, blen := -1, 0
	for _, sep := range []string{"\r\n\r\n", "\n\n", "\r\r"} {
		if i := bytes.Index(b, []byte(sep)); i >= 0 && (best < 0 || i < best) {
			best, blen = i, len(sep)
		}
	}
	return best, blen
}

// ParseEvent reads one event's bytes; ok is false when they hold neither
// data nor an event name (a comment, a keep-alive).
func ParseEvent(block []byte) (ev Event, ok bool) {
	var data [][]byte
	for _, line := range bytes.FieldsFunc(block, func(r rune) bool { return r == '\n' || r == '\r' }) {
		switch {
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
		case bytes.HasPrefix(line, []byte("event:")):
			ev.Name = string(bytes.TrimSpace(line[len("event:"):]))
		}
	}
	if data == nil && ev.Name == "" {
		return ev, false
	}
	ev.Data = bytes.Join(data, []byte("\n"))
	return ev, true
}

// MaxEventBytes bounds one server-sent event: real events are a few
// kilobytes (a whole tool call's arguments at most), and a stream that never
// sends a blank line must not make a reader hold it all.
const MaxEventBytes = 16 << 20

// ErrEventTooLarge is returned by ReadEvent for an event over MaxEventBytes.
var ErrEventTooLarge = errors.New("server-sent event over 16 MiB")

// ReadEvent returns the next server-sent event's exact bytes, blank-line
// terminator included, so a filter can pass it on unchanged.
func ReadEvent(br *bufio.Reader) ([]byte, error) {
	var ev []byte
	for {
		line, err := br.ReadSlice('\n')
		if len(ev)+len(line) > MaxEventBytes {
			return ev, ErrEventTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			ev = append(ev, line...)
			continue
		}
		ev = append(ev, line...)
		if err != nil {
			return ev, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return ev, nil
		}
	}
}
