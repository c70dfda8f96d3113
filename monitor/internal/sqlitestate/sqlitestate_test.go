package sqlitestate_test

import (
	"path/filepath"
	"testing"

	"github.com/probity/probity/monitor"
	"github.com/probity/probity/monitor/internal/sqlitestate"
	"github.com/probity/probity/monitor/monitortest"
)

func TestContract(t *testing.T) {
	monitortest.Run(t, func(t *testing.T) func() monitor.Store {
		path := filepath.Join(t.TempDir(), "monitor.db")
		return func() monitor.Store {
			db, err := sqlitestate.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}
