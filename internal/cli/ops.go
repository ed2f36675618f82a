package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// Environment variables of the operating commands (runs, monitors,
// deployments), which talk to a running mlopsd through its API.
const (
	EnvEndpoint = "MLOPS_ENDPOINT"
	EnvToken    = "MLOPS_TOKEN"
	EnvProject  = "MLOPS_PROJECT"
)

const (
	defaultEndpoint = "http://127.0.0.1:8080"
	defaultProject  = "default"
	outputTable     = "table"
	outputJSON      = "json"
)

// apiFlags are the flags every operating command shares.
type apiFlags struct {
	endpoint, token, project, output string
}

// register adds the shared flags to a command group. The token's default is
// read when a command runs, not here, so that help never shows it.
func (f *apiFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.endpoint, "endpoint", envOr(EnvEndpoint, defaultEndpoint), "base URL of mlopsd (env "+EnvEndpoint+")")
	pf.StringVar(&f.token, "token", "", "API token (env "+EnvToken+"; required)")
	pf.StringVar(&f.project, "project", envOr(EnvProject, defaultProject), "project (env "+EnvProject+")")
	pf.StringVarP(&f.output, "output", "o", outputTable, "output format: table or json")
}

// client checks the flags and returns a client for the API.
func (f *apiFlags) client() (*client.Client, error) {
	if f.output != outputTable && f.output != outputJSON {
		return nil, fmt.Errorf("--output is %q; use table or json", f.output)
	}
	token := f.token
	if token == "" {
		token = os.Getenv(EnvToken)
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("no API token: set " + EnvToken + " or pass --token (create one with `mlopsd token create`)")
	}
	return client.New(client.Config{Endpoint: f.endpoint, Token: token, UserAgent: "mlopsd-cli"})
}

func (f *apiFlags) json() bool { return f.output == outputJSON }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a tabwriter whose columns are separated by two spaces;
// Flush it when done.
func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

func row(tw *tabwriter.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// formatTime prints t in local time, or "-" when unset.
func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// formatDuration rounds d to what a person reads: milliseconds under a
// second, seconds above.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
