// Command probity is the command-line tool and server of Probity:
// reliability engineering for LLM agents. See the README for a tour.
package main

import (
	"os"

	"github.com/probity/probity/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
