// Command terraform-provider-mlops is the Terraform provider for the mlops control plane.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	rtdebug "runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/mlopsplane/terraform-provider-mlops/internal/provider"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

// gcPercent is the provider's GOGC unless the environment sets one. Its live
// heap is small and does not grow with the configuration (schemas and the
// requests in flight), but the framework allocates about 1 MB per resource in
// a plan: at the default of 100 the collector ran 27 times in a plan of 200
// models and took a fifth of the provider's CPU time (6 times at 400).
const gcPercent = 400

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers such as delve")
	flag.Parse()
	if !debug {
		provider.QuietLogsUnlessWanted()
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		rtdebug.SetGCPercent(gcPercent)
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/mlopsplane/mlops",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
