//go:build unix

package proxy

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/proxy/cassette"
)

// TestReplaySkipsFIFO is issue 10 item 15: a named pipe among the
// cassettes used to block replay forever. It is skipped with a warning,
// and refused when named alone.
func TestReplaySkipsFIFO(t *testing.T) {
	dir := t.TempDir()
	c := cassette.New("r1", "http://x", time.Now())
	c.Interactions = append(c.Interactions, cassette.Interaction{Request: cassette.Request{Method: "POST", Path: "/v1/x"},
		Response: &cassette.Response{Status: 200, Body: cassette.NewBody([]byte(`{}`))}})
	b, _ := cassette.Marshal(c)
	os.WriteFile(filepath.Join(dir, "r1.json"), b, 0o600)
	fifo := filepath.Join(dir, "r2.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var logs bytes.Buffer
	done := make(chan struct{})
	var got []*cassette.Index
	var err error
	go func() {
		defer close(done)
		got, err = Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		// Unblock the reader so the test ends, then fail.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("Open blocked on a FIFO")
	}
	if err != nil || len(got) != 1 || got[0].Head.Run != "r1" {
		t.Fatalf("Open(dir) = %d recordings, %v; want r1 only", len(got), err)
	}
	if !strings.Contains(logs.String(), "r2.json") || !strings.Contains(logs.String(), "FIFO") {
		t.Errorf("no warning naming the FIFO: %q", logs.String())
	}
	if _, err := Load(fifo); probity.ErrorCode(err) != probity.EINVALID || !strings.Contains(err.Error(), "regular file") {
		t.Errorf("Load(fifo) = %v, want EINVALID: not a regular file", err)
	}
}
