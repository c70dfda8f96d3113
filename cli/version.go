package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newVersionCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "version",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("version is not built yet"))
		},
	}
}
