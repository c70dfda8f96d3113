package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReproCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newReproCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "repro",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("repro is not built yet"))
		},
	}
}
