package spec

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/probity/probity"
)

// maxToolPages bounds tools/list pagination against a server that hands out
// cursors forever.
const maxToolPages = 100

// ListMCPTools starts the MCP server command over stdio with the official
// MCP Go SDK client, asks for its tools (following pagination) and stops
// it. It returns a source name ("mcp:" and the server's name) and the
// tools/list result as indented JSON, which ParseTools reads and whose
// positions findings then refer to.
//
// Nothing here can hang: the whole exchange runs under timeout, and a
// server that does not exit when its stdin closes is terminated. A server
// that fails to start, exits, or answers with something that is not MCP
// gives a *probity.Error naming the command (ETIMEOUT when it was too slow).
func ListMCPTools(ctx context.Context, command []string, timeout time.Duration, stderr io.Writer) (source string, result []byte, err error) {
	if len(command) == 0 {
		return "", nil, probity.Errorf(probity.EINVALID, "no MCP server command")
	}
	label := "mcp:" + filepath.Base(command[0])
	if len(command) > 1 {
		label += " " + strings.Join(command[1:], " ")
	}
	fail := func(code, msg string, err error) (string, []byte, error) {
		return "", nil, &probity.Error{Code: code, File: oneLine(label, 120), Message: msg, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stderr = stderr
	isolate(cmd)
	// Whatever happens, nothing the server started outlives the listing.
	defer killGroup(cmd)
	client := mcp.NewClient(&mcp.Implementation{Name: "probity-spec-lint", Version: "1"}, nil)
	// exec.CommandContext is not used: the transport owns the process and
	// stops it on Close; the context bounds the protocol exchange.
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		if ctx.Err() != nil {
			return fail(probity.ETIMEOUT, fmt.Sprintf("the MCP server did not complete initialization within %s", timeout), err)
		}
		return fail(probity.EINVALID, "start the MCP server and initialize", err)
	}
	defer func() {
		done := make(chan struct{})
		go func() { _ = session.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second): // Close terminates the process; never wait forever
		}
	}()
	name := ""
	if init := session.InitializeResult(); init != nil && init.ServerInfo != nil {
		name = init.ServerInfo.Name
	}
	if init := session.InitializeResult(); init == nil || init.Capabilities == nil || init.Capabilities.Tools == nil {
		return fail(probity.EINVALID, "the MCP server does not offer tools", nil)
	}
	var tools []*mcp.Tool
	params := &mcp.ListToolsParams{}
	for page := 0; ; page++ {
		if page == maxToolPages {
			return fail(probity.EINVALID, fmt.Sprintf("tools/list did not end after %d pages", maxToolPages), nil)
		}
		res, err := session.ListTools(ctx, params)
		if err != nil {
			if ctx.Err() != nil {
				return fail(probity.ETIMEOUT, fmt.Sprintf("tools/list did not answer within %s", timeout), err)
			}
			return fail(probity.EINVALID, "tools/list", err)
		}
		tools = append(tools, res.Tools...)
		if res.NextCursor == "" {
			break
		}
		params = &mcp.ListToolsParams{Cursor: res.NextCursor}
	}
	b, err := json.MarshalIndent(struct {
		Tools []*mcp.Tool `json:"tools"`
	}{tools}, "", "  ")
	if err != nil {
		return fail(probity.EINVALID, "encode tools/list", err)
	}
	if name != "" {
		label = "mcp:" + name
	}
	return label, append(b, '\n'), nil
}
