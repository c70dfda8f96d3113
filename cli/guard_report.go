package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
)

// reportRow is one rule's line in `guard report`: what it did, and what it
// would have done in shadow mode.
type reportRow struct {
	Rule      string `json:"rule"`
	Denied    int    `json:"denied"`
	Approval  int    `json:"approval_requested"`
	Logged    int    `json:"logged"`
	WouldDeny int    `json:"would_deny"`
	WouldAsk  int    `json:"would_approve"`
	Errors    int    `json:"errors"`
}

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
			rows := map[string]*reportRow{}
			row := func(name string) *reportRow {
				if rows[name] == nil {
					rows[name] = &reportRow{Rule: name}
				}
				return rows[name]
			}
			var decisions, allowed int
			approvals := map[string]int{}
			poisoned := map[string]bool{}
			for _, file := range args {
				err := readAuditLog(file, func(r *guard.AuditRecord) {
					switch r.Event {
					case "decision":
						decisions++
						if r.Decision == "allow" {
							allowed++
						}
						for _, m := range r.Matches {
							rw := row(m.Rule)
							switch {
							case m.Error != "":
								rw.Errors++
							case m.Shadow && m.Effect == "deny":
								rw.WouldDeny++
							case m.Shadow && m.Effect == "approve":
								rw.WouldAsk++
							case m.Effect == "deny":
								rw.Denied++
							case m.Effect == "approve":
								rw.Approval++
							case m.Effect == "log":
								rw.Logged++
							}
						}
					case "approval":
						approvals[r.Status]++
					case "tool-poisoning":
						poisoned[r.Tool] = true
					}
				})
				if err != nil {
					return withExit(ExitUsage, err)
				}
			}
			names := make([]string, 0, len(rows))
			for n := range rows {
				names = append(names, n)
			}
			sort.Strings(names)
			if format == "json" {
				out := struct {
					Decisions int            `json:"decisions"`
					Allowed   int            `json:"allowed"`
					Rules     []reportRow    `json:"rules"`
					Approvals map[string]int `json:"approvals"`
					Poisoned  []string       `json:"poisoned_tools"`
				}{Decisions: decisions, Allowed: allowed, Rules: []reportRow{}, Approvals: approvals, Poisoned: sortedSet(poisoned)}
				for _, n := range names {
					out.Rules = append(out.Rules, *rows[n])
				}
				return writeJSONLine(e.stdout, out)
			}
			fmt.Fprintf(e.stdout, "%d decisions, %d allowed\n", decisions, allowed)
			if len(names) > 0 {
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "RULE\tDENIED\tAPPROVAL\tLOGGED\tWOULD DENY\tWOULD APPROVE\tERRORS\t")
				for _, n := range names {
					r := rows[n]
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Rule, r.Denied, r.Approval, r.Logged, r.WouldDeny, r.WouldAsk, r.Errors)
				}
				tw.Flush()
			}
			if len(approvals) > 0 {
				fmt.Fprintf(e.stdout, "approvals: %d approved, %d denied, %d expired\n",
					approvals[guard.StatusApproved], approvals[guard.StatusDenied], approvals[guard.StatusExpired])
			}
			if len(poisoned) > 0 {
				fmt.Fprintf(e.stdout, "tools with poisoned descriptions: %v\n", sortedSet(poisoned))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readAudit calls fn for every record of an audit log.
func readAuditLog(file string, fn func(*guard.AuditRecord)) error {
	f, err := os.Open(file)
	if err != nil {
		return &probity.Error{Code: probity.ENOTFOUND, File: file, Message: "open audit log", Err: err}
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 && len(bytes.TrimSpace(b)) > 0 {
			var rec guard.AuditRecord
			if jerr := json.Unmarshal(b, &rec); jerr != nil || rec.Event == "" {
				if jerr == nil {
					jerr = fmt.Errorf("no \"event\"")
				}
				return &probity.Error{Code: probity.EINVALID, File: file, Where: fmt.Sprintf("line %d", line), Message: "not an audit record", Err: jerr}
			}
			fn(&rec)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &probity.Error{Code: probity.EINVALID, File: file, Where: fmt.Sprintf("line %d", line), Message: "read", Err: err}
		}
	}
}
