package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newShowCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "show",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("show is not built yet"))
		},
	}
}
