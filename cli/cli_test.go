package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/probity/probity/internal/judgetest"
	"github.com/probity/probity/internal/testagent"
	"github.com/probity/probity/proxy"
)

// TestMain lets testscript run "probity" in-process as a real command, and
// "demo-agent", the exec side of examples/agent, as the target the eval
// stories evaluate.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"probity":       func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"demo-agent":    func() { os.Exit(demoAgent()) },
		"brittle-agent": brittleAgentMain,
		"judge-model":   judgeModelMain,
	})
}

// judgeModelMain serves the scripted judge model (internal/judgetest) on a
// loopback port, written to the file named by its argument, until
// interrupted: the upstream the judge stories record from.
func judgeModelMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: judge-model ADDR-FILE")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		err = os.WriteFile(os.Args[1], []byte(ln.Addr().String()), 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "judge-model:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m := &judgetest.Model{}
	proxy.Serve(ctx, ln, m)
	fmt.Fprintf(os.Stderr, "judge-model: answered %d requests\n", len(m.Requests()))
	os.Exit(0)
}

// demoAgent answers one eval request on stdin as examples/agent does, with
// the seed and delta from $PROBITY_AGENT_SEED and $PROBITY_AGENT_DELTA.
func demoAgent() int {
	seed, _ := strconv.ParseUint(os.Getenv("PROBITY_AGENT_SEED"), 10, 64)
	delta, _ := strconv.ParseFloat(os.Getenv("PROBITY_AGENT_DELTA"), 64)
	a := &testagent.Agent{Seed: seed, Delta: delta}
	err := a.RunExec(context.Background(), os.Stdin, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, testagent.ErrCrash):
		return 3
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo-agent:", err)
		return 1
	}
	return 0
}

// TestScripts runs every story in testdata/script: what a user types and
// sees. Set UPDATE_GOLDEN=1 to rewrite cmp files from actual output.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		RequireExplicitExec: true,
		Condition:           scriptCondition,
		Setup: func(env *testscript.Env) error {
			wd, _ := os.Getwd()
			env.Setenv("EXAMPLES", wd+"/../examples")
			// Where servers keep the approver token and probity approvals
			// finds it: inside the script's work directory.
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			if d := os.Getenv("PROBITY_SHARED_DATA"); d != "" {
				env.Setenv("SHARED", d)
			} else {
				env.Setenv("SHARED", wd+"/../../shared/data")
			}
			return nil
		},
	})
}

// scriptCondition adds [have:PROG] to the stories' conditions: true when
// PROG is on PATH. Where it is missing, a story may skip on a developer's
// machine ([!have:curl] skip), but in CI (CI=true) the condition is an
// error, so the story fails instead of passing silently: no test skips in
// CI for a missing tool. Use it instead of [exec:PROG].
func scriptCondition(cond string) (bool, error) {
	prog, ok := strings.CutPrefix(cond, "have:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(prog); err == nil {
		return true, nil
	}
	if inCI() {
		return false, fmt.Errorf("%s is not on PATH, and CI=true: install it (a story must not skip in CI)", prog)
	}
	return false, nil
}

func inCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// TestScriptsDoNotSkipOnExec keeps stories from skipping on [exec:PROG],
// which would pass silently in CI when PROG is missing; [have:PROG] fails
// there instead.
func TestScriptsDoNotSkipOnExec(t *testing.T) {
	files, err := filepath.Glob("testdata/script/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stories found: %v", err)
	}
	re := regexp.MustCompile(`(?m)^\s*\[!?exec:[^\]]*\].*\bskip\b`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.Find(b); m != nil {
			t.Errorf("%s: %q skips silently in CI; use [!have:PROG] skip", f, m)
		}
	}
}

// TestHaveCondition checks the [have:PROG] condition both ways, in and
// out of CI, against a real program and a missing one.
func TestHaveCondition(t *testing.T) {
	t.Setenv("CI", "")
	if ok, err := scriptCondition("have:sh"); !ok || err != nil {
		t.Errorf("have:sh = %v, %v; want true, nil", ok, err)
	}
	if ok, err := scriptCondition("have:probity-no-such-tool"); ok || err != nil {
		t.Errorf("have:missing outside CI = %v, %v; want false, nil (skip)", ok, err)
	}
	t.Setenv("CI", "true")
	if ok, err := scriptCondition("have:probity-no-such-tool"); ok || err == nil || !strings.Contains(err.Error(), "CI=true") {
		t.Errorf("have:missing in CI = %v, %v; want an error", ok, err)
	}
	if _, err := scriptCondition("nonsense"); err == nil {
		t.Error("an unknown condition is not an error")
	}
}
