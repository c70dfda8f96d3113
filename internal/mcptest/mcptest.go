// Package mcptest locates real MCP servers, installed from npm into this
// folder, for tests that drive them (through Probity's MCP proxy, or as the
// live servers spec lint reads tools from):
//
//	npm ci --prefix internal/mcptest
//
// A test that needs a server may skip when it is not installed, but only
// outside CI: with CI=true a missing server fails the test, so CI cannot go
// green by testing nothing.
package mcptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// FilesystemServer returns the command line that starts the official
// @modelcontextprotocol/server-filesystem over stdio, serving dirs.
func FilesystemServer(tb testing.TB, dirs ...string) []string {
	tb.Helper()
	return ReferenceServer(tb, "filesystem", dirs...)
}

// ReferenceServer returns the command line that starts one of the official
// MCP reference servers installed here over stdio: "filesystem", "memory",
// "everything" or "sequential-thinking", followed by args.
func ReferenceServer(tb testing.TB, name string, args ...string) []string {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(tb, "node is not installed")
	}
	pkg := "@modelcontextprotocol/server-" + name
	script := filepath.Join(dir(), "node_modules", "@modelcontextprotocol", "server-"+name, "dist", "index.js")
	if _, err := os.Stat(script); err != nil {
		missing(tb, pkg+" is not installed (npm ci --prefix internal/mcptest)")
	}
	return append([]string{node, script}, args...)
}

func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s; CI must install it", why)
	}
	tb.Skipf("%s; skipping outside CI", why)
}

// dir is this package's folder, wherever the test runs from.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}
