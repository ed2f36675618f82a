package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = &PipelineDataSource{}

// NewPipelineDataSource returns the mlops_pipeline data source.
func NewPipelineDataSource() datasource.DataSource { return &PipelineDataSource{} }

// PipelineDataSource reads a pipeline.
type PipelineDataSource struct {
	data *providerData
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
		MarkdownDescription: "Reads a pipeline: its steps, parameters and current revision. Absent optional values read as empty strings, maps and lists.",
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
			"labels":   computedMap(pipelineLabelsDescription),
			"revision": schema.Int64Attribute{MarkdownDescription: pipelineRevisionDescription, Computed: true},
		},
	}
}

func (d *PipelineDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *PipelineDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg PipelineResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project := stringOr(cfg.Project, d.data.project)
	p, err := d.data.client.GetPipeline(ctx, project, cfg.Name.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "read pipeline "+cfg.Name.ValueString()+" in project "+project, err)
		return
	}
	cfg.fill(ctx, p, true)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
