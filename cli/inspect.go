package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newInspectCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newInspectCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "inspect",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("inspect is not built yet"))
		},
	}
}
