// Package shareddata locates the real agent traces in ../shared/data that
// tests and benchmarks read. The data is never copied into the repository.
//
// A test that needs the data may skip when it is absent, but only outside CI:
// with CI=true a missing folder fails the test, so CI cannot go green by
// silently testing nothing.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of the shared data folder (../shared/data
// relative to the module root), or skips (fails in CI) when it is absent.
// PROBITY_SHARED_DATA overrides the location.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := find()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("shared data not found (%v); CI must have ../shared/data", err)
		}
		tb.Skipf("shared data not found (%v); skipping outside CI", err)
	}
	return dir
}

// Path returns filepath.Join(Dir(tb), elem...) and checks that it exists.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Dir(tb)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("shared data: %v", err)
	}
	return p
}

// Find returns the shared data folder without a testing.TB, for benchmark
// commands; it returns an error when the folder is absent.
func Find() (string, error) { return find() }

func find() (string, error) {
	if d := os.Getenv("PROBITY_SHARED_DATA"); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", err
		}
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// Walk up to the module root (the directory holding go.mod).
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return filepath.Abs(p)
		}
		if filepath.Dir(d) == d {
			return "", os.ErrNotExist
		}
	}
}
