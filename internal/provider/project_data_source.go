package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = &ProjectDataSource{}

// NewProjectDataSource returns the mlops_project data source.
func NewProjectDataSource() datasource.DataSource { return &ProjectDataSource{} }

// ProjectDataSource reads a project.
type ProjectDataSource struct {
	data *providerData
}

func (d *ProjectDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (d *ProjectDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a project.",
		Attributes: map[string]schema.Attribute{
			"id":          schema.StringAttribute{MarkdownDescription: "The project name.", Computed: true},
			"name":        schema.StringAttribute{MarkdownDescription: "Project name.", Required: true, Validators: []validatorString{nameValidator()}},
			"description": schema.StringAttribute{MarkdownDescription: "What the project is for.", Computed: true},
		},
	}
}

func (d *ProjectDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *ProjectDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg ProjectResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := d.data.client.GetProject(ctx, cfg.Name.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "read project "+cfg.Name.ValueString(), err)
		return
	}
	cfg.fill(p)
	cfg.Description = types.StringValue(p.Description)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
