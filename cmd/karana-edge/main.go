// Command karana-edge is the daemon and the technician's tool on a Karana
// monitoring box. This file only parses verbs and flags; the work lives in
// the packages.
package main

import (
	"os"
)

// Set by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}
