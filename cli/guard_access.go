package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/probity/probity/guard"
)

// accessFlags are the flags of commands that serve the guard's HTTP API
// (guard serve, mcp-proxy): where it may listen and who may approve.
type accessFlags struct {
	allowRemote       bool
	approverTokenFile string
}

func (a *accessFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&a.allowRemote, "allow-remote", false, "allow listening beyond loopback; needs a client token in $"+guard.TokenEnv+" that every client then sends")
	cmd.Flags().StringVar(&a.approverTokenFile, "approver-token-file", "", "file with the token that approves and denies held calls, made if missing (default <config dir>/probity/approver-token); never give it to an agent")
}

// clientToken is the client token from the environment, if any.
func clientToken() (string, error) {
	t := os.Getenv(guard.TokenEnv)
	if t != "" && len(t) < guard.MinTokenLength {
		return "", withExit(ExitUsage, fmt.Errorf("$%s is shorter than %d characters", guard.TokenEnv, guard.MinTokenLength))
	}
	return t, nil
}

// options reads (or makes) the approver token and the client token, and
// says on stderr where the approver token is.
func (a *accessFlags) options(e *env, who string) (guard.HTTPOptions, error) {
	ct, err := clientToken()
	if err != nil {
		return guard.HTTPOptions{}, err
	}
	path := a.approverTokenFile
	if path == "" {
		if path, err = guard.DefaultApproverTokenFile(); err != nil {
			return guard.HTTPOptions{}, withExit(ExitUsage, err)
		}
	}
	at, created, err := guard.ApproverTokenFile(path)
	if err != nil {
		return guard.HTTPOptions{}, withExit(ExitUsage, err)
	}
	made := ""
	if created {
		made = ", made now"
	}
	fmt.Fprintf(e.stderr, "probity %s: approvals need the approver token in %s%s (probity approvals reads it there)\n", who, path, made)
	return guard.HTTPOptions{ApproverToken: at, ClientToken: ct}, nil
}

// listen checks addr (loopback, or --allow-remote with a client token) and
// opens it.
func (a *accessFlags) listen(addr, flag string) (net.Listener, error) {
	ct, err := clientToken()
	if err != nil {
		return nil, err
	}
	if err := guard.CheckListen(addr, a.allowRemote, ct); err != nil {
		return nil, withExit(ExitUsage, fmt.Errorf("%s: %w", flag, err))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, withExit(ExitUsage, fmt.Errorf("%s %s: %w", flag, addr, err))
	}
	return ln, nil
}

// approverToken reads the approver token for `probity approvals`: from
// file, else the default file. It is never made here: only a server makes
// one.
func approverToken(file string) (string, error) {
	path := file
	if path == "" {
		var err error
		if path, err = guard.DefaultApproverTokenFile(); err != nil {
			return "", withExit(ExitUsage, err)
		}
	}
	t, err := guard.ReadTokenFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", withExit(ExitUsage, fmt.Errorf("no approver token in %s: the guard server makes it when it starts (or give --token-file)", path))
	}
	if err != nil {
		return "", withExit(ExitUsage, err)
	}
	return t, nil
}
