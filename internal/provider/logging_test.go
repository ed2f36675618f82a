package provider

import (
	"os"
	"testing"
)

func TestQuietLogsUnlessWanted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		quiet bool
	}{
		{"nothing asked", nil, true},
		{"TF_LOG=off", map[string]string{"TF_LOG": "off"}, true},
		{"TF_LOG", map[string]string{"TF_LOG": "trace"}, false},
		{"TF_LOG=1", map[string]string{"TF_LOG": "1"}, false},
		{"TF_LOG_PROVIDER", map[string]string{"TF_LOG_PROVIDER": "debug"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range append([]string{"TF_LOG", "TF_LOG_PROVIDER"}, sdkLogVariables...) {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			QuietLogsUnlessWanted()
			for _, v := range sdkLogVariables {
				got, set := os.LookupEnv(v)
				if tc.quiet && got != "off" {
					t.Errorf("%s = %q, want off", v, got)
				}
				if !tc.quiet && set {
					t.Errorf("%s = %q, want it unset", v, got)
				}
			}
		})
	}
	// A level set explicitly stays. Every variable is restored afterwards:
	// one left "off" would silence the provider in later tests of this
	// process (TestAccSecretsNeverLogged then found no provider lines).
	for _, v := range append([]string{"TF_LOG", "TF_LOG_PROVIDER"}, sdkLogVariables...) {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("TF_LOG_SDK_FRAMEWORK", "warn")
	QuietLogsUnlessWanted()
	if got := os.Getenv("TF_LOG_SDK_FRAMEWORK"); got != "warn" {
		t.Errorf("TF_LOG_SDK_FRAMEWORK = %q, want warn kept", got)
	}
}
