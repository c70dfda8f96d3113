package eval

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTPTargetRefusesCrossOriginRedirect: a target that redirects to
// another origin (here another port: another server) must not receive the
// suite's credential header or the case's expected answer there. A redirect
// within the origin is followed as before.
func TestHTTPTargetRefusesCrossOriginRedirect(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		leaked = append(leaked, r.Header.Get("X-Api-Key")+" "+string(b))
		mu.Unlock()
		w.Write([]byte(`{"output": {"answer": "ok"}}`))
	}))
	defer other.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away": // 307 keeps the method and resends the body
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, "/agent", http.StatusTemporaryRedirect)
		case "/agent":
			b, _ := io.ReadAll(r.Body)
			if r.Header.Get("X-Api-Key") != "k-123" || !strings.Contains(string(b), "sekrit-answer") {
				http.Error(w, "lost the key or the body on the way", http.StatusBadRequest)
				return
			}
			w.Write([]byte(`{"output": {"answer": "ok"}}`))
		}
	}))
	defer target.Close()
	t.Setenv("PROBITY_TEST_KEY", "k-123")
	for _, tt := range []struct {
		path      string
		wantError string // "" for a passing trial
	}{
		{"/away", "redirected to http://127.0.0.1:"},
		{"/moved", ""},
	} {
		t.Run(tt.path, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"s.yaml": `name: redirect
trials: 1
target: {http: {url: '` + target.URL + tt.path + `', headers: {X-Api-Key: '${PROBITY_TEST_KEY}'}}}
cases: [{id: a, input: {q: 1}, expected: {answer: sekrit-answer}}]
assert: [{type: equals, path: $.answer, value: ok}]
`})
			run, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
			tr := run.Trials[0]
			switch {
			case tt.wantError == "" && (tr.Error != nil || tr.Status != StatusPass):
				t.Errorf("same-origin redirect: status %s, error %+v; want a pass", tr.Status, tr.Error)
			case tt.wantError != "" && (tr.Error == nil || !strings.Contains(tr.Error.Message, tt.wantError) || !strings.Contains(tr.Error.Message, "not followed")):
				t.Errorf("cross-origin redirect: error %+v, want one saying it was %q... and not followed", tr.Error, tt.wantError)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the other origin received %q; want nothing", leaked)
	}
}

// TestHTTPReplyOverSizeLimit: a reply larger than the limit is reported as
// such, not as "not JSON".
func TestHTTPReplyOverSizeLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Valid JSON, one string longer than the limit.
		w.Write([]byte(`{"output": "`))
		chunk := []byte(strings.Repeat("a", 1<<20))
		for range maxReply>>20 + 1 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"}`))
	}))
	defer srv.Close()
	dir := writeFiles(t, map[string]string{"s.yaml": "name: big\ntrials: 1\ntarget: {http: {url: '" + srv.URL + "'}}\ncases: [{id: a, input: {}}]\nassert: [{type: equals, path: $, value: x}]\n"})
	run, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	e := run.Trials[0].Error
	if e == nil || !strings.Contains(e.Message, "over the size limit of 32 MiB") || strings.Contains(e.Message, "not JSON") {
		t.Errorf("error = %+v, want one saying the reply is over the size limit of 32 MiB", e)
	}
}

// TestExecTargetLeavesNoProcesses: the trial's timeout kills the whole
// process tree of an exec target, not only the direct child, and a command
// that returns while a child it started still runs does not leave it
// running either.
func TestExecTargetLeavesNoProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("process groups are a Unix feature")
	}
	for _, tt := range []struct {
		name   string
		script string
	}{
		// The shell waits on its grandchild; the trial times out.
		{"timeout", `sleep 60 & echo $! > "$PIDFILE"; wait`},
		// The shell answers at once and leaves a background child behind.
		{"returns", `(sleep 60 </dev/null >/dev/null 2>&1 & echo $! > "$PIDFILE"); echo '{"output": "ok"}'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pid")
			writeFile(t, filepath.Join(dir, "s.yaml"), fmt.Sprintf(`name: tree
trials: 1
target: {exec: {command: [sh, -c, %q], env: {PIDFILE: %q}}}
timeout: 500ms
cases: [{id: a, input: {}}]
assert: [{type: equals, path: $, value: ok}]
`, tt.script, pidfile))
			runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatalf("the target did not start its child: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for alive(pid) {
				if time.Now().After(deadline) {
					syscallKill(pid)
					t.Fatalf("process %d started by the target still runs after its trial ended", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
