package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the release version; release builds set it with
// -ldflags "-X github.com/probity/probity/cli.Version=v1.2.3".
var Version = "dev"

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of probity",
		Long: `Print probity's version, the Go version it was built with, and the
platform. A binary built from a checkout says "dev" unless the build set
-ldflags "-X github.com/probity/probity/cli.Version=v1.2.3"; one installed
with "go install" of a tagged module says its module version.`,
		Example: `  probity version
  probity version | cut -d' ' -f2     # the version alone, for scripts`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := Version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(e.stdout, "probity %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
