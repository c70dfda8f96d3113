package postgres_test

import (
	"testing"

	"github.com/probity/probity/internal/pgtest"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/monitor/monitortest"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/postgres"
	"github.com/probity/probity/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dsn := pgtest.Schema(t)
		return func(t *testing.T, clock *storetest.Clock) store.Store {
			db, err := postgres.Open(t.Context(), dsn, postgres.Options{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}

// The monitor engine's state passes the monitor package's contract suite
// on PostgreSQL too.
func TestMonitorContract(t *testing.T) {
	open := func(t *testing.T, dsn string) *postgres.DB {
		db, err := postgres.Open(t.Context(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	monitortest.Run(t, func(t *testing.T) func() monitor.Store {
		dsn := pgtest.Schema(t)
		return func() monitor.Store { return open(t, dsn).MonitorState() }
	})
	monitortest.RunInbox(t, func(t *testing.T) func() monitor.Inbox {
		dsn := pgtest.Schema(t)
		return func() monitor.Inbox { return open(t, dsn).MonitorState() }
	})
}

// The guard's shared budgets and approvals pass their contract suite on
// PostgreSQL, opened by several handles as by several guards.
func TestGuardContract(t *testing.T) {
	storetest.RunGuard(t, func(t *testing.T) storetest.GuardOpener {
		dsn := pgtest.Schema(t)
		return func(t *testing.T) storetest.GuardState {
			db, err := postgres.Open(t.Context(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db.GuardState()
		}
	})
}
