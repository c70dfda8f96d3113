package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/probity/probity/guard"
)

func newGuardReportCmd(e *env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report AUDIT.jsonl...",
		Short: "Summarise guard audit logs: what each rule blocked, or would have",
		Long: `Report reads the audit logs written by "probity guard serve" and
"probity mcp-proxy" and prints, per rule and budget, how many calls it denied,
sent for approval or logged, and how many it would have denied or sent for
approval in shadow mode: the evidence for switching a shadow policy to
enforce. Approval outcomes and tool-poisoning reports are counted too.

A line that is not an audit record is an error naming the file and line.`,
		Example: `  probity guard report probity-audit.jsonl
  probity guard report --format json audit/*.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			sum, err := guard.SummarizeAudit(args...)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			if format == "json" {
				return writeJSONLine(e.stdout, sum)
			}
			fmt.Fprintf(e.stdout, "%d decisions, %d allowed\n", sum.Decisions, sum.Allowed)
			if len(sum.Rules) > 0 {
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "RULE\tDENIED\tAPPROVAL\tLOGGED\tWOULD DENY\tWOULD APPROVE\tERRORS\t")
				for _, r := range sum.Rules {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Rule, r.Denied, r.Approval, r.Logged, r.WouldDeny, r.WouldApprove, r.Errors)
				}
				tw.Flush()
			}
			if len(sum.Approvals) > 0 {
				fmt.Fprintf(e.stdout, "approvals: %d approved, %d denied, %d expired\n",
					sum.Approvals[guard.StatusApproved], sum.Approvals[guard.StatusDenied], sum.Approvals[guard.StatusExpired])
			}
			if len(sum.PoisonedTools) > 0 {
				fmt.Fprintf(e.stdout, "tools with poisoned descriptions: %v\n", sum.PoisonedTools)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
