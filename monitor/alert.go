package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/probity/probity/stats"
)

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is a detected change in one monitor's rate for one group. Its JSON
// form is the "alert" object of the webhook payload and of
// GET /api/v1/alerts (docs/monitors.md).
type Alert struct {
	// ID is stable for one firing episode; notifications repeat it so a
	// receiver can deduplicate.
	ID string `json:"id"`
	// Monitor and Kind name the monitor and what it counts.
	Monitor string `json:"monitor"`
	Kind    string `json:"kind"`
	// Event says in words what one event is ("verdict fail",
	// "latency above 12.5s").
	Event string `json:"event"`
	// Group holds the attributes of the group the change is in.
	Group    map[string]string `json:"group"`
	GroupKey string            `json:"group_key"`
	// State is AlertFiring or AlertResolved.
	State      string     `json:"state"`
	FiredAt    time.Time  `json:"fired_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// Resolution says why it resolved: "recovered" when the rate came back
	// to the baseline, or "manual: <note>".
	Resolution string `json:"resolution,omitempty"`
	// Change is when the rate changed, estimated by BOCPD.
	Change ChangeEstimate `json:"change"`
	// Baseline is the warm-up estimate the CUSUM compared against; Before
	// and After are the rates in the series' recent history before and
	// after the estimated change.
	Baseline Rate `json:"baseline"`
	Before   Rate `json:"before"`
	After    Rate `json:"after"`
	// Examples are ids of traces with the event after the change, most
	// recent last.
	Examples []string `json:"examples"`
	// Method states the detector and its tuning.
	Method Method `json:"method"`
	// Summary is one line a person reads.
	Summary string `json:"summary"`
}

// Rate is an event rate with its 95% Jeffreys interval.
type Rate struct {
	Rate   float64 `json:"rate"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	Events int     `json:"events"`
	N      int     `json:"n"`
}

// jeffreysRate is the posterior mean and equal-tailed 95% interval of
// Beta(events + ½, n − events + ½): never 0 or 1, so a CUSUM designed on
// it is always defined.
func jeffreysRate(events, n int) Rate {
	d := stats.BetaDist{A: float64(events) + 0.5, B: float64(n-events) + 0.5}
	iv := d.EqualTailed(0.95)
	return Rate{Rate: round6(d.Mean()), Lo: round6(iv.Lo), Hi: round6(iv.Hi), Events: events, N: n}
}

// JeffreysRate is the rate of events in n with its 95% Jeffreys interval,
// as alerts and history points carry it: a page that merges points sums
// their counts and asks for the rate again.
func JeffreysRate(events, n int) Rate { return jeffreysRate(events, n) }

// String formats the rate as "5.0% [3.4%, 7.1%] (25/500)".
func (r Rate) String() string {
	return fmt.Sprintf("%s [%s, %s] (%d/%d)", pct(r.Rate), pct(r.Lo), pct(r.Hi), r.Events, r.N)
}

func pct(p float64) string {
	if math.IsNaN(p) {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", 100*p)
}

// ChangeEstimate dates a change from the run-length posterior of BOCPD
// over the series' recent history at the time of the alarm.
type ChangeEstimate struct {
	// At is the time of the first trace after the most probable change.
	At time.Time `json:"at"`
	// Earliest and Latest bound the change with 90% posterior
	// probability.
	Earliest time.Time `json:"earliest"`
	Latest   time.Time `json:"latest"`
	// TracesAgo is how many traces of the group arrived from the change
	// to the alarm, the alarm's trace included.
	TracesAgo int `json:"traces_ago"`
	// Probability is the posterior probability that the rate changed at
	// At or later: P(run length <= TracesAgo).
	Probability float64 `json:"probability"`
}

// Method is the detector behind an alert and its tuning.
type Method struct {
	// Name is "bernoulli-cusum".
	Name string `json:"name"`
	// ARL0 is the target mean number of traces between false alarms.
	ARL0 float64 `json:"arl0"`
	// P0 is the baseline rate the CUSUM was designed on; P1 the rate it
	// is tuned to catch fastest; GuardRate the rate at which ARL0 still
	// holds (the upper end of the baseline's interval).
	P0        float64 `json:"p0"`
	P1        float64 `json:"p1"`
	GuardRate float64 `json:"guard_rate"`
	// H is the threshold; Statistic the CUSUM at the alarm.
	H         float64 `json:"h"`
	Statistic float64 `json:"statistic"`
	// Threshold turns a cost or latency into an event (value above it).
	Threshold *float64 `json:"threshold,omitempty"`
}

// alertID names one firing episode of a monitor and group.
func alertID(monitor, group string, fired time.Time, n int64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", monitor, group, fired.UnixNano(), n))
	return hex.EncodeToString(h[:8])
}

// groupString formats group attributes as "service.name=checkout,
// gen_ai.agent.name=planner" in group_by order.
func groupString(keys []string, group map[string]string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		v := group[k]
		if v == "" {
			v = "(none)"
		}
		fmt.Fprintf(&b, "%s=%s", k, v)
	}
	return b.String()
}
