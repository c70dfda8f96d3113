// Package cli implements the probity command line. Each command lives in its
// own file; Main wires them under one cobra root so tests (testscript) can
// drive the whole program in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/probity/probity"
	"github.com/spf13/cobra"
)

// Exit codes. They are a contract: scripts and CI systems rely on them.
const (
	ExitOK       = 0 // success, nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on, or a failed gate
	ExitUsage    = 2 // bad usage or bad input
	ExitInternal = 3 // a bug or an unexpected failure inside probity
	// ExitInterrupted is the shell's code for a command ended by SIGINT
	// (128 + 2): eval run uses it when Ctrl-C stops a run, which then has
	// no gate verdict, so a CI script cannot mistake it for a failed gate.
	ExitInterrupted = 130
)

// exitError carries an exit code through cobra without printing twice.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withExit wraps err so Main exits with code. A nil err with a non-zero code
// exits silently (the command already reported, e.g. findings).
func withExit(code int, err error) error { return &exitError{code: code, err: err} }

// env is what every command gets: its streams and context. No globals, so
// tests can run many commands in one process.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Main runs the probity command line with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "probity:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "probity:", err)
	// Errors from cobra's flag and argument parsing, and input errors, are
	// the user's to fix (2); only an error Probity itself marks internal
	// is a bug (3).
	var pe *probity.Error
	if errors.As(err, &pe) && pe.Code == probity.EINTERNAL {
		return ExitInternal
	}
	return ExitUsage
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "probity",
		Short: "Reliability engineering for LLM agents: make quiet failures loud",
		Long: `Probity: reliability engineering for LLM agents. It makes quiet failures loud.

Probity reads what your agents did (τ-bench, Who&When, SWE-agent, OpenAI and
Anthropic message logs, OpenTelemetry GenAI spans) and tells you where they were
confidently wrong, how far the error spread, how often they fail, and how to
stop a plausible-but-wrong chain before it acts.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newInspectCmd(e),
		newShowCmd(e),
		newConvertCmd(e),
		newVersionCmd(e),
		newAnalyzeCmd(e),
		newEvalCmd(e),
		newProxyCmd(e),
		newReplayCmd(e),
		newReproCmd(e),
		newGuardCmd(e),
		newMCPProxyCmd(e),
		newApprovalsCmd(e),
		newServeCmd(e),
		newPushCmd(e),
		newViewCmd(e),
		newSpecCmd(e),
		newDrillCmd(e),
	)
	// cobra's completion command has no examples of its own; the ones a
	// newcomer needs are where the script goes.
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.Example = `  probity completion bash > /etc/bash_completion.d/probity
  probity completion bash > ~/.local/share/bash-completion/completions/probity
  probity completion zsh > "${fpath[1]}/_probity"
  probity completion fish > ~/.config/fish/completions/probity.fish
  probity completion powershell | Out-String | Invoke-Expression`
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withExit(ExitUsage, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	return root
}
