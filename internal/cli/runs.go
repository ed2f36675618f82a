package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// followInterval is how often `runs logs --follow` polls the run.
var followInterval = 500 * time.Millisecond

func newRuns() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List pipeline runs, read their logs and cancel them",
	}
	f.register(cmd)
	cmd.AddCommand(newRunsList(&f), newRunsLogs(&f), newRunsCancel(&f))
	return cmd
}

func newRunsList(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list <pipeline>",
		Short: "List a pipeline's runs, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			runs, err := c.ListRuns(cmd.Context(), f.project, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.json() {
				if runs == nil {
					runs = []api.PipelineRun{}
				}
				return writeJSON(out, runs)
			}
			tw := newTable(out, "ID", "STATE", "TRIGGER", "STARTED", "DURATION", "MODEL VERSION")
			now := time.Now()
			for _, r := range runs {
				row(tw, strconv.FormatInt(r.ID, 10), r.State, r.Trigger, formatTime(r.StartedAt), runDuration(r, now), modelVersion(r))
			}
			return tw.Flush()
		},
	}
}

// runDuration is how long a run took, or has been running so far.
func runDuration(r api.PipelineRun, now time.Time) string {
	switch {
	case r.StartedAt == nil:
		return "-"
	case r.FinishedAt != nil:
		return formatDuration(r.FinishedAt.Sub(*r.StartedAt))
	default:
		return formatDuration(now.Sub(*r.StartedAt)) + "+"
	}
}

func modelVersion(r api.PipelineRun) string {
	if r.Model == "" || r.ModelVersion == 0 {
		return "-"
	}
	return fmt.Sprintf("%s v%d", r.Model, r.ModelVersion)
}

func parseRunID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("run id %q is not a positive number", s)
	}
	return id, nil
}

func newRunsLogs(f *apiFlags) *cobra.Command {
	var step string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs <pipeline> <id>",
		Short: "Print the kept output of a run's steps",
		Long: "Print the kept output (the last 256 KiB) of each step of a run, each line prefixed with its step.\n" +
			"With --follow, print new output until the run ends, with a line on stderr whenever a step's state\n" +
			"changes, and exit non-zero unless the run succeeded.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[1])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if follow {
				if f.json() {
					return fmt.Errorf("--follow prints text; it cannot be combined with --output json")
				}
				return followRun(cmd.Context(), c, f.project, args[0], id, step, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			logs, err := c.GetRunLogs(cmd.Context(), f.project, args[0], id, step)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(cmd.OutOrStdout(), logs)
			}
			for _, l := range logs.Logs {
				if l.Truncated {
					fmt.Fprintf(cmd.ErrOrStderr(), "step %s: only the last part of its output was kept\n", l.Step)
				}
				printLines(cmd.OutOrStdout(), l.Step, l.Text)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&step, "step", "", "only this step's output")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the run ends")
	return cmd
}

// printLines prints text with every line prefixed by its step; a last line
// without a newline gets one.
func printLines(w io.Writer, step, text string) {
	for line := range strings.SplitAfterSeq(text, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		fmt.Fprintf(w, "[%s] %s", step, line)
	}
}

// followRun polls a run and its logs until the run ends: new complete lines
// of output go to out, step state changes to progress. It returns an error
// when the run did not succeed.
func followRun(ctx context.Context, c *client.Client, project, pipeline string, id int64, step string, out, progress io.Writer) error {
	sent := map[string]int{}      // bytes of each step's output printed
	states := map[string]string{} // last state seen of each step
	runState := ""
	for {
		run, err := c.GetRun(ctx, project, pipeline, id)
		if err != nil {
			return err
		}
		if run.State != runState {
			fmt.Fprintf(progress, "run %d %s\n", run.ID, run.State)
			runState = run.State
		}
		for _, s := range run.Steps {
			if (step == "" || s.Name == step) && states[s.Name] != s.State {
				fmt.Fprintf(progress, "step %s %s%s\n", s.Name, s.State, stepDetail(s))
				states[s.Name] = s.State
			}
		}
		// Logs read after the run has ended are complete.
		finished := api.RunFinished(run.State)
		logs, err := c.GetRunLogs(ctx, project, pipeline, id, step)
		if err != nil {
			return err
		}
		for _, l := range logs.Logs {
			if len(l.Text) < sent[l.Step] {
				sent[l.Step] = 0 // the kept tail moved past what was printed
			}
			text := l.Text[sent[l.Step]:]
			if !finished {
				// Hold back a partial last line until it is complete.
				text = text[:strings.LastIndexByte(text, '\n')+1]
			}
			printLines(out, l.Step, text)
			sent[l.Step] += len(text)
		}
		if finished {
			if run.State != api.RunSucceeded {
				return fmt.Errorf("run %d %s%s", run.ID, run.State, colonDetail(run.Error))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followInterval):
		}
	}
}

func stepDetail(s api.RunStep) string {
	switch {
	case s.Error != "":
		return ": " + s.Error
	case s.ExitCode != nil && *s.ExitCode != 0:
		return fmt.Sprintf(" (exit code %d)", *s.ExitCode)
	case s.Attempts > 1:
		return fmt.Sprintf(" (attempt %d)", s.Attempts)
	}
	return ""
}

func colonDetail(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func newRunsCancel(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel <pipeline> <id>",
		Short: "Ask a run to stop and print its resulting state",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[1])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			run, err := c.CancelRun(cmd.Context(), f.project, args[0], id)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(cmd.OutOrStdout(), run)
			}
			note := ""
			if run.CancelRequested && !api.RunFinished(run.State) {
				note = " (cancel requested; its steps are being stopped)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %d %s%s\n", run.ID, run.State, note)
			return nil
		},
	}
}
