package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store/sqlite"
)

// A simulated agent service fails 5% of its runs; after run 1,200 a bad
// prompt makes it fail 25%. The failure-rate monitor estimates the baseline
// from its first 500 runs (refined to 1,000 while the rate held), alarms 40
// runs after the change, dates it, and queues the webhook payload shown
// (the body a receiver gets).
func Example() {
	dir, _ := os.MkdirTemp("", "monitor-example")
	defer os.RemoveAll(dir)
	db, _ := sqlite.Open(context.Background(), filepath.Join(dir, "probity.db"), sqlite.Options{})
	defer db.Close()
	store := db.MonitorState()
	cfg, err := monitor.Parse("monitors.yaml", []byte(`
monitors:
  - name: failure-rate
    kind: verdict
    group_by: [service.name, prompt.version]
notifiers:
  - name: ops
    type: webhook
    url: https://hooks.example.com/probity
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := monitor.New(monitor.Options{Config: cfg, Store: store})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= 1600; i++ {
		failRate := 0.05
		if i > 1200 {
			failRate = 0.25
		}
		v := probity.VerdictOK
		if rng.Float64() < failRate {
			v = probity.VerdictFail
		}
		e.Observe(ctx, monitor.Observation{
			TraceID: fmt.Sprintf("run-%04d", i),
			Time:    start.Add(time.Duration(i) * 10 * time.Second),
			Attrs:   map[string]string{"service.name": "refunds", "prompt.version": "v7"},
			Verdict: v,
		})
	}
	ds, _ := store.Deliveries(ctx, monitor.DeliveryPending, 10)
	var p monitor.WebhookPayload
	json.Unmarshal(ds[0].Body, &p)
	a := p.Alert
	fmt.Println(p.Event, a.Monitor, a.Group)
	fmt.Println("fired at:    ", a.FiredAt.Format(time.TimeOnly))
	fmt.Println("change at:   ", a.Change.At.Format(time.TimeOnly), "(run-1201 was at 12:20:10)")
	fmt.Println("change 90%:  ", a.Change.Earliest.Format(time.TimeOnly), "to", a.Change.Latest.Format(time.TimeOnly))
	fmt.Println("baseline:    ", a.Baseline)
	fmt.Println("before:      ", a.Before)
	fmt.Println("after:       ", a.After)
	fmt.Println("examples:    ", a.Examples)
	fmt.Printf("method:       %s, ARL0 %.0f, p0 %.4f → p1 %.4f, h %.3f\n", a.Method.Name, a.Method.ARL0, a.Method.P0, a.Method.P1, a.Method.H)
	fmt.Println(a.Summary)
	// Output:
	// firing failure-rate map[prompt.version:v7 service.name:refunds]
	// fired at:     12:28:30
	// change at:    12:22:00 (run-1201 was at 12:20:10)
	// change 90%:   10:28:20 to 12:22:50
	// baseline:     5.9% [4.6%, 7.5%] (59/1000)
	// before:       6.1% [4.7%, 7.7%] (58/960)
	// after:        28.0% [15.6%, 42.5%] (11/40)
	// examples:     [run-1236 run-1238 run-1241 run-1248 run-1251]
	// method:       bernoulli-cusum, ARL0 10000, p0 0.0589 → p1 0.1589, h 7.549
	// failure-rate (service.name=refunds, prompt.version=v7): verdict fail rose from 6.1% [4.7%, 7.7%] (58/960) to 28.0% [15.6%, 42.5%] (11/40); the change began around 2025-06-01T12:22:00Z, 40 traces before the alarm
}
