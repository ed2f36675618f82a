package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
)

func newMigrate() *cobra.Command {
	var database string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sqlstore.Open(cmd.Context(), database, true)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
			return nil
		},
	}
	databaseFlag(cmd, &database)
	return cmd
}

func newToken() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens directly in the database"}
	var database, role, project, description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print its secret (shown only once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sqlstore.Open(cmd.Context(), database, true)
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := server.IssueToken(cmd.Context(), st, role, project, description)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.Secret)
			return nil
		},
	}
	databaseFlag(create, &database)
	create.Flags().StringVar(&role, "role", "", "admin, editor or viewer")
	create.Flags().StringVar(&project, "project", "", "project the token may act in (default: every project)")
	create.Flags().StringVar(&description, "description", "", "what the token is for")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}
