package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newProxyCmd is a placeholder until the command is built; it says so
// plainly rather than pretending to work.
func newProxyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "proxy",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return withExit(ExitUsage, errors.New("proxy is not built yet"))
		},
	}
}
