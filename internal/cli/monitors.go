package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func newMonitors() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "monitors",
		Short: "Evaluate drift monitors",
	}
	f.register(cmd)
	cmd.AddCommand(newMonitorsEvaluate(&f))
	return cmd
}

func newMonitorsEvaluate(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "evaluate <name>",
		Short: "Evaluate a monitor now and print its verdict per feature",
		Long: "Evaluate a monitor now, as its interval would, and print a table of its features and a summary.\n" +
			"An evaluation that drifts alerts and retrains as a scheduled one does.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "evaluating monitor %s...\n", args[0])
			ev, err := c.EvaluateMonitor(cmd.Context(), f.project, args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(cmd.OutOrStdout(), ev)
			}
			return printEvaluation(cmd.OutOrStdout(), ev)
		},
	}
}

func printEvaluation(w io.Writer, ev *api.MonitorEvaluation) error {
	if len(ev.Features) > 0 {
		tw := newTable(w, "FEATURE", "KIND", "METRIC", "VALUE", "THRESHOLD", "DRIFTED", "CURRENT N")
		for _, fd := range ev.Features {
			value := "-"
			if fd.Value != nil {
				value = formatFloat(*fd.Value)
			}
			drifted := "no"
			switch {
			case fd.Drifted:
				drifted = "yes"
			case fd.Status == "insufficient_data":
				drifted = "n/a"
			}
			row(tw, fd.Feature, fd.Kind, fd.Metric, value, formatFloat(fd.Threshold), drifted, strconv.FormatInt(fd.CurrentCount, 10))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, evaluationSummary(ev))
	return nil
}

// evaluationSummary is one line: status, drift share, alert and retrain run.
func evaluationSummary(ev *api.MonitorEvaluation) string {
	parts := []string{
		fmt.Sprintf("evaluation %d: %s", ev.ID, ev.Status),
		fmt.Sprintf("drift share %s (threshold %s, %d of %d features drifted)",
			formatFloat(ev.DriftShare), formatFloat(ev.DriftShareThreshold), ev.DriftedFeatures, ev.JudgedFeatures),
	}
	if ev.Alert {
		parts = append(parts, "alert raised")
	} else {
		parts = append(parts, "no alert")
	}
	switch {
	case ev.RetrainRun != nil:
		parts = append(parts, fmt.Sprintf("retrain run %s #%d", ev.RetrainRun.Pipeline, ev.RetrainRun.ID))
	case ev.RetrainSkipped != "":
		parts = append(parts, "no retrain run ("+ev.RetrainSkipped+")")
	default:
		parts = append(parts, "no retrain run")
	}
	s := strings.Join(parts, ", ")
	if ev.Error != "" {
		s += "\nerror: " + ev.Error
	}
	return s
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
