package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// deploymentPollInterval is how often `deployments status --wait` polls.
var deploymentPollInterval = time.Second

// Deployment phases.
const (
	phaseHealthy    = "healthy"
	phaseDegraded   = "degraded"
	phaseRolledBack = "rolled_back"
)

func newDeployments() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "Show deployments' rollout status",
	}
	f.register(cmd)
	cmd.AddCommand(newDeploymentsStatus(&f))
	return cmd
}

func newDeploymentsStatus(f *apiFlags) *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status <name>",
		Short: "Print a deployment's rollout status",
		Long: "Print a deployment's phase, stable and canary versions, canary weight, message and URL.\n" +
			"With --wait, poll every second, print a line on stderr whenever the status changes, and exit 0\n" +
			"once the deployment is healthy, or 1 with its message when it is rolled_back or degraded.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var d *api.Deployment
			var waitErr error
			if wait {
				d, waitErr = waitDeployment(cmd.Context(), c, f.project, args[0], timeout, cmd.ErrOrStderr())
				if d == nil {
					return waitErr
				}
			} else if d, err = c.GetDeployment(cmd.Context(), f.project, args[0]); err != nil {
				return err
			}
			if f.json() {
				err = writeJSON(cmd.OutOrStdout(), d)
			} else {
				printDeployment(cmd.OutOrStdout(), d)
			}
			return errors.Join(waitErr, err)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the deployment is healthy (exit 0) or rolled back or degraded (exit 1)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting after this long")
	return cmd
}

func printDeployment(w io.Writer, d *api.Deployment) {
	canary := "-"
	if d.CanaryVersion != 0 {
		canary = fmt.Sprintf("v%d at %d%%", d.CanaryVersion, d.CanaryWeight)
	}
	fmt.Fprintf(w, "phase:    %s\n", d.Phase)
	fmt.Fprintf(w, "stable:   %s\n", version(d.StableVersion))
	fmt.Fprintf(w, "canary:   %s\n", canary)
	fmt.Fprintf(w, "target:   %s\n", version(d.TargetVersion))
	fmt.Fprintf(w, "message:  %s\n", orDash(d.Message))
	fmt.Fprintf(w, "url:      %s\n", orDash(d.URL))
}

func version(v int64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", v)
}

// statusLine is one line of a deployment's status, printed when it changes.
func statusLine(d *api.Deployment) string {
	s := fmt.Sprintf("%s: stable %s", d.Phase, version(d.StableVersion))
	if d.CanaryVersion != 0 {
		s += fmt.Sprintf(", canary v%d at %d%%", d.CanaryVersion, d.CanaryWeight)
	}
	return s + colonDetail(d.Message)
}

// waitDeployment polls a deployment until the status computed for its
// current generation is final. It returns the last deployment read and an
// error when it ended other than healthy.
func waitDeployment(ctx context.Context, c *client.Client, project, name string, timeout time.Duration, progress io.Writer) (*api.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	var d *api.Deployment
	for {
		got, err := c.GetDeployment(ctx, project, name)
		switch {
		case err == nil:
			d = got
		case ctx.Err() != nil && d != nil:
			return d, fmt.Errorf("deployment %s is still %s after %s", name, d.Phase, timeout)
		default:
			return d, err
		}
		if line := statusLine(d); line != last {
			fmt.Fprintf(progress, "%s %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		// A status computed for an older generation says nothing of the current spec.
		if d.ObservedGeneration >= d.Generation {
			switch d.Phase {
			case phaseHealthy:
				return d, nil
			case phaseDegraded, phaseRolledBack:
				return d, fmt.Errorf("deployment %s is %s%s", name, d.Phase, colonDetail(d.Message))
			}
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("deployment %s is still %s after %s", name, d.Phase, timeout)
		case <-time.After(deploymentPollInterval):
		}
	}
}
