package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets check the parsers never panic and that whatever they
// accept is well-formed. Seeds are the real example suites and datasets.

func addFiles(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		paths, _ := filepath.Glob(p)
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err == nil {
				f.Add(b)
			}
		}
	}
}

func FuzzParseSuite(f *testing.F) {
	addFiles(f, "../examples/eval/*.yaml", "testdata/suites/*.yaml")
	f.Add([]byte(minimalSuite))
	f.Add([]byte("name: x\ntarget: {http: {url: 'http://a'}}\ncases: [{id: 1}]\nassert: [{type: sequence, tools: []}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSuite("fuzz.yaml", data)
		if err != nil {
			return
		}
		if s.Trials < 1 || s.Concurrency < 1 || s.Timeout <= 0 || len(s.Assert) == 0 {
			t.Fatalf("accepted suite with trials %d, concurrency %d, timeout %v, %d assertions", s.Trials, s.Concurrency, s.Timeout, len(s.Assert))
		}
		// Compiling what was accepted must not panic either.
		CompileAssertions(s, Options{})
	})
}

func FuzzDatasetJSONL(f *testing.F) {
	addFiles(f, "../examples/eval/*.jsonl")
	f.Add([]byte(`{"id": 1, "input": null, "tags": "a b"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cases, err := parseJSONL("fuzz.jsonl", data)
		if err != nil {
			return
		}
		for _, c := range cases {
			if c.ID == "" {
				t.Fatal("accepted a case without an id")
			}
		}
	})
}

func FuzzDatasetCSV(f *testing.F) {
	f.Add([]byte("id,input,expected,tags\na,\"{\"\"q\"\": 1}\",x,\"t1,t2\"\n"))
	f.Add([]byte("id\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseCSV("fuzz.csv", data)
	})
}

func FuzzReadRun(f *testing.F) {
	addFiles(f, "../cli/testdata/script/eval_resume.txtar")
	f.Add([]byte(`{"type":"run","version":1,"suite":"s","trials":2,"stop":{"mode":"fixed"},"gate":{},"cases":[{"id":"a"}]}` + "\n" +
		`{"type":"trial","case":"a","trial":0,"status":"pass"}` + "\n" + `{"type":"stop","case":"a","decision":"pass","trials":1}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := decodeRun("fuzz.jsonl", bytes.NewReader(data), true)
		if err != nil {
			return
		}
		if run.ValidSize > int64(len(data)) {
			t.Fatalf("ValidSize %d beyond %d bytes", run.ValidSize, len(data))
		}
		// Whatever was read must summarise and compare without panicking.
		s := Summarize(run, run)
		if s.Suite.Trials+s.Suite.Errors != len(run.Trials) {
			t.Fatalf("summary counts %d+%d trials of %d", s.Suite.Trials, s.Suite.Errors, len(run.Trials))
		}
		Compare(run, run, CompareOptions{})
	})
}

func FuzzParseReply(f *testing.F) {
	f.Add([]byte(traceJSON))
	f.Add([]byte(`{"output": 1, "trace": {"steps": [{"kind": "user", "content": "x"}]}}`))
	f.Add([]byte(`{"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{"}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := parseReply(data, ResponseSpec{})
		if err != nil {
			return
		}
		if o.Trace != nil {
			for _, s := range o.Trace.Steps {
				if !s.Kind.Valid() {
					t.Fatalf("invalid kind %q accepted", s.Kind)
				}
			}
		}
	})
}

func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"$", "$.a.b", "$.items[*].id", "$['a b'][0]", "a.b", "$.a[-1]", "$[", "$..a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseJSONPath(s)
		if err != nil {
			return
		}
		p.get(map[string]any{"a": []any{1.0, map[string]any{"b": "x"}}, "items": []any{map[string]any{"id": 1.0}}})
	})
}
