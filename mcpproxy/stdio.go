package mcpproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// maxHostLine bounds one line from a stdio host: the SDK's own limit,
// applied here so that an over-long line is refused alone rather than
// ending the session.
const maxHostLine = mcp.DefaultMaxLineLength

// StdioTransport is the host-facing transport for a host on in and out
// (the process's stdin and stdout). The SDK's stdio transport ends the
// session on the first line it cannot read, and with it the host's server;
// here each bad line gets a JSON-RPC error and the session goes on: a line
// that is not JSON (-32700 parse error), a message that is not JSON-RPC, a
// line over 16 MiB, or a batch under protocol 2025-06-18 or later, which
// dropped batching (-32600 invalid request). The error names the request's
// id when it can be read, else null, as JSON-RPC says.
func StdioTransport(in io.Reader, out io.Writer) mcp.Transport {
	w := &hostWriter{w: out}
	pr, pw := io.Pipe()
	go filterHost(in, pw, w)
	return &mcp.IOTransport{Reader: pr, Writer: w}
}

// hostWriter serialises the SDK's writes and the filter's error replies
// (each one whole line per Write), and watches the initialize response for
// the protocol version the session agreed on.
type hostWriter struct {
	mu      sync.Mutex
	w       io.Writer
	version string
}

func (h *hostWriter) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.version == "" && bytes.Contains(b, []byte(`"protocolVersion"`)) {
		var r struct {
			Result struct {
				ProtocolVersion string `json:"protocolVersion"`
			} `json:"result"`
		}
		if json.Unmarshal(b, &r) == nil {
			h.version = r.Result.ProtocolVersion
		}
	}
	return h.w.Write(b)
}

// Close does not close the host's stream: that is the process's business.
func (h *hostWriter) Close() error { return nil }

func (h *hostWriter) protocol() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// reply writes a JSON-RPC error for a line that is not passed on.
func (h *hostWriter) reply(id jsonrpc.ID, code int64, msg string) {
	b, err := jsonrpc.EncodeMessage(&jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: code, Message: msg}})
	if err != nil {
		return
	}
	_, _ = h.Write(append(b, '\n'))
}

// filterHost copies the host's lines to the SDK, answering the ones it must
// not see. It ends (closing to) when the host's stream ends.
func filterHost(in io.Reader, to *io.PipeWriter, w *hostWriter) {
	r := bufio.NewReaderSize(in, 64<<10)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case len(line)+len(chunk) > maxHostLine:
			// Drop the rest of the line, then refuse it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			line = line[:0]
			w.reply(jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, "message over the 16 MiB line limit; ignored")
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
			continue
		default:
			line = append(line, chunk...)
			if msg := w.check(bytes.TrimSpace(line)); msg != nil {
				if _, werr := to.Write(append(msg, '\n')); werr != nil {
					return
				}
			}
			line = line[:0]
		}
		if err != nil {
			to.CloseWithError(err)
			return
		}
	}
}

// check returns the line to pass on, or nil after answering it.
func (h *hostWriter) check(line []byte) []byte {
	if len(line) == 0 {
		return nil
	}
	if !json.Valid(line) {
		h.reply(jsonrpc.ID{}, jsonrpc.CodeParseError, "parse error: the line is not JSON; ignored")
		return nil
	}
	if line[0] == '[' {
		if v := h.protocol(); v >= "2025-06-18" {
			h.reply(jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, "JSON-RPC batches are not part of MCP protocol "+v+"; send each message on its own line")
			return nil
		}
		var batch []json.RawMessage
		_ = json.Unmarshal(line, &batch)
		if len(batch) == 0 {
			h.reply(jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, "empty batch; ignored")
			return nil
		}
		for _, m := range batch {
			if _, err := jsonrpc.DecodeMessage(m); err != nil {
				h.reply(idOf(m), jsonrpc.CodeInvalidRequest, "invalid JSON-RPC message in batch: "+err.Error()+"; batch ignored")
				return nil
			}
		}
		return line
	}
	if _, err := jsonrpc.DecodeMessage(line); err != nil {
		h.reply(idOf(line), jsonrpc.CodeInvalidRequest, "invalid JSON-RPC message: "+err.Error()+"; ignored")
		return nil
	}
	return line
}

// idOf reads a message's id, for an error reply; null when it has none.
func idOf(b []byte) jsonrpc.ID {
	var m struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(b, &m) != nil {
		return jsonrpc.ID{}
	}
	id, err := jsonrpc.MakeID(m.ID)
	if err != nil {
		return jsonrpc.ID{}
	}
	return id
}
