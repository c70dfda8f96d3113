package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/analysis"
)

// TestView runs probity view over the bundled examples, reads the URL it
// prints, and finds the failing cascade on its pages; Ctrl-C (the context)
// stops it and removes its temporary store.
func TestView(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	done := make(chan error, 1)
	go func() {
		done <- runView(e, []string{"../examples"}, viewOptions{listen: "127.0.0.1:0", analyzer: analysis.New(analysis.Options{})})
	}()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("view ended early: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		url = strings.TrimSpace(stdout.String())
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("view printed %q, want a loopback URL; stderr:\n%s", url, stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, "read 4 traces (2 failing after analysis), 0 eval runs; ready in") {
		t.Errorf("view's summary line = %q", got)
	}
	resp, err := http.Get(url + "traces?verdict=fail")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "cascade") {
		t.Errorf("GET traces?verdict=fail = %d; the cascade is not listed", resp.StatusCode)
	}
	resp, err = http.PostForm(url+"traces/00000000000000000000000000000000/feedback", map[string][]string{"label": {"correct"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("feedback post to view = %d, want 400 (read-only)", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("view after Ctrl-C: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("view left %d entries in the temporary directory", len(left))
	}
}
