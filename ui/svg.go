package ui

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/probity/probity/monitor"
)

// Charts are drawn as SVG on the server: no script, no library, and they
// print. Every text in them goes through esc, every number through %g-like
// formatting, so trace text cannot become markup.

type svgb struct{ strings.Builder }

func esc(s string) string { return html.EscapeString(s) }

func (b *svgb) f(format string, a ...any) { fmt.Fprintf(&b.Builder, format, a...) }

func (b *svgb) open(w, h int, title string) {
	b.f(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" class="chart"><title>%s</title>`,
		w, h, w, h, esc(title), esc(title))
}

func (b *svgb) html() template.HTML {
	b.WriteString("</svg>")
	return template.HTML(b.String()) //nolint: all text above is escaped by esc
}

// hourBars draws counts per hour (oldest first) with labels under the
// first and last bars.
func hourBars(counts, fails []int, first, last string) template.HTML {
	const w, h, pad = 720, 160, 24
	var b svgb
	b.open(w, h, "Runs per hour, failing runs darker")
	peak := 1
	for _, c := range counts {
		peak = max(peak, c)
	}
	n := max(len(counts), 1)
	bw := float64(w-2*pad) / float64(n)
	for i, c := range counts {
		x := float64(pad) + float64(i)*bw
		bh := float64(h-2*pad) * float64(c) / float64(peak)
		fh := float64(h-2*pad) * float64(fails[i]) / float64(peak)
		b.f(`<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d runs, %d failing</title></rect>`,
			x+1, float64(h-pad)-bh, max(bw-2, 1), bh, c, fails[i])
		if fails[i] > 0 {
			b.f(`<rect class="bar-fail" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x+1, float64(h-pad)-fh, max(bw-2, 1), fh)
		}
	}
	b.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, pad, h-pad, w-pad, h-pad)
	b.f(`<text x="%d" y="%d" class="lbl">%s</text>`, pad, h-6, esc(first))
	b.f(`<text x="%d" y="%d" class="lbl" text-anchor="end">%s</text>`, w-pad, h-6, esc(last))
	b.f(`<text x="%d" y="%d" class="lbl">%d</text>`, 2, pad, peak)
	return b.html()
}

// forestRow is one case of a forest plot.
type forestRow struct {
	Label  string
	P      float64
	Lo, Hi float64
	Class  string
}

// forest draws each case's pass rate and interval on [0, 1], with the
// suite's rate as a vertical line.
func forest(rows []forestRow, suite float64) template.HTML {
	const w, left, right, rh, top = 720, 220, 40, 18, 24
	h := top + rh*len(rows) + 24
	var b svgb
	b.open(w, h, "Forest plot: each case's pass rate with its 95% interval")
	x := func(p float64) float64 { return left + p*float64(w-left-right) }
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		b.f(`<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="lbl" x="%.1f" y="%d" text-anchor="middle">%.0f%%</text>`,
			x(t), top-6, x(t), h-20, x(t), h-6, t*100)
	}
	b.f(`<line class="ref" x1="%.1f" y1="%d" x2="%.1f" y2="%d"><title>suite pass rate %.1f%%</title></line>`, x(suite), top-8, x(suite), h-20, suite*100)
	for i, r := range rows {
		y := top + i*rh + rh/2
		b.f(`<text class="lbl" x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+4, esc(short(r.Label, 32)))
		b.f(`<line class="ci %s" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, esc(r.Class), x(r.Lo), y, x(r.Hi), y)
		b.f(`<circle class="pt %s" cx="%.1f" cy="%d" r="4"><title>%s: %.0f%% [%.0f%%, %.0f%%] %s</title></circle>`,
			esc(r.Class), x(r.P), y, esc(oneLine(r.Label, 80)), r.P*100, r.Lo*100, r.Hi*100, esc(r.Class))
	}
	return b.html()
}

// curvePoint is pass^k at one k.
type curvePoint struct {
	K         int
	V, Lo, Hi float64
}

// curve draws pass^k against k with its interval band.
func curve(pts []curvePoint, title string) template.HTML {
	const w, h, pad = 420, 220, 36
	var b svgb
	b.open(w, h, title)
	if len(pts) == 0 {
		b.f(`<text class="lbl" x="%d" y="%d">no trials</text>`, pad, h/2)
		return b.html()
	}
	kmax := pts[len(pts)-1].K
	x := func(k int) float64 {
		if kmax == pts[0].K {
			return float64(w) / 2
		}
		return pad + float64(k-pts[0].K)/float64(kmax-pts[0].K)*float64(w-2*pad)
	}
	y := func(v float64) float64 { return float64(h-pad) - v*float64(h-2*pad) }
	for _, t := range []float64{0, 0.5, 1} {
		b.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text class="lbl" x="4" y="%.1f">%.0f%%</text>`, pad, y(t), w-pad, y(t), y(t)+4, t*100)
	}
	var band, line strings.Builder
	for _, p := range pts {
		fmt.Fprintf(&band, "%.1f,%.1f ", x(p.K), y(p.Hi))
	}
	for i := len(pts) - 1; i >= 0; i-- {
		fmt.Fprintf(&band, "%.1f,%.1f ", x(pts[i].K), y(pts[i].Lo))
	}
	for _, p := range pts {
		fmt.Fprintf(&line, "%.1f,%.1f ", x(p.K), y(p.V))
	}
	b.f(`<polygon class="band" points="%s"/><polyline class="line" points="%s"/>`, band.String(), line.String())
	for _, p := range pts {
		b.f(`<circle class="pt" cx="%.1f" cy="%.1f" r="3"><title>k=%d: %.1f%% [%.1f%%, %.1f%%]</title></circle><text class="lbl" x="%.1f" y="%d" text-anchor="middle">%d</text>`,
			x(p.K), y(p.V), p.K, p.V*100, p.Lo*100, p.Hi*100, x(p.K), h-pad+16, p.K)
	}
	b.f(`<text class="lbl" x="%d" y="%d" text-anchor="end">k</text>`, w-4, h-pad+16)
	return b.html()
}

// graphNode is a step in a blast-radius graph.
type graphNode struct {
	Pos        int
	Label      string
	Origin     bool
	SideEffect bool
}

// blastGraph draws the origin step on the left and every step the error
// reached on the right, in trace order, an edge from the origin to each;
// side-effecting steps are diamonds labelled "side effect", so the mark
// does not rest on colour alone. Nodes link to their step in the timeline
// (href gives the link: the step may be in another window of steps).
func blastGraph(origin graphNode, reached []graphNode, href func(pos int) string) template.HTML {
	const w, rowH, top = 780, 44, 20
	h := top*2 + rowH*max(len(reached), 1)
	var b svgb
	b.open(w, h, fmt.Sprintf("Blast radius: step %d reached %d later steps", origin.Pos, len(reached)))
	ox, oy := 120.0, float64(h)/2
	rx := 360.0
	for i, n := range reached {
		y := float64(top + i*rowH + rowH/2)
		b.f(`<path class="edge%s" d="M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f"/>`, map[bool]string{true: " edge-side"}[n.SideEffect],
			ox+60, oy, (ox+rx)/2, oy, (ox+rx)/2, y, rx-12, y)
	}
	b.f(`<a href="%s"><rect class="node origin" x="%.1f" y="%.1f" width="120" height="34" rx="6"/><text class="nlbl" x="%.1f" y="%.1f" text-anchor="middle">✖ origin · step %d</text><text class="lbl" x="%.1f" y="%.1f" text-anchor="middle">%s</text></a>`,
		esc(href(origin.Pos)), ox-60, oy-17, ox, oy-2, origin.Pos, ox, oy+12, esc(short(origin.Label, 17)))
	for i, n := range reached {
		y := float64(top + i*rowH + rowH/2)
		b.f(`<a href="%s">`, esc(href(n.Pos)))
		if n.SideEffect {
			b.f(`<path class="node side" d="M%.1f,%.1f l12,-14 l12,14 l-12,14 z"/>`, rx-12, y)
			b.f(`<text class="nlbl" x="%.1f" y="%.1f">⚠ step %d · side effect · %s</text>`, rx+20, y+4, n.Pos, esc(short(n.Label, 40)))
		} else {
			b.f(`<circle class="node" cx="%.1f" cy="%.1f" r="9"/>`, rx, y)
			b.f(`<text class="nlbl" x="%.1f" y="%.1f">step %d · %s</text>`, rx+20, y+4, n.Pos, esc(short(n.Label, 52)))
		}
		b.WriteString(`</a>`)
	}
	return b.html()
}

// rateBand draws a monitor's rate before and after a change, each with
// its interval as a band, the baseline as a dashed line and the change
// point as a vertical line.
func rateBand(base, before, after rateView, changeLabel string) template.HTML {
	const w, h, pad = 560, 180, 36
	var b svgb
	b.open(w, h, "Rate before and after the change, with 95% intervals; the vertical line is the changepoint")
	top := max(base.Hi, before.Hi, after.Hi, 0.01) * 1.15
	y := func(v float64) float64 { return float64(h-pad) - v/top*float64(h-2*pad) }
	mid := float64(w) / 2
	seg := func(x0, x1 float64, r rateView, class string) {
		b.f(`<rect class="band %s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, class, x0, y(r.Hi), x1-x0, max(y(r.Lo)-y(r.Hi), 1))
		b.f(`<line class="line %s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, class, x0, y(r.Rate), x1, y(r.Rate))
		b.f(`<text class="lbl" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, (x0+x1)/2, y(r.Hi)-6, esc(r.String()))
	}
	b.f(`<line class="ref" x1="%d" y1="%.1f" x2="%d" y2="%.1f"><title>baseline %s</title></line>`, pad, y(base.Rate), w-pad, y(base.Rate), esc(base.String()))
	seg(pad, mid, before, "before")
	seg(mid, float64(w-pad), after, "after")
	b.f(`<line class="change" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="lbl" x="%.1f" y="%d" text-anchor="middle">▼ change %s</text>`,
		mid, pad/2, mid, h-pad, mid, h-8, esc(changeLabel))
	b.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, pad, h-pad, w-pad, h-pad)
	return b.html()
}

// maxColumns bounds the points a rate chart draws: adjacent buckets are
// merged (their counts summed) until they fit, so a month of five-minute
// buckets is one readable line and a small page.
const maxColumns = 150

// mergePoints sums adjacent points into at most maxColumns; each merged
// point gets the Jeffreys interval of its summed counts and the last
// baseline it covered.
func mergePoints(ps []monitor.Point) []monitor.Point {
	if len(ps) <= maxColumns {
		return ps
	}
	per := (len(ps) + maxColumns - 1) / maxColumns
	out := make([]monitor.Point, 0, maxColumns)
	for i := 0; i < len(ps); i += per {
		group := ps[i:min(i+per, len(ps))]
		m := monitor.Point{Monitor: group[0].Monitor, Group: group[0].Group, Start: group[0].Start}
		events, n := 0, 0
		for _, p := range group {
			events, n = events+p.Rate.Events, n+p.Rate.N
			m.End = p.End
			if p.Baseline != nil {
				m.Baseline = p.Baseline
			}
		}
		m.Rate = monitor.JeffreysRate(events, n)
		out = append(out, m)
	}
	return out
}

// rateSeries draws a monitor's rate over time: the rate of each bucket
// as a line with its 95% interval as a band, the baseline as a dashed
// step line, and each changepoint as a vertical line over the shaded
// span of its 90% interval, linked to its alert. Marks carry words and
// titles, not colour alone.
func rateSeries(ps []monitor.Point, cps []monitor.Changepoint, title string) template.HTML {
	const w, h, left, right, top, bottom = 760, 220, 48, 16, 22, 34
	var b svgb
	b.open(w, h, title)
	ps = mergePoints(ps)
	if len(ps) == 0 {
		b.f(`<text class="lbl" x="%d" y="%d">no observations in this period</text>`, left, h/2)
		return b.html()
	}
	t0, t1 := ps[0].Start, ps[len(ps)-1].End
	if !t1.After(t0) {
		t1 = t0.Add(time.Minute)
	}
	span := float64(t1.Sub(t0))
	x := func(t time.Time) float64 {
		f := min(max(float64(t.Sub(t0))/span, 0), 1)
		return left + f*float64(w-left-right)
	}
	peak := 0.01
	for _, p := range ps {
		peak = max(peak, p.Rate.Hi)
		if p.Baseline != nil {
			peak = max(peak, p.Baseline.Hi)
		}
	}
	peak = min(peak*1.1, 1)
	y := func(v float64) float64 { return float64(h-bottom) - v/peak*float64(h-top-bottom) }
	for _, f := range []float64{0, 0.5, 1} {
		v := f * peak
		b.f(`<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text class="lbl" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			left, y(v), w-right, y(v), left-4, y(v)+4, esc(pctText(v)))
	}
	mid := func(p monitor.Point) float64 { return x(p.Start.Add(p.End.Sub(p.Start) / 2)) }
	// Changepoints first, so the rate is drawn over their shading.
	for _, c := range cps {
		lo, hi := x(c.Earliest), x(c.Latest)
		b.f(`<a href="#alert-%s">`, esc(c.AlertID))
		b.f(`<rect class="cpband" x="%.1f" y="%d" width="%.1f" height="%d"><title>90%% interval of the change: %s to %s</title></rect>`,
			lo, top, max(hi-lo, 1), h-top-bottom, esc(fmtTime(c.Earliest)), esc(fmtTime(c.Latest)))
		b.f(`<line class="change" x1="%.1f" y1="%d" x2="%.1f" y2="%d"><title>change at %s (alert %s, %s): %s → %s</title></line>`,
			x(c.At), top-8, x(c.At), h-bottom, esc(fmtTime(c.At)), esc(c.AlertID), esc(c.State), esc(c.Before.String()), esc(c.After.String()))
		b.f(`<text class="lbl cp" x="%.1f" y="%d" text-anchor="middle">▼ change</text></a>`, x(c.At), top-10)
	}
	var band, line, base strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&band, "%.1f,%.1f ", mid(p), y(p.Rate.Hi))
	}
	for i := len(ps) - 1; i >= 0; i-- {
		fmt.Fprintf(&band, "%.1f,%.1f ", mid(ps[i]), y(ps[i].Rate.Lo))
	}
	for _, p := range ps {
		fmt.Fprintf(&line, "%.1f,%.1f ", mid(p), y(p.Rate.Rate))
	}
	// The baseline as a step line: it holds from one estimate to the next.
	move := "M"
	for _, p := range ps {
		if p.Baseline == nil {
			move = "M"
			continue
		}
		fmt.Fprintf(&base, "%s%.1f,%.1f H%.1f ", move, x(p.Start), y(p.Baseline.Rate), x(p.End))
		move = "L"
	}
	b.f(`<polygon class="band" points="%s"><title>95%% interval of each bucket's rate</title></polygon><polyline class="line" points="%s"/>`, band.String(), line.String())
	if base.Len() > 0 {
		b.f(`<path class="ref baseline" d="%s"><title>baseline</title></path>`, base.String())
	}
	for _, p := range ps {
		b.f(`<circle class="pt" cx="%.1f" cy="%.1f" r="2.5"><title>%s to %s: %s</title></circle>`,
			mid(p), y(p.Rate.Rate), esc(fmtTime(p.Start)), esc(fmtTime(p.End)), esc(p.Rate.String()))
	}
	b.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, h-bottom, w-right, h-bottom)
	b.f(`<text x="%d" y="%d" class="lbl">%s</text>`, left, h-bottom+16, esc(fmtTime(t0)))
	b.f(`<text x="%d" y="%d" class="lbl" text-anchor="end">%s</text>`, w-right, h-bottom+16, esc(fmtTime(t1)))
	b.f(`<text x="%d" y="%d" class="lbl">— rate, shaded: 95%% interval · - - baseline · ▼ changepoint (shaded: its 90%% interval)</text>`, left, h-4)
	return b.html()
}

func pctText(p float64) string {
	if p >= 0.1 {
		return fmt.Sprintf("%.0f%%", 100*p)
	}
	return fmt.Sprintf("%.1f%%", 100*p)
}

// short is s on one line, cut to n runes with an ellipsis: chart labels
// have no room for the byte counts cut gives.
func short(s string, n int) string {
	s = oneLine(s, 4*n)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
