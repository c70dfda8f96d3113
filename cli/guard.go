package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newGuardCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newGuardCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "guard",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("guard is not built yet"))
		},
	}
}
