package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
)

func newBackup() *cobra.Command {
	var database, to string
	var force bool
	cmd := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Write a consistent snapshot of the SQLite database to a file, also while mlopsd serves",
		Long: "Write a consistent snapshot of the SQLite database to a file (SQLite's VACUUM INTO: one read\n" +
			"transaction's view, taken while servers go on reading and writing). The snapshot is written to a\n" +
			"temporary file beside --to, checked, synced and renamed, so --to never holds half a backup.\n" +
			"PostgreSQL databases are backed up with pg_dump; for a postgres:// URL this prints how.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := sqlstore.SQLiteFile(database)
			if errors.Is(err, sqlstore.ErrPostgres) {
				return postgresGuidance("backup", to)
			}
			if err != nil {
				return err
			}
			if to == "" {
				return errors.New("--to is required: the file to write the backup to")
			}
			snap, err := sqlstore.Backup(cmd.Context(), database, to, force)
			if err != nil {
				return err
			}
			printSnapshot(cmd.OutOrStdout(), fmt.Sprintf("backed up %s to %s", src, snap.Path), snap)
			return nil
		},
	}
	databaseFlag(cmd, &database)
	cmd.Flags().StringVar(&to, "to", "", "file to write the backup to (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace --to if it exists")
	return cmd
}

func newRestore() *cobra.Command {
	var database, from string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Replace the SQLite database with a backup (stop mlopsd first)",
		Long: "Replace the SQLite database with a backup made by mlopsd backup. The backup is copied into a\n" +
			"temporary file beside the database and checked there (PRAGMA integrity_check, mlopsd's\n" +
			"schema_migrations table, a schema version this mlopsd can migrate); only then is it renamed into\n" +
			"place, after the old database's -wal, -shm and -journal files are removed.\n\n" +
			"An existing database is replaced only with --force, and only if no process has it open: restore\n" +
			"opens it with a busy timeout of 0 in exclusive locking mode, switches it out of WAL mode (SQLite\n" +
			"allows that only when no other connection has the file open) and takes BEGIN EXCLUSIVE. If a\n" +
			"server holds it, restore stops with \"in use\". Do not start mlopsd while restore runs.\n" +
			"PostgreSQL databases are restored with pg_restore; for a postgres:// URL this prints how.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := sqlstore.SQLiteFile(database)
			if errors.Is(err, sqlstore.ErrPostgres) {
				return postgresGuidance("restore", from)
			}
			if err != nil {
				return err
			}
			if from == "" {
				return errors.New("--from is required: the backup file to restore")
			}
			snap, err := sqlstore.Restore(cmd.Context(), from, database, force)
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(from)
			printSnapshot(cmd.OutOrStdout(), fmt.Sprintf("restored %s to %s", abs, snap.Path), snap)
			return nil
		},
	}
	databaseFlag(cmd, &database)
	cmd.Flags().StringVar(&from, "from", "", "backup file to restore (required)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the database if it exists (refused while a process has it open)")
	return cmd
}

// postgresGuidance is the error for a postgres:// URL: the commands that do
// the job. They read the URL from $DATABASE_URL rather than repeating it, so
// a password in it is not printed.
func postgresGuidance(command, file string) error {
	if file == "" {
		file = "mlops.dump"
	}
	dump := `pg_dump --format=custom --file=` + shellQuote(file) + ` "$DATABASE_URL"`
	restore := `pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$DATABASE_URL" ` + shellQuote(file)
	if command == "backup" {
		return fmt.Errorf("PostgreSQL is backed up with pg_dump, not mlopsd backup (pg_dump needs no downtime).\n"+
			"With DATABASE_URL set to the --database URL:\n  %s\n"+
			"and restored, with mlopsd stopped, with:\n  %s", dump, restore)
	}
	return fmt.Errorf("PostgreSQL is restored with pg_restore, not mlopsd restore; stop mlopsd first.\n"+
		"With DATABASE_URL set to the --database URL:\n  %s\n"+
		"where the dump was made with:\n  %s", restore, dump)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printSnapshot tells what a backup or restore wrote.
func printSnapshot(w io.Writer, headline string, s *sqlstore.Snapshot) {
	fmt.Fprintf(w, "%s: %d bytes, schema version %d\n", headline, s.Size, s.SchemaVersion)
	kinds := make([]store.Kind, 0, len(s.Objects))
	for k := range s.Objects {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "objects\t%d\n", s.ObjectCount())
	for _, k := range kinds {
		fmt.Fprintf(tw, "  %s\t%d\n", k, s.Objects[k])
	}
	fmt.Fprintf(tw, "tokens\t%d\n", s.Tokens)
	_ = tw.Flush()
}
