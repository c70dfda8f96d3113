package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity/internal/shareddata"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestConvertOutputIsOTLP runs `probity convert --to otlp-json` and decodes
// its output with plain protojson into an ExportTraceServiceRequest, as any
// OTLP consumer would: the acceptance check.
func TestConvertOutputIsOTLP(t *testing.T) {
	inputs := []struct {
		name  string
		args  func(t *testing.T) []string
		spans int // at least
	}{
		{"otlp example", func(*testing.T) []string {
			return []string{filepath.Join("..", "examples", "support-billing.otlp.json")}
		}, 10},
		{"tau-bench", func(t *testing.T) []string {
			return []string{shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")}
		}, 200 * 5},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(append([]string{"convert", "--to", "otlp-json"}, in.args(t)...), strings.NewReader(""), &stdout, &stderr)
			if code != ExitOK {
				t.Fatalf("convert exit %d, stderr:\n%s", code, stderr.String())
			}
			var req coltrace.ExportTraceServiceRequest
			if err := protojson.Unmarshal(stdout.Bytes(), &req); err != nil {
				t.Fatalf("protojson.Unmarshal(convert output): %v", err)
			}
			n := 0
			for _, rs := range req.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					n += len(ss.GetSpans())
				}
			}
			if n < in.spans {
				t.Errorf("convert wrote %d spans, want at least %d", n, in.spans)
			}
		})
	}
}
