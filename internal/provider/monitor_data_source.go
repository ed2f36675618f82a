package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var _ datasource.DataSourceWithConfigure = &MonitorDataSource{}

// NewMonitorDataSource returns the mlops_monitor data source.
func NewMonitorDataSource() datasource.DataSource { return &MonitorDataSource{} }

// MonitorDataSource reads a drift monitor and its latest evaluation.
type MonitorDataSource struct {
	data *providerData
}

// MonitorDataSourceModel is the state of the mlops_monitor data source.
type MonitorDataSourceModel struct {
	monitorModel
	Notification     types.Object `tfsdk:"notification"`
	NextEvaluationAt types.String `tfsdk:"next_evaluation_at"`
	LastRetrainAt    types.String `tfsdk:"last_retrain_at"`
	LastEvaluation   types.Object `tfsdk:"last_evaluation"`
}

var monitorDataSourceNotificationAttrTypes = map[string]attr.Type{
	"url":        types.StringType,
	"secret_set": types.BoolType,
}

var monitorEvaluationAttrTypes = map[string]attr.Type{
	"id":                    types.Int64Type,
	"trigger":               types.StringType,
	"status":                types.StringType,
	"error":                 types.StringType,
	"finished_at":           types.StringType,
	"drift_share":           types.Float64Type,
	"drifted_features":      types.Int64Type,
	"judged_features":       types.Int64Type,
	"drifted_feature_names": types.ListType{ElemType: types.StringType},
	"alert":                 types.BoolType,
	"retrain_run_id":        types.Int64Type,
}

func (d *MonitorDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_monitor"
}

func (d *MonitorDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	computedInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Computed: true}
	}
	computedFloat := func(desc string) schema.Float64Attribute {
		return schema.Float64Attribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a drift monitor (see `mlops_monitor`): its settings, its status and a summary of its latest evaluation. " +
			"The data source is read at every plan, so it follows the monitor's evaluations.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("`project/name`."),
			"project": schema.StringAttribute{
				MarkdownDescription: "Project of the monitor. Defaults to the provider's `project`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Monitor name.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"model":            computedString("Model the monitor watches."),
			"baseline_dataset": computedString("Dataset whose content is the reference."),
			"current_dataset":  computedString("Dataset compared with the baseline at each evaluation; null when `deployment` is the current data."),
			"deployment":       computedString("Deployment whose logged requests are the current data; null when `current_dataset` is."),
			"current_window": schema.Int64Attribute{
				MarkdownDescription: "With `deployment`: the newest logged rows each evaluation compares.",
				Computed:            true,
			},
			"features": schema.ListAttribute{
				MarkdownDescription: "Columns compared; empty when the monitor compares every column of the baseline.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"metric":             computedString("Metric for numeric features: `psi`, `ks`, `wasserstein` or `jensen_shannon`."),
			"categorical_metric": computedString("Metric for categorical features: `psi`, `chi_squared` or `jensen_shannon`."),
			"threshold":          computedFloat("Threshold of `metric`; null when the metric's default applies."),
			"feature_thresholds": schema.MapAttribute{
				MarkdownDescription: "Thresholds per feature; empty when there are none.",
				ElementType:         types.Float64Type,
				Computed:            true,
			},
			"drift_share":      computedFloat("Fraction of the judged features that must drift for the monitor to report `drifting`."),
			"min_samples":      computedInt("Fewest non-missing values a feature needs on each side to be judged."),
			"interval":         computedString("How often the monitor evaluates."),
			"cooldown":         computedString("Least time between two retraining runs started by the monitor."),
			"retrain_schedule": computedString("Schedule whose pipeline runs when the monitor starts drifting; null when it only alerts."),
			"paused":           schema.BoolAttribute{MarkdownDescription: "Whether evaluating on the interval is paused.", Computed: true},
			"description":      computedString("What the monitor is for."),
			"labels": schema.MapAttribute{
				MarkdownDescription: "Key/value labels; empty when there are none.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"notification": schema.SingleNestedAttribute{
				MarkdownDescription: "Where alerts go; null when the monitor sends none. The secret itself is never returned.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"url":        computedString("URL the alerts are POSTed to."),
					"secret_set": schema.BoolAttribute{MarkdownDescription: "Whether the alerts are signed with a secret.", Computed: true},
				},
			},
			"status":             computedString(monitorStatusDescription),
			"last_evaluated_at":  computedString(monitorLastEvaluatedAtDescription),
			"last_evaluation_id": computedInt(monitorLastEvaluationIDDescription),
			"last_error":         computedString(monitorLastErrorDescription),
			"next_evaluation_at": computedString("When the monitor evaluates next, as an RFC 3339 time in UTC; null while `paused`."),
			"last_retrain_at":    computedString("When the monitor last started a retraining run, as an RFC 3339 time in UTC; null if it never did."),
			"last_evaluation": schema.SingleNestedAttribute{
				MarkdownDescription: "Summary of the latest evaluation; null until the first one.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"id":               computedInt("Number of the evaluation."),
					"trigger":          computedString("What started it: `interval` or `manual`."),
					"status":           computedString("Verdict: `ok`, `drifting`, `insufficient_data` or `error`."),
					"error":            computedString("Why it failed; null when it did not."),
					"finished_at":      computedString("When it finished, as an RFC 3339 time in UTC."),
					"drift_share":      computedFloat("Fraction of the judged features that drifted."),
					"drifted_features": computedInt("How many features drifted."),
					"judged_features":  computedInt("How many features had enough values to be judged."),
					"drifted_feature_names": schema.ListAttribute{
						MarkdownDescription: "Names of the features that drifted, in the order of the evaluation.",
						ElementType:         types.StringType,
						Computed:            true,
					},
					"alert": schema.BoolAttribute{
						MarkdownDescription: "Whether this evaluation moved the monitor into `drifting` (and so alerted).",
						Computed:            true,
					},
					"retrain_run_id": computedInt("Number of the run of the retrain schedule's pipeline this evaluation started; null when it started none."),
				},
			},
		},
	}
}

func (d *MonitorDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *MonitorDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg MonitorDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := stringOr(cfg.Project, d.data.project), cfg.Name.ValueString()
	mon, err := d.data.client.GetMonitor(ctx, project, name)
	if err != nil {
		addAPIError(&resp.Diagnostics, "read monitor "+project+"/"+name, err)
		return
	}
	cfg.fill(mon, true)
	cfg.Notification = types.ObjectNull(monitorDataSourceNotificationAttrTypes)
	if mon.Notification != nil {
		cfg.Notification = types.ObjectValueMust(monitorDataSourceNotificationAttrTypes, map[string]attr.Value{
			"url":        types.StringValue(mon.Notification.URL),
			"secret_set": types.BoolValue(mon.Notification.SecretSet),
		})
	}
	cfg.NextEvaluationAt = runTime(mon.NextEvaluationAt)
	cfg.LastRetrainAt = runTime(mon.LastRetrainAt)
	cfg.LastEvaluation = types.ObjectNull(monitorEvaluationAttrTypes)
	if mon.LastEvaluationID > 0 {
		ev, err := d.data.client.GetMonitorEvaluation(ctx, project, name, mon.LastEvaluationID)
		switch {
		case errors.Is(err, client.ErrNotFound):
			// Evaluations may be pruned; the monitor's own fields still say what happened.
		case err != nil:
			addAPIError(&resp.Diagnostics, "read the latest evaluation of monitor "+project+"/"+name, err)
			return
		default:
			cfg.LastEvaluation = monitorEvaluationValue(ctx, ev, &resp.Diagnostics)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}

// monitorEvaluationValue summarises an evaluation as the last_evaluation object.
func monitorEvaluationValue(ctx context.Context, ev *api.MonitorEvaluation, diags *diag.Diagnostics) types.Object {
	drifted := []string{}
	for _, f := range ev.Features {
		if f.Drifted {
			drifted = append(drifted, f.Feature)
		}
	}
	names, d := types.ListValueFrom(ctx, types.StringType, drifted)
	diags.Append(d...)
	finished := types.StringNull()
	if !ev.FinishedAt.IsZero() {
		finished = types.StringValue(ev.FinishedAt.UTC().Format(time.RFC3339Nano))
	}
	retrainRun := types.Int64Null()
	if ev.RetrainRun != nil {
		retrainRun = types.Int64Value(ev.RetrainRun.ID)
	}
	v, d := types.ObjectValue(monitorEvaluationAttrTypes, map[string]attr.Value{
		"id":                    types.Int64Value(ev.ID),
		"trigger":               types.StringValue(ev.Trigger),
		"status":                types.StringValue(ev.Status),
		"error":                 optionalString(ev.Error),
		"finished_at":           finished,
		"drift_share":           modelFloat64Value(ev.DriftShare),
		"drifted_features":      types.Int64Value(int64(ev.DriftedFeatures)),
		"judged_features":       types.Int64Value(int64(ev.JudgedFeatures)),
		"drifted_feature_names": names,
		"alert":                 types.BoolValue(ev.Alert),
		"retrain_run_id":        retrainRun,
	})
	diags.Append(d...)
	return v
}
