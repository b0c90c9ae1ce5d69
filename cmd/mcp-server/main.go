// Command mcp-server is modelgate: an MCP server that tells agents which
// models a runtime offers and provisions workspaces that really start.
// Run `mcp-server --help` for the commands and their configuration.
package main

import (
	"os"

	"github.com/modelgate/modelgate/cli"
)

func main() {
	os.Exit(cli.Main(cli.Env{
		Args:   os.Args[1:],
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	}))
}
