package detectbench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/internal/shareddata"
)

// TestExplore prints every finding on a dataset; for development only.
func TestExplore(t *testing.T) {
	which := os.Getenv("EXPLORE")
	if which == "" {
		t.Skip("set EXPLORE=tau|retail|swe|ww")
	}
	dir := shareddata.Dir(t)
	var ts []*probity.Trace
	var err error
	switch which {
	case "tau":
		ts, err = LoadTau(filepath.Join(dir, "tau-bench", "gpt-4o-airline.json"))
	case "retail":
		ts, err = LoadTau(filepath.Join(dir, "agentrx-tau-retail", "trajectories.json"))
	case "swe":
		ts, err = LoadSWE(filepath.Join(dir, "swebench-gemini3pro"))
	case "ww":
		ts, err = LoadWhoWhen(filepath.Join(dir, "who-and-when", "algorithm-generated"))
	}
	if err != nil {
		t.Fatal(err)
	}
	only := os.Getenv("DET")
	for _, tr := range ts {
		r := detect.Run(tr, nil, nil)
		label := ""
		if tr.Labels.Reward != nil {
			label = fmt.Sprint("reward=", *tr.Labels.Reward)
		}
		if tr.Labels.Resolved != nil {
			label = fmt.Sprint("resolved=", *tr.Labels.Resolved)
		}
		if tr.Labels.MistakeStep != nil {
			label = fmt.Sprint("mistake=", *tr.Labels.MistakeStep)
		}
		for _, f := range r.Findings {
			if only != "" && f.Detector != only {
				continue
			}
			fmt.Printf("%s %s [%s] %s %s step %d: %s\n", tr.ID, label, r.Verdict, f.Detector, f.Severity, f.Step, f.Message)
			for _, e := range f.Evidence {
				fmt.Printf("      %s %q @%d %s\n", e.Kind, e.Source, e.SourceStep, e.Note)
			}
		}
	}
}
