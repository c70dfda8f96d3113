//go:build !windows

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/probity/probity/drill"
)

// screen collects what a program writes to a pseudo-terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows want after position from, and
// returns the position after it. The deadline only guards against a hang.
func (s *screen) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := s.String()
		if i := strings.Index(got[from:], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %q; it shows:\n%s", want, got[from:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDrillTakePTY runs `probity drill take` on a real pseudo-terminal: it
// pages through the trace, types the key's answers to the planted drill and
// a wrong number to the probability drill, and reads the explanations and
// the score off the screen.
func TestDrillTakePTY(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	dir := filepath.Join(t.TempDir(), "set")
	var stderr bytes.Buffer
	if code := Main([]string{"drill", "make", "--from", "../examples/refund-ok.json", "--count", "2", "--seed", "3",
		"--kinds", "planted,probability", "--out", dir}, nil, io.Discard, &stderr); code != 0 {
		t.Fatalf("drill make: exit %d: %s", code, stderr.String())
	}
	set, err := drill.Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Drills) != 2 || set.Drills[0].Trace == nil || set.Drills[1].Trace != nil {
		t.Fatalf("want a planted drill then a probability drill, got %d drills", len(set.Drills))
	}
	k1, _ := set.Key.Entry("d01")
	k2, _ := set.Key.Entry("d02")

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	scr := &screen{}
	go io.Copy(scr, ptmx)
	saved := filepath.Join(t.TempDir(), "answers.json")
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"drill", "take", dir, "--page", "8", "--save", saved}, tty, tty, tty)
		tty.Close()
	}()
	typ := func(s string) {
		if _, err := ptmx.Write([]byte(s + "\n")); err != nil {
			t.Fatal(err)
		}
	}

	at := scr.waitFor(t, 0, "trace d01")
	at = scr.waitFor(t, at, "-- more: lines 1-8 of")
	typ("")
	at = scr.waitFor(t, at, "Did this run fail?")
	at = scr.waitFor(t, at, "> ")
	typ("maybe") // not an answer: asked again
	at = scr.waitFor(t, at, "answer yes or no")
	typ("yes")
	at = scr.waitFor(t, at, "At which step")
	at = scr.waitFor(t, at, "> ")
	typ(fmt.Sprint(*k1.Answer.Step))
	at = scr.waitFor(t, at, "Which failure class")
	at = scr.waitFor(t, at, "> ")
	typ(*k1.Answer.Class)
	at = scr.waitFor(t, at, "Which later steps")
	at = scr.waitFor(t, at, "> ")
	reached := "none"
	if len(*k1.Answer.Reached) > 0 {
		reached = strings.Trim(fmt.Sprint(*k1.Answer.Reached), "[]")
	}
	typ(reached)
	at = scr.waitFor(t, at, "Which policy rule")
	at = scr.waitFor(t, at, "> ")
	typ(*k1.Answer.Rule)
	at = scr.waitFor(t, at, "(answered in ")
	at = scr.waitFor(t, at, "── answer ──")
	expl := scr.waitFor(t, at, "[Enter] next drill")
	for _, want := range []string{"✓ failed", "✓ step", "✓ class", "✓ reached", "✓ rule", "The planted change:", "--- real run", "Probity's findings"} {
		if !strings.Contains(scr.String()[at:expl], want) {
			t.Errorf("the explanation of d01 lacks %q:\n%s", want, scr.String()[at:expl])
		}
	}
	typ("")
	at = scr.waitFor(t, expl, "Your answer, as a number:")
	at = scr.waitFor(t, at, "> ")
	typ(fmt.Sprint(*k2.Answer.Value + 0.5))
	at = scr.waitFor(t, at, "✗ value")
	end := scr.waitFor(t, at, "time ")
	if !strings.Contains(scr.String()[at:end], "Score 5 of 6") {
		t.Errorf("want the score 5 of 6 on screen, got:\n%s", scr.String()[at:end])
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("drill take: exit %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("drill take did not return")
	}
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	var ans map[string]drill.Answer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	if a := ans["d01"]; a.Step == nil || *a.Step != *k1.Answer.Step {
		t.Errorf("saved answers = %s, want d01's step %d", b, *k1.Answer.Step)
	}
}

// TestDrillExitCodes: bad input to drill exits 2 with the file named; a
// good grade exits 0.
func TestDrillExitCodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	if code := Main([]string{"drill", "make", "--from", "../examples/refund-ok.json", "--count", "3", "--out", dir}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatalf("drill make: exit %d", code)
	}
	write := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"drill", "grade", dir, "--answers", write("ok.json", `{"d01": {"failed": true}}`)}, ExitOK, ""},
		{[]string{"drill", "grade", dir, "--answers", write("unknown.json", `{"d42": {"failed": true}}`)}, ExitUsage, `d42 not in this set`},
		{[]string{"drill", "grade", dir, "--answers", write("bad.json", `{"d01": {"failed": "yes"}}`)}, ExitUsage, "bad.json: line 1, column"},
		{[]string{"drill", "make", "--from", write("trunc.json", `[{"role": "user"`), "--out", t.TempDir()}, ExitUsage, "trunc.json"},
		{[]string{"drill", "make", "--from", "../examples/refund-ok.json", "--difficulty", "brutal", "--out", t.TempDir()}, ExitUsage, `unknown difficulty "brutal"`},
		{[]string{"drill", "take", t.TempDir()}, ExitUsage, "no drill files"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		code := Main(c.args, strings.NewReader(""), io.Discard, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("probity %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr.String(), c.code, c.msg)
		}
	}
}
