package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newApprovalsCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newApprovalsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "approvals",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("approvals is not built yet"))
		},
	}
}
