package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/internal/testagent"
)

// tourStep is one "$ command" of the README's tour with the output the
// README shows under it.
type tourStep struct {
	line    int // in README.md
	command string
	output  []string
}

// tourSkips are the tour's commands that need what a test cannot have: a
// model API on the internet, the reader's own agent, npm packages, or a
// server left running. Each names why; everything else runs.
var tourSkips = []struct{ pattern, why string }{
	{"api.openai.com", "forwards to a real model API"},
	{"my_agent.py", "runs the reader's own agent"},
	{"rec/", "needs a recording made by the reader's agent"},
	{"npx ", "downloads an MCP server from npm"},
	{"guard serve", "serves until interrupted (guard_serve.txtar covers it)"},
}

// parseTour reads the console blocks of the README section "A five-minute
// tour": each "$ " line is a command, the lines up to the next one its
// output.
func parseTour(t *testing.T, readme []byte) []tourStep {
	var steps []tourStep
	inTour, inBlock := false, false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inTour = strings.Contains(line, "tour")
		case !inTour:
		case strings.HasPrefix(line, "```console"):
			inBlock = true
		case strings.HasPrefix(line, "```"):
			inBlock = false
		case !inBlock:
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, tourStep{line: n, command: strings.TrimPrefix(line, "$ ")})
		case len(steps) > 0:
			s := &steps[len(steps)-1]
			s.output = append(s.output, line)
		}
	}
	if len(steps) == 0 {
		t.Fatal("README.md: no console commands in the tour section")
	}
	return steps
}

// TestReadmeTour runs the commands of the README's tour with the real
// binary, from the repository root, and checks that every line of output
// the README shows is printed, in order ("..." stands for lines left out;
// latencies, which vary, match any number). "$ cat FILE" blocks create
// FILE for the commands after them; the demo agent the eval step starts
// runs in-process on the same loopback address.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole tour")
	}
	if _, err := os.Stat("../../shared/data"); err != nil && os.Getenv("PROBITY_SHARED_DATA") == "" {
		if inCI() {
			t.Fatal("the tour reads ../shared/data, which is missing, and CI=true")
		}
		t.Skip("the tour reads ../shared/data")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "probity")); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("..")
	// Files the tour writes ("cat p.yaml", run files) go to a scratch
	// copy of the paths it reads, so the checkout stays clean.
	work := t.TempDir()
	for _, p := range []string{"examples"} {
		if err := os.Symlink(filepath.Join(root, p), filepath.Join(work, p)); err != nil {
			t.Fatal(err)
		}
	}
	shared := os.Getenv("PROBITY_SHARED_DATA")
	if shared == "" {
		shared = filepath.Join(root, "..", "shared", "data")
	}
	os.MkdirAll(filepath.Join(work, "..", "shared"), 0o755)
	if _, err := os.Lstat(filepath.Join(work, "..", "shared", "data")); err != nil {
		if err := os.Symlink(shared, filepath.Join(work, "..", "shared", "data")); err != nil {
			t.Fatal(err)
		}
	}

	tt := t
	for _, s := range parseTour(t, readme) {
		name := s.command
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			for _, sk := range tourSkips {
				if strings.Contains(s.command, sk.pattern) {
					t.Skipf("README.md:%d: %s", s.line, sk.why)
				}
			}
			cmdline := stripComment(s.command)
			if file, ok := strings.CutPrefix(cmdline, "cat "); ok {
				body := strings.Join(s.output, "\n") + "\n"
				if err := os.WriteFile(filepath.Join(work, file), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.HasPrefix(cmdline, "go run ./examples/agent") {
				startTourAgent(t, tt, cmdline)
				return
			}
			if strings.HasSuffix(cmdline, "&") {
				t.Fatalf("README.md:%d: a background command the test does not know: %s", s.line, s.command)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1", "COLUMNS=200")
			out, err := cmd.Output()
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == ExitFindings) {
				t.Fatalf("README.md:%d: %s: %v\n%s", s.line, s.command, err, out)
			}
			if msg := matchTourOutput(s.output, string(out)); msg != "" {
				t.Errorf("README.md:%d: %s: %s\n--- got:\n%s", s.line, s.command, msg, out)
			}
		})
	}
}

// stripComment drops a trailing "# ..." comment (two spaces or more before
// it), as the README uses to explain a command.
func stripComment(s string) string {
	if i := regexp.MustCompile(`\s{2,}#`).FindStringIndex(s); i != nil {
		s = s[:i[0]]
	}
	return strings.TrimSpace(s)
}

// latencyRe matches the numbers of latencies, which differ from run to run.
var latencyRe = regexp.MustCompile(`[0-9]+ms`)

// matchTourOutput checks that want's lines occur in got in order; a line
// "..." (any indentation) allows any lines between. It returns what did
// not match, or "". A README line "..." alone skips lines; see elide for
// the rest.
func matchTourOutput(want []string, got string) string {
	lines := strings.Split(got, "\n")
	i := 0
	gap := false
	for _, w := range want {
		w = strings.TrimRight(w, " ")
		if strings.TrimSpace(w) == "..." {
			gap = true
			continue
		}
		re := regexp.MustCompile("^" + elide(w) + "$")
		found := false
		for ; i < len(lines); i++ {
			if re.MatchString(strings.TrimRight(lines[i], " ")) {
				found = true
				i++
				break
			}
			if !gap && w != "" {
				return "expected line " + quoteLine(w) + ", got " + quoteLine(lines[i])
			}
		}
		if !found {
			return "missing line " + quoteLine(w)
		}
		gap = false
	}
	return ""
}

// elide turns a README output line into a pattern: "..." inside it, and a
// "…" that ends it, stand for text the README leaves out; latencies match
// any number.
func elide(w string) string {
	q := regexp.QuoteMeta(w)
	q = strings.ReplaceAll(q, `\.\.\.`, ".*")
	if strings.HasSuffix(q, "…") {
		q = strings.TrimSuffix(q, "…") + ".*"
	}
	return latencyRe.ReplaceAllString(q, `[0-9]+ms`)
}

func quoteLine(s string) string { return "«" + s + "»" }

// startTourAgent serves the demo agent on the address the README's
// "go run ./examples/agent --listen ADDR &" names, in-process (the same
// code as the example program), until the parent test ends. When the address is taken by a demo agent
// someone else started, that one answers the same way.
func startTourAgent(t, parent *testing.T, cmdline string) {
	f := strings.Fields(strings.TrimSuffix(cmdline, "&"))
	addr := ""
	for i, a := range f {
		if a == "--listen" && i+1 < len(f) {
			addr = f[i+1]
		}
	}
	if addr == "" {
		t.Fatalf("no --listen address in %q", cmdline)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("%s is taken (%v); using the demo agent already there", addr, err)
		return
	}
	srv := &http.Server{Handler: &testagent.Agent{}, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	// It serves the steps after this one: it stops when the tour ends.
	parent.Cleanup(func() { srv.Close() })
}

// TestReadmeCommandsTable checks every row of the README's Commands table
// against the real command: it exists, and every --flag the row shows is
// one the command accepts ("guard report --policy" was shown, and refused).
func TestReadmeCommandsTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rowRe := regexp.MustCompile("(?m)^\\| `probity ([^`]+)`")
	flagRe := regexp.MustCompile(`--[a-z][a-z-]*`)
	rows := rowRe.FindAllSubmatch(readme, -1)
	if len(rows) < 10 {
		t.Fatalf("README.md: %d rows in the Commands table, want the whole table", len(rows))
	}
	root := newRootCmd(&env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	root.InitDefaultHelpCmd()
	for _, m := range rows {
		usage := string(m[1])
		var path []string
		for _, w := range strings.Fields(usage) {
			w = strings.Trim(w, "[],")
			// Stop at the first argument or flag; "a|b|c" names subcommands.
			if !regexp.MustCompile(`^[a-z][a-z-]*(\\\|[a-z][a-z-]*)*$`).MatchString(w) {
				break
			}
			path = append(path, w)
		}
		if len(path) == 0 {
			t.Errorf("README.md: no command in %q", usage)
			continue
		}
		last := strings.Split(path[len(path)-1], `\|`)
		for _, sub := range last {
			args := append(append([]string{}, path[:len(path)-1]...), sub)
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || cmd == root {
				t.Errorf("README.md: %q: no command %q", usage, strings.Join(args, " "))
				continue
			}
			for _, f := range flagRe.FindAllString(usage, -1) {
				name := strings.TrimPrefix(f, "--")
				if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
					t.Errorf("README.md: %q shows %s, which %q does not accept", usage, f, cmd.CommandPath())
				}
			}
		}
	}
}
