package postgres_test

import (
	"testing"

	"github.com/probity/probity/internal/pgtest"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/store/postgres"
	"github.com/probity/probity/store/storetest"
)

// BenchmarkGuardReserve is a shared budget's check and charge (two
// budgets, one transaction with row locks), beside the in-memory ledger in
// the same run.
//
//	PROBITY_TEST_POSTGRES=postgres://... go test ./store/postgres -run '^$' -bench GuardReserve -benchtime 2s
func BenchmarkGuardReserve(b *testing.B) {
	b.Run("memory", func(b *testing.B) { storetest.BenchReserve(b, policy.NewMemoryLedger()) })
	b.Run("postgres", func(b *testing.B) {
		db, err := postgres.Open(b.Context(), pgtest.Schema(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		storetest.BenchReserve(b, db.GuardState())
	})
}
