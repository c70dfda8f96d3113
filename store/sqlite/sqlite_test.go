package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/probity/probity/monitor"
	"github.com/probity/probity/monitor/monitortest"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "probity.db")
		return func(t *testing.T, clock *storetest.Clock) store.Store {
			db, err := sqlite.Open(t.Context(), path, sqlite.Options{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}

// The monitor engine's state passes the monitor package's contract suite
// on the server's own database.
func TestMonitorContract(t *testing.T) {
	open := func(t *testing.T, path string) *sqlite.DB {
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	monitortest.Run(t, func(t *testing.T) func() monitor.Store {
		path := filepath.Join(t.TempDir(), "probity.db")
		return func() monitor.Store { return open(t, path).MonitorState() }
	})
	monitortest.RunInbox(t, func(t *testing.T) func() monitor.Inbox {
		path := filepath.Join(t.TempDir(), "probity.db")
		return func() monitor.Inbox { return open(t, path).MonitorState() }
	})
}

// The guard's shared budgets and approvals pass their contract suite on
// one SQLite file opened by several handles, as by several guards.
func TestGuardContract(t *testing.T) {
	storetest.RunGuard(t, func(t *testing.T) storetest.GuardOpener {
		path := filepath.Join(t.TempDir(), "probity.db")
		return func(t *testing.T) storetest.GuardState {
			db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db.GuardState()
		}
	})
}
