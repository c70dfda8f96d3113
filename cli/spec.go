package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/spec"
)

func newSpecCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Check what an agent is told before it runs: prompts, tools, policy",
		Long: `Spec checks an agent's specification (its system prompt and task, the tools it
is given and the policy around them) for the ways a perfectly literal
interpreter of it could hurt you.`,
	}
	cmd.AddCommand(newSpecLintCmd(e))
	return cmd
}

type specLintFlags struct {
	tools      []string
	mcp        bool
	mcpTimeout time.Duration
	saveTools  string
	policy     string
	pin        string
	updatePin  bool
	format     string
	failOn     string
}

func newSpecLintCmd(e *env) *cobra.Command {
	var f specLintFlags
	cmd := &cobra.Command{
		Use:   "lint [FILES...] [--tools FILE] [--policy FILE] [--pin tools.lock] [--mcp -- SERVER...]",
		Short: "Lint system prompts, tool definitions and a policy for unsafe gaps",
		Long: `Lint reads system prompts and task specifications (FILES: text, Markdown or
YAML; a .json file among them is read as tool definitions), tool definitions
(--tools: OpenAI or Anthropic tools lists, an MCP tools/list result; --mcp
starts a live MCP server over stdio and asks it), and a policy (--policy), and
reports every finding with the file, line and column it is about (for tool
definitions, the offending key or string), the rule, and a suggested fix.

Rules (docs/spec-lint.md explains each with an example):
  unguarded-side-effect      a tool that changes the world with no confirmation, approval or budget
  unbounded-scope            "delete all", "whenever ..., refund" with no number, amount or scope
  missing-success-criterion  nothing says what done looks like or how to check it
  missing-stop-condition     nothing says when to stop
  missing-escalation         nothing says where to turn when the request cannot be handled
  contradiction              "always X" against "never X"
  priority-gap               two rules for one case with no order between them
  unknown-tool               the prompt names a tool that does not exist
  unknown-argument           the prompt passes an argument the schema lacks
  dangling-policy-rule       a policy rule for a tool that is not there
  weak-schema-free-string    an id, amount, e-mail, path or URL with no pattern, enum or bound
  weak-schema-optional       such an argument is optional
  weak-schema-open-object    additionalProperties open on a side-effecting tool
  tool-instruction           text in a tool definition that gives the model orders (tool poisoning)
  tool-hidden-text           zero-width, bidi, tag characters, ANSI escapes, HTML comments
  tool-shadowing             one tool's description steers another tool
  tool-exfiltration          a definition that sends data to a URL, an address or an argument
  tool-sensitive-path        a definition that names secrets files (~/.ssh, .env, mcp.json)
  tool-changed, tool-added, tool-removed
                             rug pulls: differences from the hashes pinned with --pin

--pin FILE records a hash of every tool definition the first time (the file
does not exist yet) and compares against it afterwards; --update-pin rewrites
it after a review.

--format text (default) prints one finding per line as FILE:LINE:COL; json
prints one object per finding per line; sarif prints a SARIF 2.1.0 log for
GitHub code scanning (upload it with github/codeql-action/upload-sarif).

Exit status: 0 when no finding reaches --fail-on (default high), 1 when one
does, 2 for bad usage or an input that cannot be read (the readable inputs are
still linted and reported; an MCP server that does not start or answer within
--mcp-timeout is such an input).`,
		Example: `  # the τ-bench retail agent's policy prompt, with the policy that enforces it
  probity spec lint ../shared/data/agentrx-tau-retail/retail_policy.txt --policy examples/policies/tau-retail.yaml

  # a system prompt and the OpenAI tools it is sent with
  probity spec lint system-prompt.md --tools tools.json

  # a live MCP server: pin its tools once, then catch any later change (rug pull)
  probity spec lint --pin tools.lock --mcp -- npx -y @modelcontextprotocol/server-filesystem /srv
  probity spec lint --pin tools.lock --mcp -- npx -y @modelcontextprotocol/server-filesystem /srv

  # in CI, for GitHub code scanning
  probity spec lint prompts/*.md --tools tools.json --format sarif --fail-on none > spec.sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSpecLint(e, cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.tools, "tools", nil, "tool definitions: OpenAI or Anthropic tools, an MCP tools/list result (repeatable)")
	fl.BoolVar(&f.mcp, "mcp", false, `start the MCP server given after "--" over stdio and lint its tools`)
	fl.DurationVar(&f.mcpTimeout, "mcp-timeout", 30*time.Second, "how long the MCP server may take to start and list its tools")
	fl.StringVar(&f.saveTools, "save-tools", "", "with --mcp: write the server's tools/list result here, and point findings at it")
	fl.StringVar(&f.policy, "policy", "", "the policy that guards the tools at run time")
	fl.StringVar(&f.pin, "pin", "", "tool lock file: created when missing, compared against otherwise (rug pulls)")
	fl.BoolVar(&f.updatePin, "update-pin", false, "with --pin: rewrite the lock from the current tools after reporting")
	fl.StringVar(&f.format, "format", "text", "output format: text, json (one finding per line) or sarif")
	fl.StringVar(&f.failOn, "fail-on", "high", "exit 1 when a finding is at or above this severity: none, low, medium or high")
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json", "sarif"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("fail-on", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"none", "low", "medium", "high"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func runSpecLint(e *env, cmd *cobra.Command, args []string, f specLintFlags) error {
	if err := checkFormat(f.format, "text", "json", "sarif"); err != nil {
		return err
	}
	failOn, err := probity.ParseSeverity(f.failOn)
	if err != nil {
		return withExit(ExitUsage, fmt.Errorf("--fail-on: %w", err))
	}
	files, server := args, []string(nil)
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		if !f.mcp {
			return withExit(ExitUsage, errors.New(`a command after "--" needs --mcp`))
		}
		files, server = args[:dash], args[dash:]
	}
	if f.mcp && len(server) == 0 {
		return withExit(ExitUsage, errors.New(`--mcp needs the server's command after "--": --mcp -- npx -y @modelcontextprotocol/server-memory`))
	}
	if f.saveTools != "" && !f.mcp {
		return withExit(ExitUsage, errors.New("--save-tools needs --mcp"))
	}
	if f.updatePin && f.pin == "" {
		return withExit(ExitUsage, errors.New("--update-pin needs --pin"))
	}
	if len(files)+len(f.tools) == 0 && !f.mcp && f.policy == "" {
		return withExit(ExitUsage, errors.New("nothing to lint: give prompt files, --tools, --mcp or --policy (see 'probity spec lint --help')"))
	}

	in := &spec.Input{}
	// A policy or lock that cannot be read would change every finding
	// about guards and rug pulls; stop before reporting anything.
	if f.policy != "" {
		if in.Policy, err = spec.LoadPolicy(f.policy); err != nil {
			return withExit(ExitUsage, err)
		}
	}
	var bad []error
	for _, file := range files {
		if strings.EqualFold(filepath.Ext(file), ".json") {
			f.tools = append(f.tools, file)
			continue
		}
		b, err := readSpecFile(file)
		if err == nil {
			var d *spec.Doc
			if d, err = spec.ParseDoc(file, b); err == nil {
				in.Docs = append(in.Docs, d)
			}
		}
		if err != nil {
			bad = append(bad, err)
		}
	}
	for _, file := range f.tools {
		b, err := readSpecFile(file)
		if err == nil {
			var ts []*spec.Tool
			if ts, err = spec.ParseTools(file, b); err == nil {
				in.Tools = append(in.Tools, ts...)
			}
		}
		if err != nil {
			bad = append(bad, err)
		}
	}
	if f.mcp {
		source, raw, err := spec.ListMCPTools(e.ctx, server, f.mcpTimeout, e.stderr)
		if err == nil && f.saveTools != "" {
			if err = os.WriteFile(f.saveTools, raw, 0o644); err == nil {
				source = f.saveTools
			}
		}
		if err == nil {
			var ts []*spec.Tool
			if ts, err = spec.ParseTools(source, raw); err == nil {
				in.Tools = append(in.Tools, ts...)
			}
		}
		if err != nil {
			bad = append(bad, err)
		}
	}
	writePin := false
	if f.pin != "" {
		l, err := spec.ReadLock(f.pin)
		switch {
		case errors.Is(err, os.ErrNotExist):
			writePin = true
		case err != nil:
			return withExit(ExitUsage, err)
		default:
			in.Pinned = l
			writePin = f.updatePin
		}
	}

	findings := spec.Lint(in, nil)
	switch f.format {
	case "json":
		for i := range findings {
			if err := writeJSONLine(e.stdout, &findings[i]); err != nil {
				return err
			}
		}
	case "sarif":
		if err := spec.WriteSARIF(e.stdout, findings, nil, Version); err != nil {
			return err
		}
	default:
		printSpecFindings(e.stdout, findings, in)
	}

	if writePin && len(bad) == 0 {
		if len(in.Tools) == 0 {
			return withExit(ExitUsage, errors.New("--pin: no tools to pin"))
		}
		if err := os.WriteFile(f.pin, spec.NewLock(in.Tools).Marshal(), 0o644); err != nil {
			return withExit(ExitUsage, fmt.Errorf("write %s: %w", f.pin, err))
		}
		fmt.Fprintf(e.stderr, "probity: pinned %d tool(s) in %s\n", len(in.Tools), f.pin)
	}
	if len(bad) > 0 {
		for _, err := range bad {
			fmt.Fprintln(e.stderr, "probity:", err)
		}
		return withExit(ExitUsage, nil)
	}
	if n := countAtOrAbove(findings, failOn); failOn > probity.SeverityNone && n > 0 {
		fmt.Fprintf(e.stderr, "probity: %d finding(s) at or above %s (--fail-on %s)\n", n, failOn, failOn)
		return withExit(ExitFindings, nil)
	}
	return nil
}

// readSpecFile reads a prompt or tool file. Errors are
// input errors that name the file.
func readSpecFile(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		code := probity.EINVALID
		msg := "read"
		if errors.Is(err, os.ErrNotExist) {
			code, msg, err = probity.ENOTFOUND, "file not found", nil
		}
		return nil, &probity.Error{Code: code, File: file, Message: msg, Err: err}
	}
	return b, nil
}

func countAtOrAbove(fs []spec.Finding, s probity.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity >= s {
			n++
		}
	}
	return n
}

func printSpecFindings(w io.Writer, findings []spec.Finding, in *spec.Input) {
	st := newStyle(w)
	bySev := map[probity.Severity]int{}
	for _, f := range findings {
		bySev[f.Severity]++
		sev := f.Severity.String()
		switch f.Severity {
		case probity.SeverityHigh:
			sev = st.red(sev)
		case probity.SeverityMedium:
			sev = st.yellow(sev)
		}
		fmt.Fprintf(w, "%s:%d:%d: %s %s: %s\n", f.Span.File, f.Span.Line, f.Span.Column, sev, st.bold(f.Rule), f.Message)
		if f.Fix != "" {
			fmt.Fprintf(w, "    %s %s\n", st.dim("fix:"), f.Fix)
		}
	}
	pol := "no policy"
	if in.Policy != nil {
		pol = "policy " + in.Policy.File
	}
	read := fmt.Sprintf("%d prompt file(s), %d tool(s), %s", len(in.Docs), len(in.Tools), pol)
	if len(findings) == 0 {
		if len(in.Docs)+len(in.Tools) == 0 && in.Policy == nil {
			return // nothing could be read; the errors say why
		}
		fmt.Fprintf(w, "no findings (%s)\n", read)
		return
	}
	fmt.Fprintf(w, "%d finding(s): %d high, %d medium, %d low (%s)\n", len(findings),
		bySev[probity.SeverityHigh], bySev[probity.SeverityMedium], bySev[probity.SeverityLow], read)
}
