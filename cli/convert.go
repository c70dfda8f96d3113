package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newConvertCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newConvertCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "convert",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("convert is not built yet"))
		},
	}
}
