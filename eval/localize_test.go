package eval

import (
	"path/filepath"
	"testing"

	"github.com/probity/probity/internal/testagent"
)

// A failing trial's record says where it went wrong: against its passing
// sibling trials, the call the failing trials make instead of the right
// one (step 3: user, lookup call, result, then the wrong call). Passing
// trials carry no localisation.
func TestFailingTrialsAreLocalised(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 7})
	dir := writeFiles(t, map[string]string{"s.yaml": `name: localise
target:
  http: {url: '` + url + `'}
trials: 10
concurrency: 1
cases:
  - {id: refund, input: {answer: ok, p: 0.5, tools: [lookup_order, refund_order], wrong_tool: cancel_order}, expected: {answer: ok}}
assert:
  - {type: equals, path: $.answer}
`})
	run, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	passedBefore, failed, atWrongCall := false, 0, 0
	for _, tr := range run.Trials {
		switch tr.Status {
		case StatusPass:
			if tr.Localization != nil {
				t.Errorf("passing trial %d has a localisation: %+v", tr.Trial, tr.Localization)
			}
			passedBefore = true
		case StatusFail:
			failed++
			if tr.Localization == nil {
				t.Errorf("failing trial %d has no localisation", tr.Trial)
				continue
			}
			if passedBefore && tr.Localization.Step == 3 && tr.Localization.Method == "siblings" {
				atWrongCall++
			}
		}
	}
	if failed == 0 || atWrongCall == 0 {
		t.Fatalf("%d failing trials, %d localised at the wrong call by their siblings; want both > 0", failed, atWrongCall)
	}
}
