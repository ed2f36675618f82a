package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// terraformPath is TF_ACC_TERRAFORM_PATH, else terraform on PATH; without
// either the Terraform scenarios skip.
func terraformPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		return p
	}
	p, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no Terraform: set TF_ACC_TERRAFORM_PATH (make chaos does)")
	}
	return p
}

// workdir is a Terraform working directory whose provider is the locally built
// one (dev_overrides, so no terraform init) configured for one server.
type workdir struct {
	t   *testing.T
	dir string
	bin string
	env []string
}

func newWorkdir(t *testing.T, srv *server) *workdir {
	t.Helper()
	tf := terraformPath(t)
	_, provider := binaries(t)
	dir := t.TempDir()
	rc := filepath.Join(dir, "dev.tfrc")
	writeFile(t, rc, fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.terraform.io/mlopsplane/mlops" = %q
  }
  direct {}
}
`, filepath.Dir(provider)))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLOPS_") && !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"MLOPS_ENDPOINT="+srv.URL, "MLOPS_TOKEN="+srv.Token)
	return &workdir{t: t, dir: dir, bin: tf, env: env}
}

// write puts a file into the working directory.
func (w *workdir) write(name, content string) {
	w.t.Helper()
	writeFile(w.t, filepath.Join(w.dir, name), content)
}

// run runs terraform with args and returns its combined output and exit code.
func (w *workdir) run(ctx context.Context, args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.CommandContext(ctx, w.bin, append(args[:1:1], append([]string{"-no-color"}, args[1:]...)...)...)
	cmd.Dir, cmd.Env = w.dir, w.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	w.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	return "", -1
}

// tfLocation matches the lines of a diagnostic that say where it applies.
var tfLocation = regexp.MustCompile(`^(with [\w.\[\]"-]+,|on \S+ line \d+.*|\d+: .*)$`)

// tfErrors returns the "Error:" diagnostics of Terraform output, each with
// its first lines of detail, squeezed onto one line.
func tfErrors(out string) []string {
	var errs []string
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(strings.TrimLeft(l, "│╷╵ "))
		if !strings.HasPrefix(l, "Error: ") {
			continue
		}
		msg := []string{l}
		for _, d := range lines[i+1 : min(i+12, len(lines))] {
			d = strings.TrimSpace(strings.TrimLeft(d, "│╷╵ "))
			if strings.HasPrefix(d, "Error: ") {
				break
			}
			if d != "" && !tfLocation.MatchString(d) {
				msg = append(msg, d)
			}
		}
		errs = append(errs, strings.Join(msg, " "))
	}
	return errs
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
