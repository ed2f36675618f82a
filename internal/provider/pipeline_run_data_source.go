package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var _ datasource.DataSourceWithConfigure = &PipelineRunDataSource{}

// NewPipelineRunDataSource returns the mlops_pipeline_run data source.
func NewPipelineRunDataSource() datasource.DataSource { return &PipelineRunDataSource{} }

// PipelineRunDataSource reads one run of a pipeline: by number, or the newest.
type PipelineRunDataSource struct {
	data *providerData
}

// PipelineRunDataSourceModel is the state of the mlops_pipeline_run data source.
type PipelineRunDataSourceModel struct {
	ID              types.String `tfsdk:"id"`
	Project         types.String `tfsdk:"project"`
	Pipeline        types.String `tfsdk:"pipeline"`
	RunID           types.Int64  `tfsdk:"run_id"`
	Revision        types.Int64  `tfsdk:"revision"`
	Trigger         types.String `tfsdk:"trigger"`
	Parameters      types.Map    `tfsdk:"parameters"`
	State           types.String `tfsdk:"state"`
	Error           types.String `tfsdk:"error"`
	StartedAt       types.String `tfsdk:"started_at"`
	FinishedAt      types.String `tfsdk:"finished_at"`
	Model           types.String `tfsdk:"model"`
	ModelVersion    types.Int64  `tfsdk:"model_version"`
	Promoted        types.Bool   `tfsdk:"promoted"`
	PromotionReason types.String `tfsdk:"promotion_reason"`
	Steps           types.List   `tfsdk:"steps"`
}

var pipelineRunStepType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name":      types.StringType,
	"state":     types.StringType,
	"attempts":  types.Int64Type,
	"exit_code": types.Int64Type,
	"error":     types.StringType,
}}

func (d *PipelineRunDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline_run"
}

func (d *PipelineRunDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	computedInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one run of a pipeline, by `run_id` or, without it, the newest: its state, its steps, and the model version it registered and promoted. " +
			"Runs are started by schedules (`mlops_retraining_schedule`) or through the API (`POST /v1/projects/{project}/pipelines/{name}/runs`), not by Terraform. " +
			"The data source is read at every plan, so without `run_id` it follows the newest run.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("Identifier, `project/pipeline/run_id`; also the run's `pipeline_run_id` on the model version it registered."),
			"project": schema.StringAttribute{
				MarkdownDescription: "Project of the pipeline. Defaults to the provider's `project`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"pipeline": schema.StringAttribute{
				MarkdownDescription: "Pipeline name.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"run_id": schema.Int64Attribute{
				MarkdownDescription: "Number of the run to read (runs of a pipeline are numbered 1, 2, 3, ...). Unset reads the newest run; always set after the read.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"revision": computedInt("Pipeline revision the run executes."),
			"trigger":  computedString("What started the run: `manual`, `schedule:<name>` or `monitor:<name>`."),
			"parameters": schema.MapAttribute{
				MarkdownDescription: "Parameters the run was started with: the pipeline's defaults with any overrides; empty when there are none.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"state":       computedString("`queued`, `running`, `succeeded`, `failed` or `cancelled`. The last three are final."),
			"error":       computedString("Why the run failed or was cancelled; null when it has no error."),
			"started_at":  computedString("When the run started executing, as an RFC 3339 time in UTC; null while queued."),
			"finished_at": computedString("When the run ended, as an RFC 3339 time in UTC; null until it ends."),
			"model":       computedString("Model the run registered a version of (named in its `model.json`); null when it registered none."),
			"model_version": computedInt("Version the run registered; null when it registered none. " +
				"Read it with the `mlops_model_version` data source."),
			"promoted": schema.BoolAttribute{
				MarkdownDescription: "Whether the registered version took the pipeline's `promote_to` alias (it passed that alias's gates); null when the run promoted nothing " +
					"(no `promote_to`, or no version registered).",
				Computed: true,
			},
			"promotion_reason": computedString("Why the registered version was not promoted (the gate it failed); null otherwise."),
			"steps": schema.ListNestedAttribute{
				MarkdownDescription: "The run's steps, in the pipeline's order.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name":      computedString("Step name."),
						"state":     computedString("`pending`, `running`, `succeeded`, `failed`, `skipped` or `cancelled`."),
						"attempts":  computedInt("How many times the step was started, retries included; 0 when it never ran."),
						"exit_code": computedInt("Exit code of the last attempt; null when it did not exit (not started, killed, or its command not found)."),
						"error":     computedString("Why the step failed; null when it did not."),
					},
				},
			},
		},
	}
}

func (d *PipelineRunDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *PipelineRunDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg PipelineRunDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, pipeline := stringOr(cfg.Project, d.data.project), cfg.Pipeline.ValueString()
	var run *api.PipelineRun
	var err error
	what := "read the newest run of pipeline " + pipeline + " in project " + project
	if cfg.RunID.IsNull() {
		run, err = d.data.client.LatestRun(ctx, project, pipeline)
		if errors.Is(err, client.ErrNotFound) {
			d.noRuns(ctx, project, pipeline, &resp.Diagnostics)
			return
		}
	} else {
		what = fmt.Sprintf("read run %d of pipeline %s in project %s", cfg.RunID.ValueInt64(), pipeline, project)
		run, err = d.data.client.GetRun(ctx, project, pipeline, cfg.RunID.ValueInt64())
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, what, err)
		return
	}
	cfg.fill(run)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}

// noRuns reports why there is no newest run: the pipeline is missing, or has
// not run yet (the client answers both with not found).
func (d *PipelineRunDataSource) noRuns(ctx context.Context, project, pipeline string, diags *diag.Diagnostics) {
	if _, err := d.data.client.GetPipeline(ctx, project, pipeline); err != nil {
		addAPIError(diags, "read pipeline "+pipeline+" in project "+project, err)
		return
	}
	diags.AddAttributeError(path.Root("pipeline"), "Pipeline has no runs",
		fmt.Sprintf("Pipeline %q in project %q has not run yet, so there is no newest run to read. "+
			"Start one (POST /v1/projects/%s/pipelines/%s/runs) or wait for its retraining schedule to fire.", pipeline, project, project, pipeline))
}

func (m *PipelineRunDataSourceModel) fill(r *api.PipelineRun) {
	m.ID = types.StringValue(r.Project + "/" + r.Pipeline + "/" + strconv.FormatInt(r.ID, 10))
	m.Project = types.StringValue(r.Project)
	m.Pipeline = types.StringValue(r.Pipeline)
	m.RunID = types.Int64Value(r.ID)
	m.Revision = types.Int64Value(r.Revision)
	m.Trigger = types.StringValue(r.Trigger)
	m.Parameters = keepEmptyMap(r.Parameters, true)
	m.State = types.StringValue(r.State)
	m.Error = optionalString(r.Error)
	m.StartedAt = runTime(r.StartedAt)
	m.FinishedAt = runTime(r.FinishedAt)
	m.Model = optionalString(r.Model)
	m.ModelVersion = types.Int64Null()
	if r.ModelVersion > 0 {
		m.ModelVersion = types.Int64Value(r.ModelVersion)
	}
	m.Promoted, m.PromotionReason = types.BoolNull(), types.StringNull()
	if r.Promotion != nil {
		m.Promoted = types.BoolValue(r.Promotion.Promoted)
		m.PromotionReason = optionalString(r.Promotion.Reason)
	}
	steps := make([]attr.Value, 0, len(r.Steps))
	for _, st := range r.Steps {
		exit := types.Int64Null()
		if st.ExitCode != nil {
			exit = types.Int64Value(int64(*st.ExitCode))
		}
		steps = append(steps, types.ObjectValueMust(pipelineRunStepType.AttrTypes, map[string]attr.Value{
			"name":      types.StringValue(st.Name),
			"state":     types.StringValue(st.State),
			"attempts":  types.Int64Value(int64(st.Attempts)),
			"exit_code": exit,
			"error":     optionalString(st.Error),
		}))
	}
	m.Steps = types.ListValueMust(pipelineRunStepType, steps)
}

// runTime formats a run's timestamp; nil is null.
func runTime(t *time.Time) types.String {
	if t == nil {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339Nano))
}
