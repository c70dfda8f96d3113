package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newReplayCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newReplayCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "replay",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("replay is not built yet"))
		},
	}
}
