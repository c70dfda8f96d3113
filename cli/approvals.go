package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity/guard"
)

func newApprovalsCmd(e *env) *cobra.Command {
	var server, tokenFile string
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "List, approve and deny tool calls waiting for a person",
		Long: `Approvals talks to a running "probity guard serve". A policy rule with
"action: approve" holds a call until a person approves or denies it here;
if nobody answers before --approval-timeout, the call is denied. Guards that
share a store (guard serve --db) share their approvals: any of them lists
and answers every one's held calls.

The server is --server (a URL, host:port, or @FILE written by
"guard serve --addr-file"), else $PROBITY_GUARD_URL, else ` + defaultGuardAddr + `.

Listing, approving and denying need the approver token, which the server
made when it started: --token-file, by default the same file the server
uses (<config dir>/probity/approver-token). Agents never hold it, so they
cannot approve their own calls.`,
		Example: `  probity approvals list
  probity approvals approve ap_5f2c9a1e0b7d4c3a --note "customer verified by phone"
  probity approvals deny ap_5f2c9a1e0b7d4c3a --by oncall`,
	}
	cmd.PersistentFlags().StringVar(&server, "server", "", "guard server (URL, host:port or @FILE)")
	cmd.PersistentFlags().StringVar(&tokenFile, "token-file", "", "approver token file (default <config dir>/probity/approver-token, the server's)")
	client := func() (*guard.Client, error) {
		url, err := guardURL(e.ctx, server)
		if err != nil {
			return nil, err
		}
		token, err := approverToken(tokenFile)
		if err != nil {
			return nil, err
		}
		return &guard.Client{BaseURL: url, Token: token}, nil
	}

	var status, format string
	var quiet bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List approvals (pending ones by default)",
		Long: `List prints the approvals the guard server holds, oldest first: pending
ones by default, --status all for every one it remembers. -q prints only the
ids, for scripts.`,
		Example: `  probity approvals list
  probity approvals list --status all --format json
  probity approvals approve $(probity approvals list -q | head -1)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			switch status {
			case "all":
				status = ""
			case guard.StatusPending, guard.StatusApproved, guard.StatusDenied, guard.StatusExpired:
			default:
				return withExit(ExitUsage, fmt.Errorf("unknown --status %q (want pending, approved, denied, expired or all)", status))
			}
			c, err := client()
			if err != nil {
				return err
			}
			items, err := c.Approvals(e.ctx, status)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			switch {
			case quiet:
				for _, a := range items {
					fmt.Fprintln(e.stdout, a.ID)
				}
			case format == "json":
				for _, a := range items {
					if err := writeJSONLine(e.stdout, a); err != nil {
						return err
					}
				}
			default:
				if len(items) == 0 {
					fmt.Fprintln(e.stderr, "no approvals")
					return nil
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tTOOL\tRULE\tRUN\tAGE\tARGS")
				for _, a := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.Tool, a.Rule, a.Run,
						time.Since(a.Created).Round(time.Second), oneLine(string(a.Args), 60))
				}
				tw.Flush()
			}
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "pending", "pending, approved, denied, expired or all")
	list.Flags().StringVar(&format, "format", "text", "output format: text or json (one approval per line)")
	list.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the ids")

	resolve := func(approve bool) *cobra.Command {
		verb, past := "deny", "denied"
		short := "Deny a pending call: it will not run"
		if approve {
			verb, past = "approve", "approved"
			short = "Approve a pending call: it runs"
		}
		var by, note string
		c := &cobra.Command{
			Use:     verb + " ID...",
			Short:   short,
			Long:    short + ". The decision, who made it and the note are written to the guard's audit log.",
			Example: "  probity approvals " + verb + " ap_5f2c9a1e0b7d4c3a --note \"checked with the customer\"",
			Args:    cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := client()
				if err != nil {
					return err
				}
				if by == "" {
					by = os.Getenv("USER")
				}
				var failed []string
				for _, id := range args {
					a, err := c.Resolve(e.ctx, strings.TrimSpace(id), approve, by, note)
					if err != nil {
						fmt.Fprintf(e.stderr, "probity: %s: %v\n", id, err)
						failed = append(failed, id)
						continue
					}
					fmt.Fprintf(e.stdout, "%s %s: %s (rule %s, run %s)\n", past, a.ID, a.Tool, a.Rule, a.Run)
				}
				if len(failed) > 0 {
					return withExit(ExitUsage, errors.New(verb+" failed for "+strings.Join(failed, ", ")))
				}
				return nil
			},
		}
		c.Flags().StringVar(&by, "by", "", "who decides (default $USER)")
		c.Flags().StringVar(&note, "note", "", "why, for the audit log")
		return c
	}
	cmd.AddCommand(list, resolve(true), resolve(false))
	return cmd
}
