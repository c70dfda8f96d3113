package detectbench

import (
	"context"
	"fmt"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

// load reads every trace under path with the same importers `probity
// analyze` uses, so the measurement sees exactly what users see.
func load(path string) ([]*probity.Trace, error) {
	ts, err := ingest.ReadAll(context.Background(), path, ingest.Options{})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return ts, nil
}

// LoadTau reads a τ-bench (or AgentRx) trajectory file.
func LoadTau(path string) ([]*probity.Trace, error) { return load(path) }

// LoadSWE reads every mini-swe-agent run under dir (trajs/<id>/<id>.traj.json,
// with resolved taken from logs/<id>/report.json by the importer).
func LoadSWE(dir string) ([]*probity.Trace, error) { return load(dir + "/trajs") }

// LoadWhoWhen reads every Who&When log in dir.
func LoadWhoWhen(dir string) ([]*probity.Trace, error) { return load(dir) }
