package analysis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/policy"
)

func load(t *testing.T, file string) *probity.Trace {
	t.Helper()
	ts, err := ingest.ReadAll(context.Background(), file, ingest.Options{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("ReadAll(%s) = %d traces, %v; want 1 trace", file, len(ts), err)
	}
	return ts[0]
}

// The bundled cascade fails at the step where the swapped id first appears,
// and a policy joins the detectors' findings in the same report.
func TestRunDetectorsAndPolicy(t *testing.T) {
	tr := load(t, "../examples/refund-cascade.json")
	r := analysis.New(analysis.Options{}).Run(tr)
	if r.Verdict != probity.VerdictFail || r.RootCauseStep == nil || *r.RootCauseStep != 8 {
		t.Fatalf("Run(refund-cascade) = verdict %s, root cause %v; want fail at step 8", r.Verdict, r.RootCauseStep)
	}
	p, err := policy.Parse([]byte(`rules:
  - name: no-refunds
    tools: [refund_order]
    deny: 'true'
    severity: high
`))
	if err != nil {
		t.Fatal(err)
	}
	withPolicy := analysis.New(analysis.Options{Policy: p}).Run(tr)
	var got []string
	for _, f := range withPolicy.Findings {
		if strings.HasPrefix(f.Detector, "policy:") {
			got = append(got, f.Detector)
		}
	}
	if len(got) != 1 || got[0] != "policy:no-refunds" {
		t.Errorf("policy findings = %v, want [policy:no-refunds]", got)
	}
	if len(withPolicy.Findings) != len(r.Findings)+1 {
		t.Errorf("with policy: %d findings, want the detectors' %d plus one", len(withPolicy.Findings), len(r.Findings))
	}
}
