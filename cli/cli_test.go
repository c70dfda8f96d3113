package cli

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run "probity" in-process as a real command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"probity":       func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"brittle-agent": brittleAgentMain,
	})
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
