package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAnalyzeCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newAnalyzeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "analyze",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("analyze is not built yet"))
		},
	}
}
