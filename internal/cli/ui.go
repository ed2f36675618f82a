package cli

import (
	"fmt"
	"os"

	"github.com/mlopsplane/terraform-provider-mlops/internal/ui"
)

// EnvUISessionKey signs the dashboard's session cookies. Set, sessions
// outlive a restart and replicas behind one address accept each other's;
// unset, each process makes a random key. Environment only: a flag would
// show the secret in the process list.
const EnvUISessionKey = "MLOPSD_UI_SESSION_KEY"

func uiSessionKey() ([]byte, error) {
	v := os.Getenv(EnvUISessionKey)
	if v != "" && len(v) < ui.MinSessionKeyBytes {
		return nil, fmt.Errorf("%s must be at least %d characters, such as the output of openssl rand -hex 32", EnvUISessionKey, ui.MinSessionKeyBytes)
	}
	return []byte(v), nil
}
