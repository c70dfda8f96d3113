package proxy

import (
	"bytes"
)

// sseEvent is one server-sent event: its optional event name and its data
// lines joined by newlines.
type sseEvent struct {
	Name string
	Data []byte
}

// parseSSE splits a complete text/event-stream body into events. It is
// lenient: lines it does not understand are skipped.
func parseSSE(b []byte) []sseEvent {
	var out []sseEvent
	for _, block := range splitEvents(b) {
		if ev, ok := parseEvent(block); ok {
			out = append(out, ev)
		}
	}
	return out
}

// splitEvents cuts b at blank lines, keeping each event's bytes exactly
// (terminator included) so replay can send them one by one unchanged.
func splitEvents(b []byte) [][]byte {
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

func parseEvent(block []byte) (sseEvent, bool) {
	var ev sseEvent
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
