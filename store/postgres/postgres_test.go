package postgres_test

import (
	"testing"

	"github.com/probity/probity/internal/pgtest"
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
