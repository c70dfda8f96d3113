package monitor

import (
	"context"
	"time"
)

// Inbox queues observations durably between the server replicas that make
// them and the one replica (the leader) whose Engine counts them. Series
// live in the leader's memory, so every replica writes what it analysed
// here, and the leader reads it in order: an observation survives a crash
// of either side, and a change of leader picks up where the last one
// stopped.
type Inbox interface {
	// Enqueue appends observations, durably, in one transaction.
	Enqueue(ctx context.Context, obs []Observation) error
	// Pending returns up to limit queued observations, oldest (lowest ID)
	// first. What it returns stays queued until acknowledged.
	Pending(ctx context.Context, limit int) ([]Queued, error)
	// Ack deletes the queued observations with these IDs. It takes IDs,
	// not a range: on PostgreSQL a transaction that commits late can
	// hold a lower ID than rows already read, and must not be lost.
	Ack(ctx context.Context, ids []int64) error
}

// Queued is an observation in an Inbox.
type Queued struct {
	ID         int64
	EnqueuedAt time.Time
	Observation
}
