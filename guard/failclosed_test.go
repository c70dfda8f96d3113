package guard_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/guard"
)

// bypassTools are the tool names issue 10 found guessed read-only, and so
// let through when a rule about them could not be evaluated.
var bypassTools = []string{"bash", "shell", "sh", "terminal", "python", "eval", "sql_query", "http_request",
	"curl", "rm", "unlink", "rmdir", "chmod", "truncate_table", "wire_money"}

const noRmRF = `
rules:
  - name: no-rm-rf
    message: recursive deletes are not allowed
    deny: 'args.command.matches("rm\\s+-[a-z]*r[a-z]*f")'
`

// TestRuleThatCannotBeEvaluatedDenies reproduces the two bypasses of
// issue 10 item 2 against a real guard: a command padded until the rule
// runs out of time, and a list where the rule expects a string. Both used
// to get "rm -rf /" through for tools named bash, shell, ... because the
// guard denied only tools it guessed side-effecting. Now the rule applies,
// cannot be evaluated, and denies, saying why.
func TestRuleThatCannotBeEvaluatedDenies(t *testing.T) {
	// A time limit no evaluation of a multi-megabyte command can meet, so
	// the test does not depend on the machine's speed.
	g := newGuard(t, noRmRF, guard.Options{EvalTimeout: time.Nanosecond})
	padded, _ := json.Marshal(map[string]string{"command": strings.Repeat(" ", 4<<20) + "rm -rf /"})
	list := json.RawMessage(`{"command": ["rm", "-rf", "/"]}`)
	for _, tool := range bypassTools {
		v, err := g.Decide(context.Background(), guard.Call{Run: "padded-" + tool, Tool: tool, Args: padded})
		if err != nil || v.Decision != "deny" || !strings.Contains(v.Reason, "failing closed") {
			t.Errorf("%s with a padded command: %s (%q) %v, want deny failing closed", tool, v.Decision, v.Reason, err)
		}
		if !v.SideEffect {
			t.Errorf("%s is classed read-only; want side-effecting by default", tool)
		}
	}

	g = newGuard(t, noRmRF, guard.Options{})
	for _, tool := range append(bypassTools, "read_file", "get_weather") {
		v, err := g.Decide(context.Background(), guard.Call{Run: "list-" + tool, Tool: tool, Args: list})
		if err != nil || v.Decision != "deny" || !strings.Contains(v.Reason, "failing closed") || len(v.Matches) != 1 || v.Matches[0].Error == "" {
			t.Errorf("%s with a list command: %s (%q) %v, want deny failing closed with the error", tool, v.Decision, v.Reason, err)
		}
	}

	// The rule still judges what it can read: a harmless command goes
	// ahead, a plain rm -rf does not.
	for cmd, want := range map[string]string{"ls -la": "allow", "rm -rf /": "deny"} {
		args, _ := json.Marshal(map[string]string{"command": cmd})
		if v, _ := g.Decide(context.Background(), guard.Call{Run: "plain", Tool: "bash", Args: args}); v.Decision != want {
			t.Errorf("bash %q: %s, want %s", cmd, v.Decision, want)
		}
	}
}
