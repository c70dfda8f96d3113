package judge_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/judge"
)

// TestPromptsOnSharedData builds the judge's prompt for every failed run
// of the real labelled data: no prompt carries its run's attribution
// labels (Who&When's mistake_reason is long free text, so a leak would
// show), stripping them changes no byte, and long runs stay within the
// listing's bound. It logs the prompts' sizes, which is what a judge run
// over these sets costs per vote.
func TestPromptsOnSharedData(t *testing.T) {
	dir := shareddata.Dir(t)
	a := analysis.New(analysis.Options{})
	for _, set := range []string{"who-and-when/algorithm-generated", "agentrx-tau-retail/trajectories.json"} {
		var sizes []int
		labelled := 0
		err := ingest.Each(context.Background(), []string{filepath.Join(dir, set)}, ingest.Options{}, func(tr *probity.Trace) error {
			r := a.Run(tr)
			if !judge.Failed(tr, &r) {
				return nil
			}
			p := judge.Prompt(tr, &r, nil)
			sizes = append(sizes, len(p))
			if reason := strings.TrimSpace(tr.Labels.MistakeReason); len(reason) >= 20 {
				labelled++
				if strings.Contains(p, reason) {
					t.Errorf("%s: the prompt carries the run's mistake_reason", tr.ID)
				}
			}
			c := *tr
			c.Labels.MistakeAgent, c.Labels.MistakeStep, c.Labels.MistakeReason = "", nil, ""
			if judge.Prompt(&c, &r, nil) != p {
				t.Errorf("%s: the prompt changes when the labels are stripped", tr.ID)
			}
			if len(p) > 96<<10 {
				t.Errorf("%s: prompt of %d bytes, over the bound", tr.ID, len(p))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		if len(sizes) == 0 {
			t.Fatalf("%s: no failed run", set)
		}
		slices.Sort(sizes)
		t.Logf("%s: %d failed runs (%d with a mistake_reason), prompt bytes median %d, max %d",
			set, len(sizes), labelled, sizes[len(sizes)/2], sizes[len(sizes)-1])
	}
}
