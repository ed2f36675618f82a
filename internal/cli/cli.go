// Package cli holds mlopsd's commands: serve, migrate, token, backup, restore, version, the
// operating commands (runs, monitors, deployments) and demo.
package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Environment variables that stand in for flags.
const (
	EnvListen     = "MLOPSD_LISTEN"
	EnvDatabase   = "MLOPSD_DATABASE"
	EnvAdminToken = "MLOPSD_ADMIN_TOKEN"
	EnvDataRoots  = "MLOPSD_DATA_ROOTS"
	EnvExecutor   = "MLOPSD_EXECUTOR"
	EnvRole       = "MLOPSD_ROLE"
	EnvDataDir    = "MLOPSD_DATA_DIR"
	// EnvAllowPrivateWebhooks is true or 1 to allow webhooks to private addresses.
	EnvAllowPrivateWebhooks = "MLOPSD_ALLOW_PRIVATE_WEBHOOKS"
	EnvExternalURL          = "MLOPSD_EXTERNAL_URL"
)

const (
	defaultListen   = "127.0.0.1:8080"
	defaultDatabase = "sqlite://./mlops.db"
)

// Main runs mlopsd with args and returns the exit code.
func Main(version string, args []string) int {
	root := newRoot(version)
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "mlopsd:", err)
		return 1
	}
	return 0
}

func newRoot(version string) *cobra.Command {
	root := &cobra.Command{
		Use:           "mlopsd",
		Short:         "The MLOps control plane behind the mlops Terraform provider",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(version), newMigrate(), newToken(), newBackup(), newRestore(), newVersion(version),
		newRuns(), newMonitors(), newDeployments(), newDemo())
	return root
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// envBool reads a boolean variable: 1, true, yes or on (any case) is true.
func envBool(name string) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func databaseFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "database", envOr(EnvDatabase, defaultDatabase),
		"database URL: sqlite://<path> or postgres://<user>@<host>/<db> (env "+EnvDatabase+")")
}

func newVersion(version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "mlopsd", version)
		},
	}
}
