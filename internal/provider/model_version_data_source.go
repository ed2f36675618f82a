package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = &ModelVersionDataSource{}

// NewModelVersionDataSource returns the mlops_model_version data source.
func NewModelVersionDataSource() datasource.DataSource { return &ModelVersionDataSource{} }

// ModelVersionDataSource reads one version of a model: by number, by alias, or the latest.
type ModelVersionDataSource struct {
	data *providerData
}

// ModelVersionDataSourceModel is the state of the mlops_model_version data source.
type ModelVersionDataSourceModel struct {
	ID             types.String `tfsdk:"id"`
	Project        types.String `tfsdk:"project"`
	Model          types.String `tfsdk:"model"`
	Version        types.Int64  `tfsdk:"version"`
	Alias          types.String `tfsdk:"alias"`
	ArtifactURI    types.String `tfsdk:"artifact_uri"`
	Metrics        types.Map    `tfsdk:"metrics"`
	Params         types.Map    `tfsdk:"params"`
	Dataset        types.String `tfsdk:"dataset"`
	DatasetVersion types.Int64  `tfsdk:"dataset_version"`
	PipelineRunID  types.String `tfsdk:"pipeline_run_id"`
	Description    types.String `tfsdk:"description"`
	Labels         types.Map    `tfsdk:"labels"`
	GateResults    types.List   `tfsdk:"gate_results"`
}

func (d *ModelVersionDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model_version"
}

func (d *ModelVersionDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	g := modelGateResultDescriptions()
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one version of a model: by `version`, by `alias` (say, whatever version holds `champion`), or, with neither, the latest.",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{MarkdownDescription: "`project/model/version`.", Computed: true},
			"project": modelDataSourceProject(),
			"model":   schema.StringAttribute{MarkdownDescription: "Model name.", Required: true, Validators: []validatorString{nameValidator()}},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version to read. Conflicts with `alias`; with neither, the latest version is read. Always set after the read.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.Int64{
					int64validator.AtLeast(1),
					int64validator.ConflictsWith(path.MatchRoot("alias")),
				},
			},
			"alias": schema.StringAttribute{
				MarkdownDescription: "Read the version this alias points at, such as `champion`. Conflicts with `version`.",
				Optional:            true,
				Validators: []validatorString{
					nameValidator(),
					stringvalidator.ConflictsWith(path.MatchRoot("version")),
				},
			},
			"artifact_uri":    schema.StringAttribute{MarkdownDescription: "Where the trained artifact lives.", Computed: true},
			"metrics":         schema.MapAttribute{MarkdownDescription: "Evaluation metrics; empty when there are none.", ElementType: types.Float64Type, Computed: true},
			"params":          schema.MapAttribute{MarkdownDescription: "Training parameters; empty when there are none.", ElementType: types.StringType, Computed: true},
			"dataset":         schema.StringAttribute{MarkdownDescription: "Training dataset; null when the version records none.", Computed: true},
			"dataset_version": schema.Int64Attribute{MarkdownDescription: "Version of the training dataset; null when the version records no dataset.", Computed: true},
			"pipeline_run_id": schema.StringAttribute{MarkdownDescription: "Pipeline run that trained the version; null when it records none.", Computed: true},
			"description":     schema.StringAttribute{MarkdownDescription: "What is notable about this version.", Computed: true},
			"labels":          schema.MapAttribute{MarkdownDescription: "Key/value labels; empty when there are none.", ElementType: types.StringType, Computed: true},
			"gate_results": schema.ListNestedAttribute{
				MarkdownDescription: "The model's gates evaluated against this version's metrics.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"metric":    schema.StringAttribute{MarkdownDescription: g["metric"], Computed: true},
					"op":        schema.StringAttribute{MarkdownDescription: g["op"], Computed: true},
					"threshold": schema.Float64Attribute{MarkdownDescription: g["threshold"], Computed: true},
					"value":     schema.Float64Attribute{MarkdownDescription: g["value"], Computed: true},
					"passed":    schema.BoolAttribute{MarkdownDescription: g["passed"], Computed: true},
				}},
			},
		},
	}
}

func (d *ModelVersionDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *ModelVersionDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg ModelVersionDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := d.data.client
	project, model := modelDataSourceProjectOr(d.data, cfg.Project), cfg.Model.ValueString()
	var version int64
	switch {
	case modelKnown(cfg.Version):
		version = cfg.Version.ValueInt64()
	case modelKnown(cfg.Alias):
		a, err := c.GetModelAlias(ctx, project, model, cfg.Alias.ValueString())
		if err != nil {
			addAPIError(&resp.Diagnostics, fmt.Sprintf("read alias %s of model %s", cfg.Alias.ValueString(), model), err)
			return
		}
		version = a.Version
	default:
		m, err := c.GetModel(ctx, project, model)
		if err != nil {
			addAPIError(&resp.Diagnostics, "read model "+model, err)
			return
		}
		if m.LatestVersion == 0 {
			resp.Diagnostics.AddAttributeError(path.Root("model"), "Model has no versions",
				fmt.Sprintf("Model %q in project %q has no versions yet, so there is no latest version to read. Register one (mlops_model_version), or set version or alias.", model, project))
			return
		}
		version = m.LatestVersion
	}
	v, err := c.GetModelVersion(ctx, project, model, version)
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("read version %d of model %s", version, model), err)
		return
	}
	// Maps are empty rather than null, so lookup() works on them.
	emptyFloats := types.MapValueMust(types.Float64Type, nil)
	emptyStrings := types.MapValueMust(types.StringType, nil)
	cfg.ID = types.StringValue(modelVersionID(v.Project, v.Model, v.Version))
	cfg.Project = types.StringValue(v.Project)
	cfg.Model = types.StringValue(v.Model)
	cfg.Version = types.Int64Value(v.Version)
	cfg.ArtifactURI = types.StringValue(v.ArtifactURI)
	cfg.Metrics = modelKeepEmptyMap(modelFloat64MapValue(v.Metrics), emptyFloats)
	cfg.Params = modelKeepEmptyMap(stringMapValue(v.Params), emptyStrings)
	cfg.Dataset = optionalString(v.Dataset)
	cfg.DatasetVersion = modelOptionalInt64(v.DatasetVersion)
	cfg.PipelineRunID = optionalString(v.PipelineRunID)
	cfg.Description = types.StringValue(v.Description)
	cfg.Labels = modelKeepEmptyMap(stringMapValue(v.Labels), emptyStrings)
	cfg.GateResults = gateResultsValue(ctx, v.GateResults, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
