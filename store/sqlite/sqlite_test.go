package sqlite_test

import (
	"path/filepath"
	"testing"

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
