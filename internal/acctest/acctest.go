// Package acctest holds what the provider's acceptance tests share: the
// provider factories, a real mlopsd started in-process per test, and small
// config and check helpers, so each test reads as a scenario.
package acctest

import (
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/mlopsplane/terraform-provider-mlops/internal/provider"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// ProviderFactories runs the provider in-process for terraform-plugin-testing.
var ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"mlops": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// PreCheck fails early when the acceptance environment is incomplete.
func PreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Log("TF_ACC_TERRAFORM_PATH is not set: terraform-plugin-testing will look for terraform on PATH")
	}
}

// Server is a running mlopsd for one test.
type Server struct {
	*testserver.Instance
}

// StartServer starts a fresh mlopsd (SQLite, or PostgreSQL with
// MLOPS_TEST_STORE=postgres) for a test that runs alone (t.Setenv). Without
// TF_ACC the test is skipped before any server starts, as resource.Test would.
func StartServer(t *testing.T) *Server {
	t.Helper()
	skipUnlessAcc(t)
	return &Server{Instance: testserver.Start(t)}
}

// StartParallelServer marks the test parallel and only then starts its
// server, so a test waiting for its turn holds no server: dozens of idle
// engines polling one PostgreSQL would slow the tests that run. Tests using
// it call resource.Test, not resource.ParallelTest (t.Parallel runs once).
func StartParallelServer(t *testing.T) *Server {
	t.Helper()
	skipUnlessAcc(t)
	t.Parallel()
	return &Server{Instance: testserver.Start(t)}
}

func skipUnlessAcc(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests run with TF_ACC=1")
	}
}

// ProviderBlock is a provider block pointing at the server with its admin token.
func (s *Server) ProviderBlock() string {
	return s.ProviderBlockWithToken(s.AdminToken)
}

// ProviderBlockWithToken is a provider block using the given token.
func (s *Server) ProviderBlockWithToken(token string) string {
	return fmt.Sprintf(`
provider "mlops" {
  endpoint = %q
  token    = %q
}
`, s.URL, token)
}

// Config prefixes a configuration with the server's provider block.
func (s *Server) Config(body string) string {
	return s.ProviderBlock() + body
}
