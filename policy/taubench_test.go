package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/taubench"
)

// retailLabel is one labelled failure in AgentRx's labels.json.
type retailLabel struct {
	TrajectoryID int `json:"trajectory_id"`
	Failures     []struct {
		StepNumber int    `json:"step_number"`
		Category   string `json:"failure_category"`
		Reason     string `json:"step_reason"`
	} `json:"failures"`
}

// TestTauRetailPolicy measures the example τ-bench retail policy on the
// AgentRx runs: how many labelled "Instruction Adherence Failure" steps it
// finds (a finding on the step's position; AgentRx step_number is position
// + 1) and how many successful runs (reward 1) it flags. Run it with -v to
// see the table:
//
//	go test ./policy -run TestTauRetailPolicy -v
func TestTauRetailPolicy(t *testing.T) {
	dir := shareddata.Path(t, "agentrx-tau-retail")
	p, err := policy.LoadFile(filepath.Join("..", "examples", "policies", "tau-retail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	traces := readTau(t, filepath.Join(dir, "trajectories.json"))
	var labels []retailLabel
	b, err := os.ReadFile(filepath.Join(dir, "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &labels); err != nil {
		t.Fatal(err)
	}
	byTask := map[string]*probity.Trace{}
	for _, tr := range traces {
		byTask[tr.Meta["task_id"]] = tr
	}
	type want struct {
		task string
		pos  int
	}
	var iaf []want
	for _, l := range labels {
		for _, f := range l.Failures {
			if f.Category == "Instruction Adherence Failure" {
				iaf = append(iaf, want{fmt.Sprint(l.TrajectoryID), f.StepNumber - 1})
			}
		}
	}
	found := 0
	for _, w := range iaf {
		tr := byTask[w.task]
		if tr == nil {
			t.Fatalf("labelled trajectory %s not in trajectories.json", w.task)
		}
		var rules []string
		for _, f := range p.Findings(tr) {
			if f.Step == w.pos {
				rules = append(rules, f.Detector)
			}
		}
		if len(rules) > 0 {
			found++
		}
		t.Logf("IAF task %s step %d: %v", w.task, w.pos, rules)
	}
	successes, flagged := 0, 0
	byRule := map[string]int{}
	for _, tr := range traces {
		if tr.Labels.Reward == nil || *tr.Labels.Reward != 1 {
			continue
		}
		successes++
		fs := p.Findings(tr)
		seen := map[string]bool{}
		for _, f := range fs {
			if !seen[f.Detector] {
				seen[f.Detector] = true
				byRule[f.Detector]++
			}
			t.Logf("success %s step %d: %s: %s", tr.ID, f.Step, f.Detector, f.Message)
		}
		if len(fs) > 0 {
			flagged++
		}
	}
	var rs []string
	for r, n := range byRule {
		rs = append(rs, fmt.Sprintf("%s=%d", r, n))
	}
	sort.Strings(rs)
	t.Logf("\n%-52s %s\n%-52s %d / %d\n%-52s %d / %d\n%-52s %s",
		"τ-retail policy on AgentRx (51 runs)", "",
		"labelled Instruction Adherence Failure steps found", found, len(iaf),
		"successful runs (reward 1) flagged", flagged, successes,
		"successful runs flagged, by rule", strings.Join(rs, " "))
	if len(iaf) == 0 || successes == 0 {
		t.Fatalf("no labels (%d) or no successful runs (%d): the data changed", len(iaf), successes)
	}
	// The numbers the README reports; a change to the policy or the engine
	// that moves them must update both.
	if got, want := found, len(iaf); got != want {
		t.Errorf("found %d of %d labelled instruction-adherence steps, want %d", got, len(iaf), want)
	}
}

func readTau(t *testing.T, path string) []*probity.Trace {
	t.Helper()
	out, err := ingest.ReadAll(context.Background(), path, ingest.Options{Format: taubench.Format})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
