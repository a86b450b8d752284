// Command cellc compiles .cell files; the command tree lives in cellc/cli.
package main

import (
	"os"

	"cellc/cli"
)

func main() { os.Exit(cli.Main()) }
