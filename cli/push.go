package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/otlp"
)

// pushBatchBytes is the size of one upload: well under the server's
// request limit.
const pushBatchBytes = 4 << 20

func newPushCmd(e *env) *cobra.Command {
	var serverURL, tokenFile, from, format string
	cmd := &cobra.Command{
		Use:   "push FILES...",
		Short: "Upload traces of any format (and eval run files) to probity serve",
		Long: `Push reads traces in any format Probity knows (as analyze does: files,
directories, globs) and uploads them to a running "probity serve", which stores
and analyses them like traces its OTLP receivers get. Each trace is sent as
OTLP protobuf (the form "probity convert" writes), so the server restores it
exactly: same steps, labels and source positions. Pushing a file again stores
nothing twice.

Eval run files (the JSON Lines "probity eval run" writes) are uploaded whole to
/api/v1/eval-runs and kept for the UI; their trials feed the eval pass-rate
monitors (once per file: pushing it again counts nothing).

Uploads are retried when the server answers 429 or 503. Results go to stdout,
one line per file. Exit status: 0 when everything was stored, 2 when a file
could not be read or the server refused something.`,
		Example: `  probity push examples/
  probity push --server http://probity.internal:7700 --token-file token.txt runs/*.json
  probity push .probity/runs/suite-20260301.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			p := &pusher{e: e, base: strings.TrimSuffix(serverURL, "/"), from: from, format: format, client: &http.Client{Timeout: 2 * time.Minute}}
			if tokenFile != "" {
				tok, err := readToken(tokenFile)
				if err != nil {
					return withExit(ExitUsage, err)
				}
				p.token = tok
			}
			return p.run(args)
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", "http://"+defaultServeAddr, "URL of probity serve's API")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file whose first token is sent as the bearer token (needs the ingest scope)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json (one object per file per line)")
	addFromFlag(cmd, &from)
	return cmd
}

// readToken reads the first token of a token file (the server's format:
// "TOKEN SCOPES" lines; a file holding only the token works too).
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &probity.Error{Code: probity.EINVALID, File: path, Message: "read token file", Err: err}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return strings.Fields(line)[0], nil
	}
	return "", &probity.Error{Code: probity.EINVALID, File: path, Message: "no token in the file"}
}

type pusher struct {
	e *env
	// ctx, when set, bounds requests instead of the command's context:
	// proxy --report-to sends its last traces after Ctrl-C.
	ctx    context.Context
	base   string
	token  string
	from   string
	format string
	client *http.Client
}

// pushResult is one line of push's output.
type pushResult struct {
	File    string `json:"file"`
	Kind    string `json:"kind"` // traces or eval-run
	Traces  int    `json:"traces,omitempty"`
	Spans   int    `json:"spans,omitempty"`
	EvalRun string `json:"eval_run,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (p *pusher) run(args []string) error {
	var failed []error
	for _, arg := range args {
		walked := false
		if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
			walked = true
		}
		paths, err := ingest.Expand([]string{arg})
		if err != nil {
			failed = append(failed, err)
		}
		for _, path := range paths {
			if err := p.e.ctx.Err(); err != nil {
				return err
			}
			res, err := p.pushFile(path, walked)
			if res == nil {
				continue
			}
			if err != nil {
				res.Error = err.Error()
				failed = append(failed, err)
			}
			p.print(res)
		}
	}
	if len(failed) > 0 {
		return withExit(ExitUsage, errors.Join(failed...))
	}
	return nil
}

func (p *pusher) print(r *pushResult) {
	if p.format == "json" {
		writeJSONLine(p.e.stdout, r)
		return
	}
	switch {
	case r.Error != "":
		fmt.Fprintf(p.e.stdout, "%s: failed: %s\n", r.File, r.Error)
	case r.Kind == "eval-run":
		fmt.Fprintf(p.e.stdout, "%s: eval run %s\n", r.File, r.EvalRun)
	default:
		fmt.Fprintf(p.e.stdout, "%s: %d traces, %d spans\n", r.File, r.Traces, r.Spans)
	}
}

// pushFile uploads one file. A file found by walking a directory that is
// neither traces nor an eval run is skipped (nil result), as analyze skips
// it.
func (p *pusher) pushFile(path string, walked bool) (*pushResult, error) {
	res := &pushResult{File: path, Kind: "traces"}
	if path != "-" {
		head, err := readHead(path)
		if err != nil {
			return res, err
		}
		if isEvalRun(head) {
			res.Kind = "eval-run"
			res.EvalRun, err = p.pushEvalRun(path)
			return res, err
		}
		if walked && p.from == "" {
			// Detection reads the structure, not the head: a log's
			// identifying keys may follow a long history.
			if f, err := ingest.DetectFile(path, 0); err == nil && f == "" {
				return nil, nil
			}
		}
	}
	var req coltrace.ExportTraceServiceRequest
	size := 0
	flush := func() error {
		if len(req.ResourceSpans) == 0 {
			return nil
		}
		b, err := proto.Marshal(&req)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		req.ResourceSpans, size = nil, 0
		return p.postTraces(b)
	}
	err := ingest.Each(p.e.ctx, []string{path}, ingest.Options{Format: p.from, Stdin: p.e.stdin}, func(t *probity.Trace) error {
		r := otlp.Encode(t)
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				res.Spans += len(ss.Spans)
			}
			size += proto.Size(rs)
			req.ResourceSpans = append(req.ResourceSpans, rs)
		}
		res.Traces++
		if size >= pushBatchBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return res, err
}

func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "open", Err: err}
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read", Err: err}
	}
	return head[:n], nil
}

// isEvalRun reports whether a file starts with an eval run header.
func isEvalRun(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	return bytes.HasPrefix(head, []byte(`{"type":"run"`))
}

func (p *pusher) pushEvalRun(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &probity.Error{Code: probity.EINVALID, File: path, Message: "read", Err: err}
	}
	var out struct {
		ID string `json:"id"`
	}
	body, err := p.post("/api/v1/eval-runs", "application/x-ndjson", b)
	if err != nil {
		return "", &probity.Error{Code: probity.EINVALID, File: path, Message: "push eval run", Err: err}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("push eval run %s: bad answer: %w", filepath.Base(path), err)
	}
	return out.ID, nil
}

// postTraces sends one OTLP protobuf request (gzip) and checks the answer,
// including partial success.
func (p *pusher) postTraces(req []byte) error {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(req)
	zw.Close()
	body, err := p.post("/v1/traces", "application/x-protobuf", zb.Bytes())
	if err != nil {
		return err
	}
	var resp coltrace.ExportTraceServiceResponse
	if err := proto.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("bad answer from %s: %w", p.base, err)
	}
	if ps := resp.GetPartialSuccess(); ps.GetRejectedSpans() > 0 {
		return fmt.Errorf("server rejected %d spans: %s", ps.GetRejectedSpans(), ps.GetErrorMessage())
	}
	return nil
}

// post sends body and returns the answer's body, retrying 429 and 503 as
// the server asks (Retry-After), up to five times.
func (p *pusher) post(path, contentType string, body []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		ctx := p.e.ctx
		if p.ctx != nil {
			ctx = p.ctx
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, probity.Errorf(probity.EINVALID, "--server %q: %v", p.base, err)
		}
		req.Header.Set("Content-Type", contentType)
		if contentType == "application/x-protobuf" {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if p.token != "" {
			req.Header.Set("Authorization", "Bearer "+p.token)
		}
		resp, err := p.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("push to %s: %w", p.base, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("push to %s: %w", p.base, err)
		}
		switch {
		case resp.StatusCode/100 == 2:
			return b, nil
		case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 5:
			wait := time.Duration(attempt) * time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, serverMessage(resp.Header.Get("Content-Type"), b))
	}
}

// serverMessage extracts the message of an error answer: an OTLP Status
// or the API's JSON error.
func serverMessage(ct string, b []byte) string {
	if strings.HasPrefix(ct, "application/x-protobuf") {
		var st spb.Status
		if proto.Unmarshal(b, &st) == nil && st.GetMessage() != "" {
			return st.GetMessage()
		}
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil {
		if e.Error.Message != "" {
			return e.Error.Message
		}
		if e.Message != "" {
			return e.Message
		}
	}
	return strings.TrimSpace(string(b))
}
