package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/jsonx"
	"github.com/probity/probity/internal/shareddata"
)

// TestDetectEverySharedFile runs detection on every file of ../shared/data:
// each known dataset is read by its importer, everything else (labels,
// reports, YAML cassettes, licences) is rejected with an error naming the
// file, never misread as another format.
func TestDetectEverySharedFile(t *testing.T) {
	dir := shareddata.Dir(t)
	want := func(rel string) string {
		switch {
		case rel == "tau-bench/gpt-4o-airline.json", rel == "agentrx-tau-retail/trajectories.json":
			return "taubench"
		case strings.HasPrefix(rel, "who-and-when/") && strings.HasSuffix(rel, ".json"):
			return "whowhen"
		case strings.HasPrefix(rel, "swebench-gemini3pro/trajs/") && strings.HasSuffix(rel, ".traj.json"):
			return "sweagent"
		}
		return ""
	}
	counts := map[string]int{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		w := want(rel)
		// Only the format is checked here: reading the first trace is
		// enough, so the large YAML and trajectory sets stay fast.
		var got string
		errStop := fmt.Errorf("stop")
		err = ingest.Each(context.Background(), []string{p}, ingest.Options{}, func(tr *probity.Trace) error {
			got = tr.Format
			return errStop
		})
		if w == "" {
			if err == nil || err == errStop || probity.ErrorCode(err) != probity.EINVALID || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: read as %q (err %v), want EINVALID naming the file", rel, got, err)
			}
			return nil
		}
		if got != w {
			t.Errorf("%s: format %q (err %v), want %q", rel, got, err, w)
		}
		counts[w]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Counted from the files: 126 Who&When logs, 99 trajectories (102 folders).
	if counts["whowhen"] != 126 || counts["sweagent"] != 99 || counts["taubench"] != 2 {
		t.Errorf("files per format = %v, want whowhen 126, sweagent 99, taubench 2", counts)
	}
}

// bigArray is a JSON array of about n bytes of chat turns: the shape that
// used to push identifying keys out of the detection window.
func bigArray(n int) string {
	var b strings.Builder
	b.WriteString("[")
	turn := `{"role": "assistant", "name": "WebSurfer", "content": "` + strings.Repeat("x", 1000) + `"}`
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(turn)
	}
	b.WriteString("]")
	return b.String()
}

// TestDetectKeysAfterTenMegabytes writes files whose identifying keys come
// after a 10 MB array and reads them from a regular file, from a pipe-like
// stdin and through gzip: each is detected and fully imported.
func TestDetectKeysAfterTenMegabytes(t *testing.T) {
	arr := bigArray(10 << 20)
	cases := []struct {
		name, body, want string
		steps            int
	}{
		{"whowhen", `{"history": ` + arr + `, "question": "q?", "ground_truth": "42", "is_correct": false, "mistake_agent": "WebSurfer", "mistake_step": "3"}`, "whowhen", strings.Count(arr, `"role"`)},
		{"taubench", `[{"traj": [{"role": "user", "content": "hi"}], "info": {"padding": ` + arr + `}, "task_id": 7, "reward": 0.0, "trial": 0}]`, "taubench", 1},
		{"sweagent", `{"messages": ` + strings.ReplaceAll(arr, `"name": "WebSurfer", `, "") + `, "info": {"exit_status": "Submitted", "submission": ""}}`, "sweagent", -1},
		{"chatlog", `{"metadata": {"log": ` + arr + `}, "messages": [{"role": "user", "content": "hi"}]}`, "chatlog", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name+".json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write([]byte(tc.body))
			zw.Close()
			gzPath := path + ".gz"
			if err := os.WriteFile(gzPath, gz.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, gzPath} {
				if got, err := ingest.DetectFile(p, 0); got != tc.want || err != nil {
					t.Errorf("DetectFile(%s) = %q, %v; want %q", filepath.Base(p), got, err, tc.want)
				}
			}
			for _, in := range []struct {
				arg   string
				stdin []byte
			}{{path, nil}, {"-", []byte(tc.body)}, {gzPath, nil}} {
				opt := ingest.Options{}
				if in.stdin != nil {
					// A bytes.Reader is not an *os.File: the pipe path,
					// where detection's bytes are replayed.
					opt.Stdin = bytes.NewReader(in.stdin)
				}
				got, err := collect(t, []string{in.arg}, opt)
				if err != nil || len(got) != 1 {
					t.Fatalf("%s: %d traces, err %v; want one trace", in.arg, len(got), err)
				}
				if got[0].Format != tc.want {
					t.Errorf("%s: format %q, want %q", in.arg, got[0].Format, tc.want)
				}
				if tc.steps >= 0 && len(got[0].Steps) < tc.steps {
					t.Errorf("%s: %d steps, want at least %d (the whole record replayed)", in.arg, len(got[0].Steps), tc.steps)
				}
			}
		})
	}
	// OTLP: detection only (a padded export is not a valid OTLP file).
	s, err := jsonx.ReadShape(strings.NewReader(`{"padding": `+arr+`, "resourceSpans": []}`), 0)
	if err != nil || ingest.DetectShape(s) != "otlp" {
		t.Errorf("DetectShape(padded OTLP) = %q (err %v), want otlp", ingest.DetectShape(s), err)
	}
}

// TestReadShape checks the key paths and the bounds of a Shape.
func TestReadShape(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"a": 1, "b": {"c": [{"d": "x\"}"}, {"e": 2}]}, "f": "\\"}`, `object {a, b, b.c, b.c[].d, f}`},
		{`[{"task_id": 1, "traj": [{"role": "user"}]}, {"other": 1}]`, `array {task_id, traj, traj[].role}`},
		{"{\"role\": \"user\"}\n{\"role\": \"assistant\"}\n", `JSON Lines {role}`},
		{`[]`, `array {}`},
		{`{"a": {"b": {"c": {"deep": 1}}}}`, `object {a, a.b, a.b.c}`},
	} {
		s, err := jsonx.ReadShape(strings.NewReader(tc.in), 0)
		if err != nil || s.String() != tc.want || !s.Complete {
			t.Errorf("ReadShape(%q) = %v (complete %v), %v; want %s", tc.in, s, s.Complete, err, tc.want)
		}
	}
	// A head cut inside the history shows what it has and says so.
	s := jsonx.ShapeOf([]byte(`{"history": [{"role": "user", "content": "abc`))
	if s.Complete || s.String() != `object {history, history[].role, history[].content}` {
		t.Errorf("ShapeOf(truncated) = %v (complete %v)", s, s.Complete)
	}
	for _, bad := range []string{`{"a" 1}`, `{"a": 1 "b": 2}`, `[{"a": 1`, strings.Repeat("[", 20000)} {
		if _, err := jsonx.ReadShape(strings.NewReader(bad), 0); err == nil {
			t.Errorf("ReadShape(%.20q) = nil error, want a syntax error", bad)
		}
	}
}

// FuzzReadShape: any input yields a Shape or an error within the limits,
// never a panic, and a complete Shape only for input that starts a value.
func FuzzReadShape(f *testing.F) {
	for _, s := range []string{`{"a": [1, {"b": "c\\\""}]}`, `[{"task_id": 1}]`, "{}\n{}", `"x"`, `{"k": tru`, "\xef\xbb\xbf{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := jsonx.ReadShape(bytes.NewReader(b), 1<<20)
		if len(s.Keys) > jsonx.ShapeMaxKeys {
			t.Fatalf("%d keys, over the limit", len(s.Keys))
		}
		for _, k := range s.Keys {
			if len(k) > (jsonx.ShapeMaxKeyBytes+3)*jsonx.ShapeDepth {
				t.Fatalf("key path of %d bytes", len(k))
			}
		}
		if err == nil && s.Kind != 0 && !s.Complete {
			t.Fatalf("no error but incomplete shape %v", s)
		}
	})
}
