package ui_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/probity/probity/analysis"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

// BenchmarkTracePage renders the page of a 5,000-step trace on the server,
// from the store, beside the API's answer for the same trace (assembling
// it from its spans and encoding it): the page's cost above what reading
// the trace costs anyway.
//
//	go test ./ui/ -run '^$' -bench TracePage -benchtime 5x
func BenchmarkTracePage(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := server.StoreTraces(ctx, st, longTrace(5000)); err != nil {
		b.Fatal(err)
	}
	pages, err := ui.New(ui.Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: st, Analyzer: analysis.New(analysis.Options{}), UI: pages, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.AnalyseNow(ctx); err != nil {
		b.Fatal(err)
	}
	p, err := st.ListTraces(ctx, store.Filter{})
	if err != nil || len(p.Traces) != 1 {
		b.Fatalf("list: %v %v", p, err)
	}
	id := p.Traces[0].TraceID
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { srv.Stop(); <-done }()
	base := "http://" + srv.Addr()
	get := func(b *testing.B, path string) {
		for b.Loop() {
			resp, err := http.Get(base + path)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("GET %s: %s", path, resp.Status)
			}
			b.SetBytes(n)
		}
	}
	b.Run("page", func(b *testing.B) { get(b, "/traces/"+id) })
	b.Run("api", func(b *testing.B) { get(b, "/api/v1/traces/"+id) })
}
