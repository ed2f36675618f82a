// Command mlopsd is the MLOps control plane: the API server that the
// Terraform provider reconciles against.
package main

import (
	"os"

	_ "time/tzdata" // schedules name IANA zones; the static binary carries its own database

	"github.com/mlopsplane/terraform-provider-mlops/internal/cli"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(cli.Main(version, os.Args[1:]))
}
