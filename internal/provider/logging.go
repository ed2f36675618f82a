package provider

import (
	"os"
	"strings"
)

// sdkLogVariables name the levels of what the provider logs: the plugin
// SDK's own lines (terraform-plugin-go and the framework) and the provider's.
var sdkLogVariables = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_MLOPS"}

// QuietLogsUnlessWanted turns the provider's logging off when Terraform
// would throw the lines away: unless TF_LOG or TF_LOG_PROVIDER asks for
// them, Terraform discards what a provider writes, yet the plugin SDK logs
// every call at trace level regardless (terraform-plugin-framework#1269).
// Formatting those lines was a third of the provider's CPU time in a plan of
// 200 resources (make bench). A level set explicitly is left alone. Call it
// before serving, and not in debug mode, where the lines go to a terminal.
func QuietLogsUnlessWanted() {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER"} {
		if level := strings.TrimSpace(os.Getenv(v)); level != "" && !strings.EqualFold(level, "off") {
			return
		}
	}
	for _, v := range sdkLogVariables {
		if _, set := os.LookupEnv(v); !set {
			_ = os.Setenv(v, "off")
		}
	}
}
