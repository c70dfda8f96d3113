package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/probity/probity/internal/testagent"
)

// TestMain lets testscript run "probity" in-process as a real command, and
// "demo-agent", the exec side of examples/agent, as the target the eval
// stories evaluate.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"probity":    func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"demo-agent": func() { os.Exit(demoAgent()) },
	})
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
