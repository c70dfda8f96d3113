package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newEvalCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newEvalCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "eval",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("eval is not built yet"))
		},
	}
}
