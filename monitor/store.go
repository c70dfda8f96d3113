package monitor

import (
	"context"
	"time"
)

// Store is the persistence an Engine needs: State for series checkpoints
// and alerts, Outbox for the notifications still to deliver. The server's
// store implements both over its database (SQLite or PostgreSQL) so that
// an alert and the notifications it causes are written in one transaction;
// monitortest.Run is the contract suite every implementation must pass.
type Store interface {
	State
	Outbox
}

// State keeps what the engine must not forget across a restart.
type State interface {
	// LoadSeries returns every saved series checkpoint.
	LoadSeries(ctx context.Context) ([]SeriesRecord, error)
	// Apply writes a Change atomically: all of it or none of it. Series
	// records replace those with the same (Monitor, Group); alerts replace
	// those with the same ID; deliveries are appended to the outbox as
	// pending, due at their NextAt, and get their ID there.
	Apply(ctx context.Context, c Change) error
	// Alerts returns alerts, newest FiredAt first, filtered by q.
	Alerts(ctx context.Context, q AlertQuery) ([]Alert, error)
	// Points returns a series' history, oldest Start first: the newest
	// q.Limit points of one monitor (and group, when q.Group is set) that
	// start at or after q.Since.
	Points(ctx context.Context, q PointQuery) ([]Point, error)
	// DeletePointsBefore deletes points that start before cutoff, for
	// the retention sweep, and returns how many it deleted.
	DeletePointsBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// Point is one time bucket of a series' history: how many observations
// the group had in [Start, Start+bucket width), how many were events, the
// rate with its 95% Jeffreys interval, and the baseline the CUSUM compared
// against at the time. A store replaces a point with the same (Monitor,
// Group, Start): the engine writes the open bucket at every checkpoint
// with its counts so far.
type Point struct {
	Monitor string    `json:"-"`
	Group   string    `json:"-"`
	Start   time.Time `json:"start"`
	// End is the time of the bucket's last observation.
	End time.Time `json:"end"`
	// Rate holds the counts (Events of N) and the interval.
	Rate Rate `json:"rate"`
	// Baseline is absent while the series estimates its first baseline.
	Baseline *Rate `json:"baseline,omitempty"`
}

// PointQuery selects points. Monitor is required.
type PointQuery struct {
	Monitor string
	// Group is a group key (SeriesRecord.Group); "" selects every group.
	Group string
	// Since drops points that start before it; zero keeps all.
	Since time.Time
	// Limit caps the number returned, newest kept; 0 means 10,000.
	Limit int
}

// SeriesRecord is the checkpoint of one monitor's series for one group.
// Data is the engine's own versioned encoding; a store keeps it as bytes.
type SeriesRecord struct {
	Monitor   string
	Group     string
	Data      []byte
	UpdatedAt time.Time
}

// Change is one atomic write: series checkpoints, alerts that fired or
// resolved, the notifications they cause, and the history points of the
// series checkpointed.
type Change struct {
	Series     []SeriesRecord
	Alerts     []Alert
	Deliveries []Delivery
	// Points replace those with the same (Monitor, Group, Start).
	Points []Point
}

// AlertQuery filters Alerts. Zero fields do not filter.
type AlertQuery struct {
	// State is AlertFiring or AlertResolved.
	State string
	// Monitor is a monitor name.
	Monitor string
	// Limit caps the number returned; 0 means 100.
	Limit int
}

// Outbox holds notifications until a receiver has accepted them. Delivery
// is at least once: a process that dies after a receiver answered but
// before Settle sends that notification again after the lease; receivers
// deduplicate by the payload's id (Alertmanager by fingerprint).
type Outbox interface {
	// Claim returns up to limit pending deliveries whose NextAt is at or
	// before now, oldest first, taking at most one per Key (the oldest
	// pending one, so a resolved notice never overtakes its firing one).
	// Claimed deliveries are hidden from other claimers until now+lease;
	// with several replicas the claim must be exclusive (PostgreSQL:
	// SELECT ... FOR UPDATE SKIP LOCKED).
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// Settle records the outcome of one attempt on delivery id.
	Settle(ctx context.Context, id int64, s Settlement) error
	// NextDue returns the earliest NextAt among pending deliveries, and
	// false when none is pending.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Deliveries lists deliveries, newest first, for inspection and tests;
	// state "" lists all.
	Deliveries(ctx context.Context, state string, limit int) ([]Delivery, error)
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one notification to one notifier. Its body is rendered when
// the alert changes, so a restart sends the same bytes; the receiver's URL
// and headers are looked up by Notifier at send time, keeping secrets out
// of the database.
type Delivery struct {
	ID          int64     `json:"id"`
	Key         string    `json:"key"` // ordering key: notifier and alert
	Notifier    string    `json:"notifier"`
	AlertID     string    `json:"alert_id"`
	Event       string    `json:"event"` // AlertFiring or AlertResolved
	ContentType string    `json:"content_type"`
	Body        []byte    `json:"body"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"next_at"`
	CreatedAt   time.Time `json:"created_at"`
	SettledAt   time.Time `json:"settled_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Settlement is the outcome of one delivery attempt.
type Settlement struct {
	// State is DeliveryDelivered, DeliveryFailed (given up) or
	// DeliveryPending (retry at NextAt).
	State string
	// Attempts is the number of attempts made so far.
	Attempts int
	// NextAt is when to retry, for DeliveryPending.
	NextAt time.Time
	// At is when the attempt finished.
	At time.Time
	// Error says why the attempt failed, if it did.
	Error string
}
