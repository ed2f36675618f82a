package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = &ModelDataSource{}

// NewModelDataSource returns the mlops_model data source.
func NewModelDataSource() datasource.DataSource { return &ModelDataSource{} }

// ModelDataSource reads a model.
type ModelDataSource struct {
	data *providerData
}

// ModelDataSourceModel is the state of the mlops_model data source.
type ModelDataSourceModel struct {
	ID            types.String `tfsdk:"id"`
	Project       types.String `tfsdk:"project"`
	Name          types.String `tfsdk:"name"`
	Description   types.String `tfsdk:"description"`
	Labels        types.Map    `tfsdk:"labels"`
	Gates         types.List   `tfsdk:"gates"`
	LatestVersion types.Int64  `tfsdk:"latest_version"`
	Aliases       types.Map    `tfsdk:"aliases"`
}

func (d *ModelDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model"
}

// modelDataSourceProject is the optional project of the model data sources.
func modelDataSourceProject() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Project of the model. Defaults to the provider's `project`.",
		Optional:            true,
		Computed:            true,
		Validators:          []validatorString{nameValidator()},
	}
}

// modelDataSourceProjectOr returns the configured project or the provider's.
func modelDataSourceProjectOr(data *providerData, v types.String) string {
	return stringOr(v, data.project)
}

func (d *ModelDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a registered model, with its gates, latest version and aliases.",
		Attributes: map[string]schema.Attribute{
			"id":          schema.StringAttribute{MarkdownDescription: "`project/name`.", Computed: true},
			"project":     modelDataSourceProject(),
			"name":        schema.StringAttribute{MarkdownDescription: "Model name.", Required: true, Validators: []validatorString{nameValidator()}},
			"description": schema.StringAttribute{MarkdownDescription: "What the model predicts.", Computed: true},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Key/value labels; empty when there are none.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"gates": schema.ListNestedAttribute{
				MarkdownDescription: "Metric conditions a version must meet to take an alias; empty when there are none.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"metric":    schema.StringAttribute{MarkdownDescription: "Metric the gate reads from a version's `metrics`.", Computed: true},
					"op":        schema.StringAttribute{MarkdownDescription: "Comparison: one of `>=`, `>`, `<=`, `<`, `==`.", Computed: true},
					"threshold": schema.Float64Attribute{MarkdownDescription: "Value the metric is compared with.", Computed: true},
					"aliases": schema.ListAttribute{
						MarkdownDescription: "Aliases the gate guards; null when it guards every alias.",
						ElementType:         types.StringType,
						Computed:            true,
					},
				}},
			},
			"latest_version": schema.Int64Attribute{MarkdownDescription: "Highest version number; 0 while the model has none.", Computed: true},
			"aliases": schema.MapAttribute{
				MarkdownDescription: "Alias name to the version it points at, e.g. `{ champion = 3 }`; empty when there are none.",
				ElementType:         types.Int64Type,
				Computed:            true,
			},
		},
	}
}

func (d *ModelDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *ModelDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg ModelDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := modelDataSourceProjectOr(d.data, cfg.Project), cfg.Name.ValueString()
	m, err := d.data.client.GetModel(ctx, project, name)
	if err != nil {
		addAPIError(&resp.Diagnostics, "read model "+name, err)
		return
	}
	// Collections are empty rather than null, so length() and lookup() work on them.
	labels, aliases := m.Labels, m.Aliases
	if labels == nil {
		labels = map[string]string{}
	}
	if aliases == nil {
		aliases = map[string]int64{}
	}
	cfg.ID = types.StringValue(modelID(m.Project, m.Name))
	cfg.Project = types.StringValue(m.Project)
	cfg.Name = types.StringValue(m.Name)
	cfg.Description = types.StringValue(m.Description)
	var d1, d2 diag.Diagnostics
	cfg.Labels, d1 = types.MapValueFrom(ctx, types.StringType, labels)
	resp.Diagnostics.Append(d1...)
	// An empty prior makes "no gates" an empty list.
	cfg.Gates = gatesValue(ctx, m.Gates, types.ListValueMust(gateObjectType, []attr.Value{}), &resp.Diagnostics)
	cfg.LatestVersion = types.Int64Value(m.LatestVersion)
	cfg.Aliases, d2 = types.MapValueFrom(ctx, types.Int64Type, aliases)
	resp.Diagnostics.Append(d2...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
