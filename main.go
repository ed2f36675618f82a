// Command terraform-provider-mlops is the Terraform provider for the mlops control plane.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/mlopsplane/terraform-provider-mlops/internal/provider"
)

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run with support for debuggers such as delve")
	flag.Parse()
	if !debug {
		provider.QuietLogsUnlessWanted()
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/mlopsplane/mlops",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
