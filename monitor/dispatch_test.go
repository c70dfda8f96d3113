package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/probity/probity/monitor"
)

// fireOne drives an engine until the failure-rate monitor fires once.
func fireOne(t *testing.T, e *monitor.Engine, seed uint64) {
	t.Helper()
	ctx := context.Background()
	tr := newTraffic(seed, "checkout")
	for range 600 {
		if err := e.Observe(ctx, tr.next(0.05)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3000; i++ {
		if err := e.Observe(ctx, tr.next(0.40)); err != nil {
			t.Fatal(err)
		}
		if as, _ := e.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring}); len(as) == 1 {
			return
		}
	}
	t.Fatal("no alert fired")
}

// A receiver that fails twice gets the notification on the third attempt,
// the same bytes each time, after exponential backoff.
func TestDeliveryRetriesWithBackoff(t *testing.T) {
	rcv := newReceiver(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	store := openStore(t, filepath.Join(t.TempDir(), "m.db"))
	e, err := monitor.New(monitor.Options{Config: parse(t, failureConfig(rcv.URL, "")), Store: store, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e)
	defer stop()
	fireOne(t, e, 11)
	waitFor(t, "delivery", func() bool {
		ds, _ := store.Deliveries(context.Background(), monitor.DeliveryDelivered, 10)
		return len(ds) == 1
	})
	got := rcv.requests()
	if len(got) != 3 || got[0].status != 503 || got[1].status != 502 || got[2].status != 200 {
		t.Fatalf("receiver saw %d requests, want 503, 502, 200", len(got))
	}
	for _, r := range got[1:] {
		if !bytes.Equal(r.body, got[0].body) || r.header.Get("Idempotency-Key") != got[0].header.Get("Idempotency-Key") {
			t.Error("a retry sent different bytes or a different idempotency key")
		}
	}
	ds, _ := store.Deliveries(context.Background(), monitor.DeliveryDelivered, 10)
	if ds[0].Attempts != 3 || ds[0].Event != monitor.AlertFiring {
		t.Errorf("delivery = %+v, want 3 attempts of the firing notice", ds[0])
	}
}

// A notification survives a restart in the middle of its retries: the
// first process fails once and stops; the second, on the same database,
// delivers it.
func TestDeliverySurvivesRestart(t *testing.T) {
	ctx := context.Background()
	rcv := newReceiver(t, http.StatusServiceUnavailable)
	path := filepath.Join(t.TempDir(), "m.db")
	// The retry is due 2-4 s later, long after the first process is gone.
	cfg := parse(t, failureConfig(rcv.URL, "")+"")
	cfg.Delivery.InitialBackoff, cfg.Delivery.MaxBackoff = 4*time.Second, 4*time.Second
	s1 := openStore(t, path)
	e1, err := monitor.New(monitor.Options{Config: cfg, Store: s1, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e1)
	fireOne(t, e1, 12)
	waitFor(t, "the first, failing attempt", func() bool { return len(rcv.requests()) == 1 })
	waitFor(t, "the retry to be scheduled", func() bool {
		ds, _ := s1.Deliveries(ctx, monitor.DeliveryPending, 10)
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	stop()
	s1.Close()

	s2 := openStore(t, path)
	e2, err := monitor.New(monitor.Options{Config: cfg, Store: s2, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	defer run(t, e2)()
	waitFor(t, "delivery after the restart", func() bool {
		ds, _ := s2.Deliveries(ctx, monitor.DeliveryDelivered, 10)
		return len(ds) == 1
	})
	got := rcv.requests()
	if len(got) != 2 || got[1].status != 200 || !bytes.Equal(got[0].body, got[1].body) {
		t.Errorf("receiver saw %d requests; want the failed one and the same body delivered after the restart", len(got))
	}
	if as, _ := e2.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring}); len(as) != 1 {
		t.Errorf("firing alerts after restart = %d, want 1", len(as))
	}
}

// stopDuringSettle is a store that begins a shutdown while the outcome of
// a send is being written, the moment a stop is most likely to lose it.
type stopDuringSettle struct {
	monitor.Store
	stop func()
}

func (s stopDuringSettle) Settle(ctx context.Context, id int64, st monitor.Settlement) error {
	s.stop()
	return s.Store.Settle(ctx, id, st)
}

// A notification delivered just as the engine stops is recorded as
// delivered: not left claimed (sent again only after the lease expires)
// and not sent twice.
func TestDeliverySettledAtShutdown(t *testing.T) {
	rcv := newReceiver(t)
	store := openStore(t, filepath.Join(t.TempDir(), "m.db"))
	ctx, cancel := context.WithCancel(context.Background())
	e, err := monitor.New(monitor.Options{Config: parse(t, failureConfig(rcv.URL, "")), Store: stopDuringSettle{store, cancel}, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	fireOne(t, e, 14)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	ds, err := store.Deliveries(context.Background(), "", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries = %d (%v), want 1", len(ds), err)
	}
	if d := ds[0]; d.State != monitor.DeliveryDelivered || d.Attempts != 1 || len(rcv.requests()) != 1 {
		t.Fatalf("after a stop during the write of a sent notice: %s after %d attempts, next at %v, %d requests; want it delivered once",
			d.State, d.Attempts, d.NextAt, len(rcv.requests()))
	}
}

// A 4xx other than 408 and 429 is the receiver refusing the payload:
// retrying cannot help, so the delivery fails at once and says why.
func TestDeliveryRejectedIsNotRetried(t *testing.T) {
	rcv := newReceiver(t, http.StatusBadRequest)
	store := openStore(t, filepath.Join(t.TempDir(), "m.db"))
	e, _ := monitor.New(monitor.Options{Config: parse(t, failureConfig(rcv.URL, "")), Store: store, PollEvery: 10 * time.Millisecond})
	defer run(t, e)()
	fireOne(t, e, 13)
	waitFor(t, "the delivery to fail", func() bool {
		ds, _ := store.Deliveries(context.Background(), monitor.DeliveryFailed, 10)
		return len(ds) == 1
	})
	time.Sleep(100 * time.Millisecond)
	ds, _ := store.Deliveries(context.Background(), monitor.DeliveryFailed, 10)
	if n := len(rcv.requests()); n != 1 || ds[0].Attempts != 1 || !bytes.Contains([]byte(ds[0].LastError), []byte("400 Bad Request")) {
		t.Errorf("requests = %d, delivery = %+v; want one attempt failed with the 400", n, ds[0])
	}
}

// The Alertmanager and Slack notifiers send their receivers' shapes.
func TestNotifierShapes(t *testing.T) {
	am, slack := newReceiver(t), newReceiver(t)
	cfg := parse(t, `
monitors:
  - name: failure-rate
    kind: verdict
    group_by: [service.name]
notifiers:
  - {name: am, type: alertmanager, url: '`+am.URL+`'}
  - {name: chat, type: slack, url: '`+slack.URL+`', send_resolved: false, headers: {X-Team: agents}}
`)
	e, _ := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, filepath.Join(t.TempDir(), "m.db")),
		PollEvery: 10 * time.Millisecond, ExternalURL: "https://probity.example"})
	defer run(t, e)()
	fireOne(t, e, 14)
	waitFor(t, "both notifications", func() bool { return len(am.requests()) == 1 && len(slack.requests()) == 1 })
	var m struct {
		Version     string `json:"version"`
		Status      string `json:"status"`
		Receiver    string `json:"receiver"`
		ExternalURL string `json:"externalURL"`
		Alerts      []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    time.Time         `json:"startsAt"`
			EndsAt      time.Time         `json:"endsAt"`
			Fingerprint string            `json:"fingerprint"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(am.requests()[0].body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "4" || m.Status != "firing" || m.Receiver != "am" || m.ExternalURL != "https://probity.example" || len(m.Alerts) != 1 {
		t.Fatalf("alertmanager message = %+v", m)
	}
	a := m.Alerts[0]
	if a.Labels["alertname"] != "failure-rate" || a.Labels["service_name"] != "checkout" || a.Fingerprint == "" ||
		a.StartsAt.IsZero() || !a.EndsAt.IsZero() || a.Annotations["summary"] == "" || a.Annotations["examples"] == "" {
		t.Errorf("alertmanager alert = %+v", a)
	}
	var s struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
		} `json:"blocks"`
	}
	req := slack.requests()[0]
	if err := json.Unmarshal(req.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Text == "" || len(s.Blocks) != 2 || s.Blocks[0].Text.Type != "mrkdwn" ||
		!bytes.Contains([]byte(s.Blocks[0].Text.Text), []byte("*failure-rate* is firing for service.name=checkout")) ||
		!bytes.Contains([]byte(s.Blocks[1].Text.Text), []byte("<https://probity.example/api/v1/traces/checkout-")) {
		t.Errorf("slack message = %+v", s)
	}
	if req.header.Get("X-Team") != "agents" {
		t.Errorf("configured header missing: %v", req.header)
	}
}
