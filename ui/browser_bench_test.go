package ui_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/ui"
)

// navTiming is the browser's own account of one page load
// (PerformanceNavigationTiming), in milliseconds from the navigation's
// start.
type navTiming struct {
	ResponseStart    float64 `json:"responseStart"`
	ResponseEnd      float64 `json:"responseEnd"`
	DOMInteractive   float64 `json:"domInteractive"`
	DOMContentLoaded float64 `json:"domContentLoadedEventEnd"`
	Load             float64 `json:"loadEventEnd"`
}

// BenchmarkBrowserTracePage opens the page of a 5,000-step trace in
// headless Chromium, as a person would, with the default window of 1,000
// steps and with all 5,000 on one page, and reports when it became
// interactive: the first byte (the server's work), DOMContentLoaded (the
// page parsed and ready for input) and the load event (stylesheet
// applied, laid out), each in ms from the start of the navigation.
//
//	go test ./ui -run '^$' -bench BrowserTracePage -benchtime 5x
func BenchmarkBrowserTracePage(b *testing.B) {
	chromium(b)
	for _, window := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) { benchTracePage(b, window) })
	}
}

func benchTracePage(b *testing.B, window int) {
	ctx := context.Background()
	s := startSiteWith(b, func(o *ui.Options) { o.StepWindow = window }, func(ctx context.Context, st store.Store) {
		if _, err := server.StoreTraces(ctx, st, longTrace(5000)); err != nil {
			b.Fatal(err)
		}
	})
	id := traceByName(ctx, b, s.st, "long-5000")
	br := newBrowser(b, s.base)
	br.open(b, "/traces/"+id) // a first visit warms the server's caches and the browser
	var sum navTiming
	var wall time.Duration
	for b.Loop() {
		start := time.Now()
		br.do(b, "open the trace", chromedp.Navigate(s.base+"/traces/"+id), chromedp.WaitReady(chromedp.CSS("ol.timeline > li:last-child")))
		wall += time.Since(start)
		nt := run(b, br, "timing", chromedp.Evaluate[navTiming]("performance.getEntriesByType('navigation')[0].toJSON()"))
		sum.ResponseStart += nt.ResponseStart
		sum.ResponseEnd += nt.ResponseEnd
		sum.DOMInteractive += nt.DOMInteractive
		sum.DOMContentLoaded += nt.DOMContentLoaded
		sum.Load += nt.Load
	}
	n := float64(b.N)
	b.ReportMetric(sum.ResponseStart/n, "ms-first-byte")
	b.ReportMetric(sum.ResponseEnd/n, "ms-response-end")
	b.ReportMetric(sum.DOMInteractive/n, "ms-interactive")
	b.ReportMetric(sum.DOMContentLoaded/n, "ms-DOMContentLoaded")
	b.ReportMetric(sum.Load/n, "ms-load")
	b.ReportMetric(float64(wall.Milliseconds())/n, "ms-wall")
	if n := br.count(b, "ol.timeline > li"); n != window {
		b.Errorf("the page shows %d steps; want the first window of %d", n, window)
	}
	br.clean(b)
}
