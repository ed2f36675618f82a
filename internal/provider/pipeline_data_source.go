package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var _ datasource.DataSourceWithConfigure = &PipelineDataSource{}

// NewPipelineDataSource returns the mlops_pipeline data source.
func NewPipelineDataSource() datasource.DataSource { return &PipelineDataSource{} }

// PipelineDataSource reads a pipeline.
type PipelineDataSource struct {
	data *providerData
}

// PipelineDataSourceModel is the state of the mlops_pipeline data source: the
// resource's attributes and what its newest run did.
type PipelineDataSourceModel struct {
	PipelineResourceModel
	LastRunID    types.Int64  `tfsdk:"last_run_id"`
	LastRunState types.String `tfsdk:"last_run_state"`
}

func (d *PipelineDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline"
}

func (d *PipelineDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	computedMap := func(desc string) schema.MapAttribute {
		return schema.MapAttribute{MarkdownDescription: desc, ElementType: types.StringType, Computed: true}
	}
	computedList := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{MarkdownDescription: desc, ElementType: types.StringType, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a pipeline: its steps, parameters, inputs, current revision and newest run. Absent optional values read as empty strings, maps and lists. " +
			"Use `mlops_pipeline_run` for the details of a run.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("Identifier, `project/name`."),
			"project": schema.StringAttribute{
				MarkdownDescription: "Project of the pipeline. Defaults to the provider's `project`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Pipeline name.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"description": computedString(pipelineDescription),
			"parameters":  computedMap(pipelineParametersDescription),
			"steps": schema.ListNestedAttribute{
				MarkdownDescription: pipelineStepsDescription,
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name":       computedString(stepNameDescription),
						"command":    computedList(stepCommandDescription),
						"image":      computedString(stepImageDescription),
						"env":        computedMap(stepEnvDescription),
						"depends_on": computedList(stepDependsOnDescription),
						"timeout":    computedString(stepTimeoutDescription),
						"retries":    schema.Int64Attribute{MarkdownDescription: stepRetriesDescription, Computed: true},
					},
				},
			},
			"labels":     computedMap(pipelineLabelsDescription),
			"datasets":   computedList(pipelineDatasetsDescription),
			"promote_to": computedString(pipelinePromoteToDescription + " Empty when the pipeline promotes nothing."),
			"revision":   schema.Int64Attribute{MarkdownDescription: pipelineRevisionDescription, Computed: true},
			"last_run_id": schema.Int64Attribute{
				MarkdownDescription: "Number of the pipeline's newest run, whatever started it; null while it has none.",
				Computed:            true,
			},
			"last_run_state": computedString("State of the newest run: `queued`, `running`, `succeeded`, `failed` or `cancelled`; null while the pipeline has no run."),
		},
	}
}

func (d *PipelineDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *PipelineDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg PipelineDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := stringOr(cfg.Project, d.data.project), cfg.Name.ValueString()
	p, err := d.data.client.GetPipeline(ctx, project, name)
	if err != nil {
		addAPIError(&resp.Diagnostics, "read pipeline "+name+" in project "+project, err)
		return
	}
	cfg.fill(ctx, p, true)
	cfg.LastRunID, cfg.LastRunState = types.Int64Null(), types.StringNull()
	run, err := d.data.client.LatestRun(ctx, project, name)
	switch {
	case errors.Is(err, client.ErrNotFound):
		// No run yet (or the pipeline went away since): nothing to report.
	case err != nil:
		addAPIError(&resp.Diagnostics, "read the newest run of pipeline "+name+" in project "+project, err)
		return
	default:
		cfg.LastRunID, cfg.LastRunState = types.Int64Value(run.ID), types.StringValue(run.State)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
