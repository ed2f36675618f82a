//go:build generate

// Package tools pins the versions of the build tools (docs generator,
// linter) in their own module, so they stay out of the provider's go.mod.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)
