package cassette_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/proxy/cassette"
	"github.com/probity/probity/proxy/vcr"
)

func TestRoundTrip(t *testing.T) {
	c := cassette.New("r1", "https://api.openai.com", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c.Interactions = append(c.Interactions, cassette.Interaction{Seq: 0,
		Request:  cassette.Request{Method: "POST", Path: "/v1/chat/completions", Body: cassette.NewBody([]byte(`{"a":1}`))},
		Response: &cassette.Response{Status: 200, Body: cassette.NewBody([]byte{0x1f, 0x8b, 0, 1}), Stream: true}})
	b, err := cassette.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cassette.Decode(b, "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	raw, _ := got.Interactions[0].Response.Body.Bytes()
	if !bytes.Equal(raw, []byte{0x1f, 0x8b, 0, 1}) {
		t.Errorf("binary body = %v, want it back exactly", raw)
	}
}

func TestBadCassettes(t *testing.T) {
	cases := []struct{ in, where, msg string }{
		{`{"format":"probity-cassette","version":1,"interactions":[`, "", "cut short"},
		{`{"format":"probity-cassette","version":1,"interactions":[}`, "offset 58", "malformed"},
		{`{"format":"other","version":1}`, "", "not a Probity cassette"},
		{`{"format":"probity-cassette","version":9}`, "", "version 9 is not supported"},
		{`{"format":"probity-cassette","version":1,"interactions":[{"request":{"method":"POST","path":"x"}}]}`, "interaction 0", "path starting with /"},
		{`{"format":"probity-cassette","version":1,"interactions":[{"request":{"method":"POST","path":"/x"},"response":{"status":7}}]}`, "interaction 0", "not an HTTP status"},
		{`{"format":"probity-cassette","version":1,"interactions":[{"request":{"method":"POST","path":"/x","body":{"base64":"!!"}}}]}`, "interaction 0", "bad base64"},
		{`{"format":"probity-cassette","version":"1"}`, "offset 42", "wrong type"},
	}
	for _, tc := range cases {
		_, err := cassette.Decode([]byte(tc.in), "bad.json")
		var pe *probity.Error
		if !errors.As(err, &pe) || pe.Code != probity.EINVALID || pe.File != "bad.json" || pe.Where != tc.where || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Decode(%s) = %v (where %q), want EINVALID in bad.json at %q containing %q", tc.in, err, where(pe), tc.where, tc.msg)
		}
	}
}

func where(e *probity.Error) string {
	if e == nil {
		return ""
	}
	return e.Where
}

// FuzzRead feeds the cassette reader mutations of real cassettes (vcrpy
// recordings converted to Probity's format): it must return a cassette or
// an EINVALID error, never panic, and what it returns must survive a
// round trip.
func FuzzRead(f *testing.F) {
	if dir, err := shareddata.Find(); err == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "cassettes/openllmetry/packages/opentelemetry-instrumentation-*/tests/cassettes/test_messages/*tools*.yaml"))
		more, _ := filepath.Glob(filepath.Join(dir, "cassettes/openllmetry/packages/opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/*.yaml"))
		for _, p := range append(files, more...) {
			if c, err := vcr.ReadFile(p); err == nil {
				// Real structure, small size: the fuzzer minimises every
				// new input byte by byte, which stalls on big ones.
				c.Interactions = c.Interactions[:min(1, len(c.Interactions))]
				for i := range c.Interactions {
					in := &c.Interactions[i]
					in.Request.Header, in.Response.Header = nil, http.Header{"Content-Type": in.Response.Header["Content-Type"]}
					in.Request.Body.Text = trim(in.Request.Body.Text)
					in.Response.Body.Text = trim(in.Response.Body.Text)
				}
				b, _ := cassette.Marshal(c)
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"format":"probity-cassette","version":1,"run":"r","interactions":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := cassette.Read(bytes.NewReader(data), "fuzz.json")
		// The lazy index reads the same file: it must refuse with a
		// clear error too, or agree with Read on every interaction.
		name := filepath.Join(t.TempDir(), "fuzz.json")
		os.WriteFile(name, data, 0o600)
		ix, ierr := cassette.OpenIndex(name)
		if ierr != nil && probity.ErrorCode(ierr) != probity.EINVALID {
			t.Fatalf("OpenIndex error %v has code %s, want EINVALID", ierr, probity.ErrorCode(ierr))
		}
		if err != nil {
			if probity.ErrorCode(err) != probity.EINVALID {
				t.Fatalf("error %v has code %s, want EINVALID", err, probity.ErrorCode(err))
			}
			return
		}
		if ierr != nil {
			t.Fatalf("Read accepts what OpenIndex refuses: %v", ierr)
		}
		if ix.Len() != len(c.Interactions) || ix.Head.Run != c.Run {
			t.Fatalf("index has %d interactions of run %q, Read %d of %q", ix.Len(), ix.Head.Run, len(c.Interactions), c.Run)
		}
		for i := range ix.Len() {
			in, err := ix.Interaction(i)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.Interactions[i], in); diff != "" {
				t.Fatalf("interaction %d differs (-Read +index):\n%s", i, diff)
			}
		}
		b, err := cassette.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cassette.Decode(b, "again.json"); err != nil {
			t.Fatalf("re-reading a written cassette: %v", err)
		}
	})
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}

// FuzzVCR does the same for the vcrpy reader.
func FuzzVCR(f *testing.F) {
	if dir, err := shareddata.Find(); err == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "cassettes/openllmetry/packages/opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/*tools*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("interactions:\n- request: {method: POST, uri: 'http://x/y', body: null}\n  response: {status: {code: 200}, body: {string: ''}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := vcr.Decode(data, "fuzz.yaml"); err != nil && probity.ErrorCode(err) != probity.EINVALID {
			t.Fatalf("error %v has code %s, want EINVALID", err, probity.ErrorCode(err))
		}
	})
}

// TestWriteStream checks that a cassette streamed from encoded
// interactions is byte for byte what Marshal writes.
func TestWriteStream(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		c := cassette.New("r1", "https://api.example.com", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		for i := range n {
			c.Interactions = append(c.Interactions, cassette.Interaction{Seq: i, DurationMS: 1.5,
				Request:  cassette.Request{Method: "POST", Path: "/v1/x", Body: cassette.NewBody([]byte(`{"a":"<b>&"}`))},
				Response: &cassette.Response{Status: 200, Body: cassette.NewBody([]byte{0, 1, 2})}})
		}
		want, err := cassette.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		err = cassette.WriteStream(&buf, c, n, func(i int, w io.Writer) error {
			b, err := cassette.EncodeInteraction(c.Interactions[i])
			if err == nil {
				_, err = w.Write(b)
			}
			return err
		})
		if err != nil || buf.String() != string(want) {
			t.Errorf("WriteStream with %d interactions = %v\n%s\nwant\n%s", n, err, buf.String(), want)
		}
	}
}
