package provider_test

import (
	"net"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/provider"
)

// Each setting that is missing or wrong gets a diagnostic naming the
// setting or the environment variable to fix.
func TestAccProvider_missingEndpoint(t *testing.T) {
	t.Setenv(provider.EnvEndpoint, "")
	t.Setenv(provider.EnvToken, "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      `provider "mlops" {}` + projectConfig("p1", ""),
			ExpectError: regexp.MustCompile(`(?s)Missing mlopsd endpoint.*MLOPS_ENDPOINT`),
		}},
	})
}

func TestAccProvider_missingToken(t *testing.T) {
	srv := acctest.StartServer(t)
	t.Setenv(provider.EnvToken, "")
	t.Setenv(provider.EnvEndpoint, srv.URL)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      `provider "mlops" {}` + projectConfig("p1", ""),
			ExpectError: regexp.MustCompile(`(?s)Missing mlopsd token.*MLOPS_TOKEN`),
		}},
	})
}

func TestAccProvider_unreachable(t *testing.T) {
	// A port that was free a moment ago: nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "mlops" {
  endpoint = "http://` + addr + `"
  token    = "mlops_anything"
}
` + projectConfig("p1", ""),
			ExpectError: regexp.MustCompile(`(?s)Cannot reach mlopsd.*MLOPS_ENDPOINT`),
		}},
	})
}

func TestAccProvider_environment(t *testing.T) {
	srv := acctest.StartServer(t)
	t.Setenv(provider.EnvEndpoint, srv.URL)
	t.Setenv(provider.EnvToken, srv.AdminToken)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `provider "mlops" {}` + projectConfig("from-env", "configured from the environment"),
		}},
	})
}
