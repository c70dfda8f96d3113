package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
)

// collect runs Each and returns the traces and the error.
func collect(t *testing.T, args []string, opt ingest.Options) ([]*probity.Trace, error) {
	t.Helper()
	var out []*probity.Trace
	err := ingest.Each(context.Background(), args, opt, func(tr *probity.Trace) error {
		out = append(out, tr)
		return nil
	})
	return out, err
}

var positionRE = regexp.MustCompile(`(line \d+, column \d+|offset \d+|record \d+)`)

// TestBadCorpus runs every file in testdata/bad through Each with default
// options: each must fail with EINVALID naming the file and a position, and
// never panic or hang.
func TestBadCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*")
	if err != nil || len(files) < 25 {
		t.Fatalf("bad corpus: %d files, %v", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := collect(t, []string{path}, ingest.Options{})
			var fe *ingest.FileErrors
			if !errors.As(err, &fe) || len(fe.Errs) != 1 {
				t.Fatalf("Each(%s) = %v, want a *FileErrors with one error", path, err)
			}
			pe := fe.Errs[0]
			if pe.Code != probity.EINVALID || pe.File != path {
				t.Errorf("error %q: code %q file %q, want %q %q", pe, pe.Code, pe.File, probity.EINVALID, path)
			}
			if path != "testdata/bad/empty.json" && !positionRE.MatchString(pe.Where) {
				t.Errorf("error %q: Where = %q, want a line, offset or record", pe, pe.Where)
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error text %q does not start with the file name", err)
			}
			if got := probity.ErrorCode(err); got != probity.EINVALID {
				t.Errorf("ErrorCode = %q, want %q", got, probity.EINVALID)
			}
		})
	}
}

// TestBadCorpusMessages pins a few messages users will read.
func TestBadCorpusMessages(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"truncated-taubench.json", "record 0, line 4, column 43: unexpected end of input (truncated file?)"},
		{"wrong-type-taubench.json", "record 0, line 2, column 44: reward: want a number, got string"},
		{"invalid-utf8.json", "invalid-utf8.json: line 2, column 35: invalid UTF-8"},
		{"nan.json", "line 1, column 31: malformed JSON: invalid character 'N'"},
		{"deep-nesting.json", "line 1, column 10054: malformed JSON: nesting deeper than 10000"},
		{"binary.json", "offset 0: not JSON (starts with byte 0xa5); known formats: otlp, taubench, whowhen, sweagent, chatlog"},
		{"unknown-shape.json", "JSON of unknown shape"},
		{"chat-bad-line.jsonl", "line 2, column 34: malformed JSON"},
		{"wrong-type-whowhen.json", "line 2, column 13: history: want an array, got object"},
	} {
		path := filepath.Join("testdata", "bad", tc.file)
		_, err := collect(t, []string{path}, ingest.Options{MaxRecordBytes: 100_000})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Each(%s) = %v, want it to contain %q", tc.file, err, tc.want)
		}
	}
}

// TestRecordLimit: a 200 KB string is fine by default and fails under a
// 100 KB record limit, with the position where the limit was crossed.
func TestRecordLimit(t *testing.T) {
	path := "testdata/limits/huge-string.json"
	if got, err := collect(t, []string{path}, ingest.Options{}); err != nil || len(got) != 1 {
		t.Fatalf("default limit: %d traces, %v", len(got), err)
	}
	_, err := collect(t, []string{path}, ingest.Options{MaxRecordBytes: 100_000})
	if got, want := fmt.Sprint(err), path+": line 1, column 100001: record larger than the limit of 100000 bytes"; got != want {
		t.Errorf("100 KB limit: %s, want %s", got, want)
	}
}

// TestGoodAndBad checks that good files are read even when bad ones are
// given with them, and that the failures are listed in input order.
func TestGoodAndBad(t *testing.T) {
	args := []string{"testdata/bad/empty.json", "testdata/good/chat.jsonl", "testdata/nothere.json", "testdata/bad/not-an-object.json", "testdata/good/whowhen-7.json"}
	got, err := collect(t, args, ingest.Options{})
	var ids []string
	for _, tr := range got {
		ids = append(ids, tr.Format+":"+tr.ID)
	}
	want := []string{"chatlog:chat/line-1", "chatlog:chat/line-2", "taubench:task-1", "taubench:task-3", "whowhen:whowhen-7"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("traces differ (-want +got):\n%s", diff)
	}
	var fe *ingest.FileErrors
	if !errors.As(err, &fe) {
		t.Fatalf("Each = %v, want *FileErrors", err)
	}
	var files, codes []string
	for _, e := range fe.Errs {
		files = append(files, e.File)
		codes = append(codes, e.Code)
	}
	if diff := cmp.Diff([]string{"testdata/bad/empty.json", "testdata/nothere.json", "testdata/bad/not-an-object.json"}, files); diff != "" {
		t.Errorf("failed files differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{probity.EINVALID, probity.ENOTFOUND, probity.EINVALID}, codes); diff != "" {
		t.Errorf("codes differ (-want +got):\n%s", diff)
	}
	if fe.Inputs != 5 || !strings.HasPrefix(fe.Error(), "3 of 5 inputs failed:") {
		t.Errorf("FileErrors = %q (inputs %d)", fe, fe.Inputs)
	}
}

func TestFnErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := ingest.Each(context.Background(), []string{"testdata/good"}, ingest.Options{}, func(*probity.Trace) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("Each = %v after %d traces, want %v after 1", err, n, stop)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.json", "b/c.jsonl", "b/d.traj.json", "b/notes.txt", ".hidden/e.json", "b/.f.json", "g.ndjson"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ingest.Expand([]string{dir, filepath.Join(dir, "b", "notes.txt"), filepath.Join(dir, "*.json"), "-", filepath.Join(dir, "zz*.json")})
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], dir+string(filepath.Separator))
	}
	want := []string{"a.json", "b/c.jsonl", "b/d.traj.json", "g.ndjson", "b/notes.txt", "-"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Expand differs (-want +got):\n%s", diff)
	}
	var fe *ingest.FileErrors
	if !errors.As(err, &fe) || len(fe.Errs) != 1 || fe.Errs[0].Code != probity.ENOTFOUND || !strings.Contains(fe.Errs[0].Error(), "no file matches") {
		t.Errorf("Expand error = %v, want one ENOTFOUND for the empty glob", err)
	}
}

// TestDirectorySkipsUnknown: files of unknown JSON shape found by walking a
// directory are skipped with a warning; named explicitly they are errors.
func TestDirectorySkipsUnknown(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"name": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(`[{"role": "user", "content": "hi"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	got, err := collect(t, []string{dir}, ingest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil || len(got) != 1 || got[0].ID != "run" {
		t.Errorf("Each(dir) = %d traces, %v; want the one chat log", len(got), err)
	}
	if want := "msg=\"skipping file of unknown format\" component=ingest file=" + filepath.Join(dir, "config.json"); !strings.Contains(logs.String(), want) {
		t.Errorf("log = %q, want it to contain %q", logs.String(), want)
	}
	if _, err := collect(t, []string{filepath.Join(dir, "config.json")}, ingest.Options{}); err == nil {
		t.Errorf("Each(config.json) = nil, want an unknown-format error")
	}
}

func TestForcedFormat(t *testing.T) {
	// A τ-bench traj on its own is a chat log; forcing taubench must fail
	// with a clear message, and an unknown name must list the formats.
	_, err := collect(t, []string{"testdata/good/chat.jsonl"}, ingest.Options{Format: "whowhen"})
	if err == nil || !strings.Contains(err.Error(), "testdata/good/chat.jsonl") {
		t.Errorf("forced whowhen on a chat log = %v, want an error naming the file", err)
	}
	_, err = collect(t, []string{"testdata/good/chat.jsonl"}, ingest.Options{Format: "csv"})
	if got, want := probity.ErrorCode(err), probity.EINVALID; got != want || !strings.Contains(err.Error(), `unknown format "csv" (known formats: otlp, taubench, whowhen, sweagent, chatlog)`) {
		t.Errorf("Format csv = %v (%s), want EINVALID listing the formats", err, got)
	}
	if got, err := collect(t, []string{"testdata/good/chat.jsonl"}, ingest.Options{Format: "OpenAI"}); err != nil || len(got) != 2 {
		t.Errorf("Format OpenAI (alias of chatlog) = %d traces, %v", len(got), err)
	}
	if got := ingest.Formats(); !slices.Contains(got, "otlp") || len(got) != 5 {
		t.Errorf("Formats() = %v", got)
	}
}

// TestGzip reads a gzip-compressed chat log, by name in a directory walk,
// and reports a corrupt one.
func TestGzip(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/good/chat.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "chat.jsonl.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, []string{dir}, ingest.Options{})
	if err != nil || len(got) != 2 || got[0].ID != "chat/line-1" {
		var ids []string
		for _, tr := range got {
			ids = append(ids, tr.ID)
		}
		t.Errorf("Each(gzip dir) = %v, %v; want the two conversations", ids, err)
	}
	bad := filepath.Join(dir, "bad.json.gz")
	if err := os.WriteFile(bad, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, []string{bad}, ingest.Options{}); err == nil || probity.ErrorCode(err) != probity.EINVALID || !strings.Contains(err.Error(), bad) {
		t.Errorf("truncated gzip = %v, want EINVALID naming the file", err)
	}
}

func TestStdin(t *testing.T) {
	in := "{\"role\": \"user\", \"content\": \"a\"}\n{\"role\": \"assistant\", \"content\": \"b\"}\n"
	got, err := collect(t, []string{"-"}, ingest.Options{Stdin: strings.NewReader(in)})
	if err != nil || len(got) != 1 || got[0].Source != "<stdin>" || len(got[0].Steps) != 2 {
		t.Fatalf("Each(-) = %v, %v", got, err)
	}
	// Unseekable input reports offsets rather than lines.
	_, err = collect(t, []string{"-"}, ingest.Options{Stdin: io.MultiReader(strings.NewReader(`[{"task_id": 1, "traj": [}]`))})
	if err == nil || !strings.HasPrefix(err.Error(), "<stdin>: record 0, line 1, column 26: malformed JSON: invalid character '}'") {
		t.Errorf("Each(bad stdin) = %v", err)
	}
}

// endless returns a reader that never ends.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

// repeat returns s over and over, forever.
func repeat(s string) io.Reader { return &repeater{s: s} }

type repeater struct {
	s string
	i int
}

func (r *repeater) Read(p []byte) (int, error) {
	for n := range p {
		p[n] = r.s[r.i]
		r.i = (r.i + 1) % len(r.s)
	}
	return len(p), nil
}

// prefixed is an endless reader after a prefix.
func prefixed(prefix string, b byte) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), endless{b})
}

// TestEndlessInput checks that inputs that never end fail quickly with
// bounded memory: endless whitespace, an endless array, an endless string.
func TestEndlessInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		r      io.Reader
		want   string
	}{
		{"whitespace", "", prefixed("", ' '), "only whitespace"},
		{"whitespace forced", "taubench", prefixed("", '\n'), "whitespace run longer than 1048576 bytes"},
		{"whitespace after a record", "taubench", prefixed(`[{"task_id": 1, "traj": []}, `, ' '), "whitespace run longer than"},
		{"brackets", "", prefixed("", '['), "unknown shape"},
		{"brackets forced", "chatlog", prefixed("", '['), "nesting deeper than 10000"},
		{"string", "", prefixed(`{"messages": [{"role": "user", "content": "`, 'a'), "record larger than the limit of 4000000 bytes"},
		{"zeros", "", prefixed("", 0), "not JSON (starts with byte 0x00)"},
		{"messages", "", repeat("{\"role\": \"user\", \"content\": \"more\"}\n"), "one conversation of single messages"},
		{"message values", "", repeat(`{"role": "user", "content": "more"} `), "one conversation of single messages"},
		{"message list", "", io.MultiReader(strings.NewReader("["), repeat(`{"role": "user", "content": "more"}, `)), "one conversation of single messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := collect(t, []string{"-"}, ingest.Options{Format: tc.format, Stdin: tc.r, MaxRecordBytes: 4_000_000})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || probity.ErrorCode(err) != probity.EINVALID {
					t.Errorf("Each = %v, want EINVALID containing %q", err, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Each hangs on endless input")
			}
		})
	}
}

// TestDevices reads real devices that never end.
func TestDevices(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /dev/zero and /dev/urandom")
	}
	for _, dev := range []string{"/dev/zero", "/dev/urandom"} {
		for _, format := range []string{"", "taubench", "chatlog", "whowhen"} {
			done := make(chan error, 1)
			go func() {
				_, err := collect(t, []string{dev}, ingest.Options{Format: format})
				done <- err
			}()
			select {
			case err := <-done:
				var fe *ingest.FileErrors
				if !errors.As(err, &fe) || fe.Errs[0].File != dev || fe.Errs[0].Code != probity.EINVALID {
					t.Errorf("Each(%s, format %q) = %v, want EINVALID naming the device", dev, format, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Each(%s, format %q) hangs", dev, format)
			}
		}
	}
}

// TestFIFO reads from a named pipe whose writer sends a good run and then
// stalls-free garbage, and one that closes after a partial record.
func TestFIFO(t *testing.T) {
	t.Run("silent writer", testSilentFIFO)
	if runtime.GOOS != "linux" {
		t.Skip("mkfifo")
	}
	path := filepath.Join(t.TempDir(), "pipe.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		io.WriteString(f, `[{"task_id": 1, "trial": 0, "traj": [{"role": "user", "content": "hi"}]}, {"task_id": 2, "tr`)
	}()
	got, err := collect(t, []string{path}, ingest.Options{})
	if len(got) != 1 || err == nil || !strings.Contains(err.Error(), "record 1, line 1, column 93: unexpected end of input") {
		t.Errorf("Each(fifo) = %d traces, %v; want 1 trace and a truncation error at the end", len(got), err)
	}
}

// TestRealData imports the whole shared data folder through directory
// expansion and checks the per-format counts against the sources.
func TestRealData(t *testing.T) {
	dir := shareddata.Dir(t)
	got := map[string]int{}
	err := ingest.Each(context.Background(), []string{dir}, ingest.Options{}, func(tr *probity.Trace) error {
		got[tr.Format]++
		return nil
	})
	if err != nil {
		t.Fatalf("Each(%s): %v", dir, err)
	}
	want := map[string]int{"taubench": 200 + 51, "whowhen": 126, "sweagent": 99}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("traces per format differ (-want +got):\n%s", diff)
	}
}

func TestReadAll(t *testing.T) {
	got, err := ingest.ReadAll(context.Background(), "testdata/good/whowhen-7.json", ingest.Options{})
	if err != nil || len(got) != 1 || got[0].Labels.MistakeStep == nil || *got[0].Labels.MistakeStep != 1 {
		t.Fatalf("ReadAll = %v, %v", got, err)
	}
	_, err = ingest.ReadAll(context.Background(), "testdata/bad/nan.json", ingest.Options{})
	var pe *probity.Error
	if !errors.As(err, &pe) || pe.File != "testdata/bad/nan.json" {
		t.Errorf("ReadAll(bad) = %v, want a *probity.Error for the file", err)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct{ head, want string }{
		{`[{"task_id": 1, "reward": 1, "traj": []}]`, "taubench"},
		{`{"question": "q", "history": []}`, "whowhen"},
		{`{"info": {"exit_status": "Submitted", "submission": ""}, "messages": []}`, "sweagent"},
		{`{"messages": [{"role": "user"}]}`, "chatlog"},
		{`[{"role": "user", "content": "x"}]`, "chatlog"},
		{`{"x": 1}`, ""},
	} {
		if got := ingest.Detect([]byte(tc.head)); got != tc.want {
			t.Errorf("Detect(%q) = %q, want %q", tc.head, got, tc.want)
		}
	}
}

// testSilentFIFO: a pipe whose writer never writes blocks reads forever;
// cancelling the context must still end Each.
func testSilentFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	w := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil {
			w <- f // hold it open, write nothing
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- ingest.Each(ctx, []string{path}, ingest.Options{}, func(*probity.Trace) error { return nil })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Each on a silent pipe = %v, want %v", err, context.DeadlineExceeded)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Each ignores cancellation while blocked on a pipe")
	}
	select {
	case f := <-w:
		f.Close()
	default:
	}
}
