package monitor_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/monitor"
)

func TestDefaultConfig(t *testing.T) {
	cfg, err := monitor.Default()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range cfg.Monitors {
		got = append(got, m.Name+":"+m.Kind)
		if m.ARL0() != 10_000 {
			t.Errorf("%s: ARL0 = %v, want the default 10,000", m.Name, m.ARL0())
		}
	}
	want := "failure-rate:verdict high-severity-detector:detector policy-denials:policy negative-feedback:feedback eval-pass-rate:eval cost-per-run:cost latency-per-run:latency"
	if strings.Join(got, " ") != want {
		t.Errorf("default monitors = %v, want %s", got, want)
	}
	if g := cfg.Monitors[0].GroupBy; strings.Join(g, ",") != "service.name,gen_ai.agent.name" {
		t.Errorf("failure-rate group_by = %v, want the defaults' service.name, gen_ai.agent.name", g)
	}
	if cfg.Monitors[0].Line != 11 {
		t.Errorf("failure-rate Line = %d, want 11", cfg.Monitors[0].Line)
	}
}

// Every mistake names the file and the line and column of the offending
// value.
func TestConfigErrors(t *testing.T) {
	env := map[string]string{"SLACK_URL": "https://hooks.slack.example/T1/B2/xyz"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name, src, where, msg string
	}{
		{"empty", "\n", "", "empty monitors file"},
		{"no monitors", "defaults: {arl0: 5000}\n", "", "no monitors"},
		{"unknown key", "monitors:\n  - name: a\n    kind: verdict\n    arl: 5000\n", "line 4, column 5", "unknown field"},
		{"unknown kind", "monitors:\n  - name: a\n    kind: vibes\n", "line 3, column 11", `unknown kind "vibes"`},
		{"bad name", "monitors:\n  - name: 'a b'\n    kind: verdict\n", "line 2, column 11", "monitor name"},
		{"duplicate", "monitors:\n  - {name: a, kind: verdict}\n  - {name: a, kind: policy}\n", "line 3, column 12", `duplicate monitor name "a" (first defined at line 2)`},
		{"field of another kind", "monitors:\n  - name: a\n    kind: verdict\n    above: 3s\n", "line 4, column 12", "above does not apply to a verdict monitor"},
		{"bad verdict", "monitors:\n  - name: a\n    kind: verdict\n    verdicts: [fail, broken]\n", "line 4, column 22", `unknown verdict "broken"`},
		{"arl0 range", "monitors:\n  - name: a\n    kind: verdict\n    arl0: 10\n", "line 4, column 11", "arl0 = 10, want 100 to"},
		{"default arl0 range", "defaults:\n  warmup: 5\nmonitors:\n  - name: a\n    kind: verdict\n", "line 4, column 5", "warmup = 5, want 30 to"},
		{"shift and ratio", "monitors:\n  - name: a\n    kind: verdict\n    shift: 0.1\n    ratio: 2\n", "line 5, column 12", "set shift or ratio, not both"},
		{"bad latency", "monitors:\n  - name: a\n    kind: latency\n    above: fast\n", "line 4, column 12", `latency "fast"`},
		{"bad cost", "monitors:\n  - name: a\n    kind: cost\n    above: lots\n", "line 4, column 12", `cost "lots"`},
		{"quantile baseline", "monitors:\n  - name: a\n    kind: latency\n    baseline: 0.05\n", "line 4, column 15", "needs a fixed threshold"},
		{"kind key in defaults", "defaults:\n  verdicts: [fail]\nmonitors:\n  - {name: a, kind: verdict}\n", "line 2, column 13", "specific to a kind"},
		{"min severity", "monitors:\n  - name: a\n    kind: detector\n    min_severity: huge\n", "line 4, column 19", `unknown severity "huge"`},
		{"group by detector", "monitors:\n  - name: a\n    kind: detector\n    group_by: [detector]\n", "line 4, column 16", "added by detector monitors"},
		{"notifier type", "monitors:\n  - {name: a, kind: verdict}\nnotifiers:\n  - name: n\n    type: pager\n    url: http://x\n", "line 5, column 11", `unknown notifier type "pager"`},
		{"notifier url", "monitors:\n  - {name: a, kind: verdict}\nnotifiers:\n  - name: n\n    type: slack\n    url: ftp://x\n", "line 6, column 10", "want an http:// or https:// URL"},
		{"notifier env", "monitors:\n  - {name: a, kind: verdict}\nnotifiers:\n  - name: n\n    type: slack\n    url: ${MISSING_URL}\n", "line 6, column 10", "MISSING_URL is not set"},
		{"notifier monitor", "monitors:\n  - {name: a, kind: verdict}\nnotifiers:\n  - name: n\n    type: webhook\n    url: http://x\n    monitors: [b]\n", "line 7, column 16", `no monitor named "b"`},
		{"backoff", "monitors:\n  - {name: a, kind: verdict}\ndelivery:\n  initial_backoff: soon\n", "line 4, column 20", "initial_backoff"},
		{"syntax", "monitors:\n  - name: a\n   kind: verdict\n", "line 3", ""},
		{"alias bomb", aliasBomb(), "line", "expands to more than"},
		{"too big", "monitors:\n" + strings.Repeat("# padding\n", 120_000), "", "more than the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := monitor.Parse("mon.yaml", []byte(tt.src), monitor.WithLookupEnv(lookup))
			var pe *probity.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want a *probity.Error", err)
			}
			if pe.Code != probity.EINVALID || pe.File != "mon.yaml" || !strings.HasPrefix(pe.Where, tt.where) || !strings.Contains(pe.Error(), tt.msg) {
				t.Errorf("Parse error = code %s, %q; want file mon.yaml, where %q, message containing %q", pe.Code, pe.Error(), tt.where, tt.msg)
			}
		})
	}
	// The slack URL is a secret: it is expanded, and never echoed.
	cfg, err := monitor.Parse("mon.yaml", []byte("monitors:\n  - {name: a, kind: verdict}\nnotifiers:\n  - {name: n, type: slack, url: '${SLACK_URL}'}\n"), monitor.WithLookupEnv(lookup))
	if err != nil || cfg.Notifiers[0].URL != env["SLACK_URL"] {
		t.Errorf("env expansion: %v, %+v", err, cfg)
	}
}

// aliasBomb is a "billion laughs" document: nine levels of ten aliases.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(p+", ", 9) + p + "]\n")
	}
	b.WriteString("monitors: []\n")
	return b.String()
}

func TestLoadFile(t *testing.T) {
	if _, err := monitor.LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("LoadFile(missing) = %v, want ENOTFOUND", err)
	}
	path := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(path, []byte("monitors:\n  - name: slow\n    kind: latency\n    above: 30s\n    where: {service.name: [checkout]}\n"), 0o644)
	cfg, err := monitor.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Monitors[0]; cfg.File != path || m.Kind != "latency" || strings.Join(m.Where["service.name"], ",") != "checkout" {
		t.Errorf("LoadFile = %+v", cfg.Monitors[0])
	}
	os.WriteFile(path, []byte("monitors:\n  - name: slow\n    kind: latency\n    above: -3s\n"), 0o644)
	if _, err := monitor.LoadFile(path); err == nil || !strings.HasPrefix(err.Error(), path+": line 4, column 12: ") {
		t.Errorf("LoadFile(bad) = %v, want an error starting %q", err, path+": line 4, column 12: ")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(string(monitor.DefaultYAML()))
	f.Add("monitors:\n  - {name: a, kind: cost, above: 0.5}\nnotifiers:\n  - {name: n, type: webhook, url: 'http://x'}\n")
	f.Add(aliasBomb())
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := monitor.Parse("f.yaml", []byte(src), monitor.WithLookupEnv(func(string) (string, bool) { return "", false }))
		if err != nil {
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID {
				t.Fatalf("Parse error %v is not an EINVALID *probity.Error", err)
			}
			return
		}
		if len(cfg.Monitors) == 0 {
			t.Fatal("Parse succeeded with no monitors")
		}
	})
}
