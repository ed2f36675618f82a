package provider_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/config"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/mlopsplane/terraform-provider-mlops/internal/acctest"
	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	mlops "github.com/mlopsplane/terraform-provider-mlops/internal/provider"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// secret is a value that must never be written to a log.
type secret struct {
	what, value string
	// token: it belongs in the provider block only, never in state.
	token bool
}

// secretsConfig is a realistic estate: the token and the webhook secret come
// from sensitive variables, as they would in CI (never literals in HCL, which
// terraform-plugin-testing logs at TRACE as the step's configuration); a
// monitor signs its alerts with the secret and retrains through a schedule.
func secretsConfig(srv *acctest.Server, baseline, current, hookURL, extra string) string {
	return fmt.Sprintf(`
variable "token" {
  type      = string
  sensitive = true
}

variable "webhook_secret" {
  type      = string
  sensitive = true
}

provider "mlops" {
  endpoint = %[1]q
  token    = var.token
}

resource "mlops_model" "churn" {
  name = "churn"
}

resource "mlops_dataset" "baseline" {
  name   = "customers-train"
  uri    = %[2]q
  format = "csv"
}

resource "mlops_dataset" "current" {
  name   = "customers-live"
  uri    = %[3]q
  format = "csv"
}

resource "mlops_pipeline" "retrain" {
  name  = "retrain"
  steps = [{ name = "train", command = ["true"] }]
}

resource "mlops_retraining_schedule" "on_drift" {
  name     = "on-drift"
  pipeline = mlops_pipeline.retrain.name
  cron     = "0 3 1 1 *"
}

resource "mlops_monitor" "test" {
  name             = "churn-inputs"
  model            = mlops_model.churn.name
  baseline_dataset = mlops_dataset.baseline.name
  current_dataset  = mlops_dataset.current.name
  retrain_schedule = mlops_retraining_schedule.on_drift.name
  notification = {
    url    = %[4]q
    secret = var.webhook_secret
  }
}
%[5]s`, srv.URL, baseline, current, hookURL, extra)
}

// secretVars are the variables of secretsConfig.
func secretVars(token, webhookSecret string) config.Variables {
	return config.Variables{"token": config.StringVariable(token), "webhook_secret": config.StringVariable(webhookSecret)}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestAccSecretsNeverLogged runs a realistic scenario (two tokens, a monitor
// with a webhook secret that drifts, alerts and starts a retraining run, a
// rotated secret, an import, a revoked token) with every log captured: the
// server's at debug level, Terraform's and the provider's at TRACE. None may
// contain a token or a webhook secret.
func TestAccSecretsNeverLogged(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	// Terraform-plugin-testing hands neither TF_LOG nor TF_LOG_PATH to the
	// Terraform CLI (terraform-exec strips them); they only set up the sink of
	// the provider under test, which runs in this process. TF_ACC_LOG_PATH is
	// what reaches the CLI (as its TF_LOG_PATH, at TRACE), and it also wins
	// over TF_LOG_PATH for the provider's sink: so every line of Terraform
	// core, the plugin SDK and the provider lands in tfLog.
	tfLog := filepath.Join(t.TempDir(), "terraform.log")
	if keep := os.Getenv("MLOPS_TEST_TF_LOG"); keep != "" { // to read it after the test
		tfLog = keep
		_ = os.Remove(keep)
	}
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH", tfLog)
	t.Setenv("TF_ACC_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", tfLog)
	t.Setenv("TF_LOG_PATH_MASK", "")
	t.Setenv("TF_LOG_CORE", "")
	t.Setenv("TF_LOG_PROVIDER", "")

	serverLog := &testserver.LogBuffer{}
	srv := &acctest.Server{Instance: testserver.Start(t, testserver.WithLogSink(serverLog))}
	ctx := context.Background()
	editor := srv.Token(t, api.RoleEditor, api.DefaultProject)
	revoked, err := srv.Client.CreateToken(ctx, api.CreateTokenRequest{Role: api.RoleEditor, Project: api.DefaultProject, Description: "revoked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.DeleteToken(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	webhookSecret := "whsec-" + randomHex(t, 16)
	rotatedSecret := "whsec-" + randomHex(t, 16)
	secrets := []secret{
		{"the admin token", srv.AdminToken, true},
		{"the editor token", editor, true},
		{"the revoked token", revoked.Secret, true},
		{"the webhook secret", webhookSecret, false},
		{"the rotated webhook secret", rotatedSecret, false},
	}

	hooks := newHookReceiver(t)
	baseline, drifted := monitorDataFiles(t)
	const monitor, addr = "churn-inputs", "mlops_monitor.test"
	cfg := secretsConfig(srv, baseline, drifted, hooks.URL, "")
	withRun := secretsConfig(srv, baseline, drifted, hooks.URL, `
data "mlops_pipeline_run" "latest" {
  pipeline = "retrain"
}
`)

	tfresource.Test(t, tfresource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             monitorGone(srv, monitor),
		Steps: []tfresource.TestStep{
			{
				// As the project's editor: the monitor drifts, sends one alert
				// signed with the secret and starts one run.
				Config:          cfg,
				ConfigVariables: secretVars(editor, webhookSecret),
				Check: func(*terraform.State) error {
					if _, err := waitForMonitor(srv.Client, monitor, 30*time.Second, func(m *api.Monitor) bool { return m.Status == api.MonitorDrifting }); err != nil {
						return err
					}
					alert, err := monitorAlertEvaluation(srv.Client, monitor)
					if err != nil {
						return err
					}
					if err := oneSignedAlert(hooks, webhookSecret, monitor); err != nil {
						return err
					}
					return oneRetrainRun(srv.Client, monitor, alert.ID)
				},
			},
			{
				// As admin: everything refreshes, and the run is read back.
				Config:          withRun,
				ConfigVariables: secretVars(srv.AdminToken, webhookSecret),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.mlops_pipeline_run.latest", tfjsonpath.New("state"), knownvalue.StringExact("succeeded")),
					statecheck.ExpectKnownValue("data.mlops_pipeline_run.latest", tfjsonpath.New("trigger"), knownvalue.StringExact("monitor:"+monitor)),
				},
			},
			{
				// Rotating the secret updates in place and sends the new one.
				Config:          cfg,
				ConfigVariables: secretVars(editor, rotatedSecret),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
				},
				Check: func(s *terraform.State) error {
					m, err := srv.Client.GetMonitor(ctx, api.DefaultProject, monitor)
					if err != nil || m.Notification == nil || !m.Notification.SecretSet || m.Notification.Secret != "" {
						return fmt.Errorf("server holds notification %+v, %v", m.Notification, err)
					}
					return secretsOnlyWhereNeeded(s, secrets)
				},
			},
			{
				Config:                  cfg,
				ConfigVariables:         secretVars(editor, rotatedSecret),
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"notification.secret", "status", "last_evaluated_at", "last_evaluation_id", "last_error"},
			},
			{
				// A revoked token is refused, and the refusal is logged without it.
				Config:          cfg,
				ConfigVariables: secretVars(revoked.Secret, rotatedSecret),
				PlanOnly:        true,
				ExpectError:     regexp.MustCompile(`token was refused`),
			},
			{
				Config:          cfg,
				ConfigVariables: secretVars(editor, rotatedSecret),
				PlanOnly:        true,
			},
		},
	})

	// Give the server's last log lines (the destroy, the engine noticing it) a moment.
	time.Sleep(500 * time.Millisecond)
	tfText, err := os.ReadFile(tfLog)
	if err != nil {
		t.Fatalf("Terraform's log was not written: %v", err)
	}
	logs := map[string]string{"the server's log": serverLog.String(), "Terraform's and the provider's log (" + tfLog + ")": string(tfText)}

	// The capture must have worked, or the test proves nothing.
	for source, wants := range map[string][]string{
		"the server's log": {
			`path=/v1/projects/default/monitors `,
			`path=/v1/tokens/`, // the revocation
			`status=401 `,      // the revoked token's refusal
		},
		"Terraform's and the provider's log (" + tfLog + ")": {
			`(Terraform|OpenTofu) version: `, // the CLI's core
			`configured mlops client`,        // the provider's own tflog line
			`Received request`,               // terraform-plugin-go, in this process
			`mlops_monitor\.test`,            // the monitor's plan and apply
			`performing request: .*url=http://[^ ]*/v1/projects/default/monitors`, // the client's request log
		},
	} {
		for _, w := range wants {
			if !regexp.MustCompile(w).MatchString(logs[source]) {
				t.Errorf("%s does not match %q: the capture is incomplete (%d bytes)", source, w, len(logs[source]))
			}
		}
	}
	for _, s := range secrets {
		for source, text := range logs {
			for _, where := range leaks(text, s, secrets) {
				t.Errorf("%s leaks into %s at %s", s.what, source, where)
			}
		}
	}
	t.Logf("searched %d bytes of server log and %d bytes of Terraform and provider log for %d secrets", len(logs["the server's log"]), len(tfText), len(secrets))
}

// leaks finds s in text: the whole value, or a 16-character piece of its
// random part (a truncated or partly masked copy). Each hit names the line and
// shows it with every secret replaced by its description.
func leaks(text string, s secret, all []secret) []string {
	random := strings.TrimPrefix(strings.TrimPrefix(s.value, "whsec-"), "mlops_")
	needles := []string{s.value}
	if len(random) >= 32 {
		needles = append(needles, random[:16], random[len(random)-16:])
	}
	hide := func(line, n string) string {
		for _, o := range all {
			line = strings.ReplaceAll(line, o.value, "<"+o.what+">")
		}
		line = strings.ReplaceAll(line, n, "<part of "+s.what+">")
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		return line
	}
	var out []string
	entry := 0 // the line that starts the log entry a hit is part of
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if logEntryStart.MatchString(line) {
			entry = i
		}
		for _, n := range needles {
			if !strings.Contains(line, n) {
				continue
			}
			where := fmt.Sprintf("line %d: %s", i+1, hide(line, n))
			if entry != i {
				where += fmt.Sprintf("\n\t(in the entry starting at line %d: %s)", entry+1, hide(lines[entry], n))
			}
			out = append(out, where)
			break
		}
	}
	return out
}

// logEntryStart matches the first line of a log entry: Terraform's and
// hclog's start with a timestamp, slog's text with time=.
var logEntryStart = regexp.MustCompile(`^(time=)?\d{4}-\d\d-\d\dT`)

// TestSecretsLeakFinder proves leaks finds whole and partial copies and names
// the log entry they are in, so a passing TestAccSecretsNeverLogged means
// something.
func TestSecretsLeakFinder(t *testing.T) {
	tok := secret{"the token", "mlops_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", true}
	hook := secret{"the hook secret", "whsec-00112233445566778899aabbccddeeff", false}
	all := []secret{tok, hook}
	log := strings.Join([]string{
		"2026-01-01T00:00:00.000Z [DEBUG] mlops: performing request: url=http://h/v1",
		"time=2026-01-01T00:00:00.000Z level=INFO msg=request path=/x",
		"2026-01-01T00:00:01.000Z [TRACE] sdk.helper_resource: Setting Terraform configuration:",
		"  |   token = \"" + tok.value + "\"",
		"time=2026-01-01T00:00:02.000Z level=DEBUG msg=notify secret=" + hook.value[:26] + "…",
		"truncated header: Bearer mlops_0123456789abcdef…",
	}, "\n")
	got := leaks(log, tok, all)
	if len(got) != 2 || !strings.Contains(got[0], "line 4") || !strings.Contains(got[0], "entry starting at line 3") ||
		strings.Contains(got[0], tok.value) || !strings.Contains(got[1], "line 6") {
		t.Errorf("token hits = %q", got)
	}
	if got := leaks(log, hook, all); len(got) != 1 || !strings.Contains(got[0], "line 5") {
		t.Errorf("hook secret hits = %q", got)
	}
	if got := leaks("2026-01-01T00:00:00.000Z [INFO] nothing here", tok, all); len(got) != 0 {
		t.Errorf("hits in a clean log: %q", got)
	}
}

// secretsOnlyWhereNeeded checks the state: no token anywhere (they live only
// in the provider block), and a webhook secret only in the monitor's
// notification.secret, which must hold the configured one because the server
// never returns it (Terraform 1.5 has no write-only attributes).
func secretsOnlyWhereNeeded(s *terraform.State, secrets []secret) error {
	if m, ok := s.RootModule().Resources["mlops_monitor.test"]; !ok || m.Primary.Attributes["notification.secret"] == "" {
		return errors.New("mlops_monitor.test has no notification.secret in state: the test no longer sees where the secret is kept")
	}
	for name, r := range s.RootModule().Resources {
		for attr, v := range r.Primary.Attributes {
			for _, sec := range secrets {
				if !strings.Contains(v, sec.value) {
					continue
				}
				if sec.token {
					return fmt.Errorf("%s is in the state at %s.%s", sec.what, name, attr)
				}
				if name != "mlops_monitor.test" || attr != "notification.secret" {
					return fmt.Errorf("%s is in the state at %s.%s", sec.what, name, attr)
				}
			}
		}
	}
	return nil
}

// TestSecretsSchemaSensitive checks, through the provider's Schema methods and
// through the protocol schema Terraform sees, that the token and the webhook
// secret are Sensitive, and that every attribute whose name says it holds a
// secret is.
func TestSecretsSchemaSensitive(t *testing.T) {
	ctx := context.Background()
	var presp provider.SchemaResponse
	mlops.New("test")().Schema(ctx, provider.SchemaRequest{}, &presp)
	if presp.Diagnostics.HasError() {
		t.Fatal(presp.Diagnostics)
	}
	if a, ok := presp.Schema.Attributes["token"]; !ok || !a.IsSensitive() {
		t.Errorf("provider attribute token is not Sensitive (present: %v)", ok)
	}
	var rresp resource.SchemaResponse
	mlops.NewMonitorResource().Schema(ctx, resource.SchemaRequest{}, &rresp)
	n, ok := rresp.Schema.Attributes["notification"].(rschema.SingleNestedAttribute)
	if !ok {
		t.Fatalf("mlops_monitor.notification is a %T, want a single nested attribute", rresp.Schema.Attributes["notification"])
	}
	if a, ok := n.Attributes["secret"]; !ok || !a.IsSensitive() {
		t.Errorf("mlops_monitor notification.secret is not Sensitive (present: %v)", ok)
	}

	// What Terraform is told, for every resource and data source.
	srv, err := acctest.ProviderFactories["mlops"]()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	schemas := map[string]*tfprotov6.Schema{"provider": resp.Provider}
	for name, s := range resp.ResourceSchemas {
		schemas["resource "+name] = s
	}
	for name, s := range resp.DataSourceSchemas {
		schemas["data source "+name] = s
	}
	secretName := regexp.MustCompile(`(?i)(token|secret|password|credential|api_key)`)
	var found, names []string
	for where, s := range schemas {
		walkAttributes(where, s.Block.Attributes, func(path string, a *tfprotov6.SchemaAttribute) {
			if !secretName.MatchString(a.Name) || a.Type != nil && a.Type.Is(tftypes.Bool) { // secret_set says whether one is set
				return
			}
			found = append(found, path)
			if !a.Sensitive {
				names = append(names, path)
			}
		})
	}
	sort.Strings(found)
	for _, want := range []string{"provider.token", "resource mlops_monitor.notification.secret"} {
		if i := sort.SearchStrings(found, want); i == len(found) || found[i] != want {
			t.Errorf("%s not found in the protocol schema (found %v)", want, found)
		}
	}
	sort.Strings(names)
	for _, p := range names {
		t.Errorf("%s holds a secret by its name but is not Sensitive", p)
	}
}

// walkAttributes calls fn for every attribute, nested ones included, with its path.
func walkAttributes(prefix string, attrs []*tfprotov6.SchemaAttribute, fn func(string, *tfprotov6.SchemaAttribute)) {
	for _, a := range attrs {
		p := prefix + "." + a.Name
		fn(p, a)
		if a.NestedType != nil {
			walkAttributes(p, a.NestedType.Attributes, fn)
		}
	}
}
