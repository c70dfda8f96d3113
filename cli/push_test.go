package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
)

// TestPushExamples pushes the bundled examples to a server running
// in-process and checks that the server's verdicts are analyze's, trace
// by trace, and that pushing again stores nothing new.
func TestPushExamples(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := server.New(server.Options{Store: db, Analyzer: analysis.New(analysis.Options{}), Listen: "127.0.0.1:0",
		TraceIdle: 200 * time.Millisecond, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	defer func() {
		srv.Stop()
		<-done
	}()

	examples, _ := filepath.Abs("../examples")
	want := map[string]probity.Verdict{} // analyze's verdict by original trace id
	a := analysis.New(analysis.Options{})
	if err := ingest.Each(context.Background(), []string{"../examples"}, ingest.Options{}, func(tr *probity.Trace) error {
		want[tr.ID] = a.Run(tr).Verdict
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		var stdout, stderr bytes.Buffer
		code := Main([]string{"push", "--format", "json", "--server", "http://" + srv.Addr(), examples}, nil, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("push exit %d: %s %s", code, stdout.String(), stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != 4 {
			t.Errorf("round %d: %d result lines, want one per example trace file:\n%s", round, len(lines), stdout.String())
		}
		for _, l := range lines {
			var r pushResult
			if err := json.Unmarshal([]byte(l), &r); err != nil || r.Traces != 1 || r.Spans == 0 || r.Error != "" {
				t.Errorf("result %s: %+v, %v", l, r, err)
			}
		}
	}
	// Wait for the analyses, then compare verdicts.
	deadline := time.Now().Add(20 * time.Second)
	var page store.Page
	for {
		page, err = db.ListTraces(context.Background(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, s := range page.Traces {
			if s.Verdict == "" || s.Stale {
				pending++
			}
		}
		if pending == 0 && len(page.Traces) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traces not analysed: %+v", page.Traces)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Four files, four traces: refund-cascade.otlp.json is a conversion of
	// refund-cascade.json made from another directory, so its OTLP trace
	// id (derived from the original's path) differs, while both restore
	// to the trace "refund-cascade".
	if len(page.Traces) != 4 {
		t.Errorf("%d traces stored, want 4", len(page.Traces))
	}
	for _, s := range page.Traces {
		a, err := db.Analysis(context.Background(), s.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			TraceID string          `json:"trace_id"`
			Verdict probity.Verdict `json:"verdict"`
		}
		json.Unmarshal(a.Report, &rep)
		if w, ok := want[rep.TraceID]; !ok || w != rep.Verdict || s.Revision != 1 {
			t.Errorf("trace %s (%s): verdict %s revision %d; analyze says %q", s.TraceID, rep.TraceID, rep.Verdict, s.Revision, w)
		}
	}
}
