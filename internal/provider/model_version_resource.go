package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure   = &ModelVersionResource{}
	_ resource.ResourceWithImportState = &ModelVersionResource{}
	_ resource.ResourceWithModifyPlan  = &ModelVersionResource{}
)

// NewModelVersionResource returns the mlops_model_version resource.
func NewModelVersionResource() resource.Resource { return &ModelVersionResource{} }

// ModelVersionResource manages one registered version of a model.
type ModelVersionResource struct {
	data *providerData
}

// ModelVersionResourceModel is the state of mlops_model_version.
type ModelVersionResourceModel struct {
	ID             types.String `tfsdk:"id"`
	Project        types.String `tfsdk:"project"`
	Model          types.String `tfsdk:"model"`
	Version        types.Int64  `tfsdk:"version"`
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

func (r *ModelVersionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model_version"
}

// modelGateResultDescriptions documents gate_results' elements, for the resource and the data source.
func modelGateResultDescriptions() map[string]string {
	return map[string]string{
		"metric":    "Metric the gate reads.",
		"op":        "Comparison: one of `>=`, `>`, `<=`, `<`, `==`.",
		"threshold": "Value the metric is compared with.",
		"value":     "The version's value of the metric; null when the version lacks it, which fails the gate.",
		"passed":    "Whether the version passes the gate.",
	}
}

func (r *ModelVersionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	d := modelGateResultDescriptions()
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A registered version of a model. The server assigns its number. Everything but `description` and `labels` is immutable: " +
			"changing it registers a new version (with a higher number) and deletes this one, together with the aliases that point at it. " +
			"Give the version `lifecycle { create_before_destroy = true }` to let an alias move to the new version before the old one goes.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/model/version"),
			"project": projectAttribute(),
			"model": schema.StringAttribute{
				MarkdownDescription: "Name of the model. Changing it replaces the version.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       replace,
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version number the server assigned.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"artifact_uri": schema.StringAttribute{
				MarkdownDescription: "Where the trained artifact lives: `scheme://location` or an absolute path. Changing it registers a new version.",
				Required:            true,
				Validators:          []validatorString{uriValidator()},
				PlanModifiers:       replace,
			},
			"metrics": schema.MapAttribute{
				MarkdownDescription: "Evaluation metrics, such as `{ auc = 0.91 }`; the model's gates read them. Changing them registers a new version.",
				ElementType:         types.Float64Type,
				Optional:            true,
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"params": schema.MapAttribute{
				MarkdownDescription: "Training parameters. Changing them registers a new version.",
				ElementType:         types.StringType,
				Optional:            true,
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"dataset": schema.StringAttribute{
				MarkdownDescription: "Name of the training dataset in the same project (lineage). Changing it registers a new version.",
				Optional:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       replace,
			},
			"dataset_version": schema.Int64Attribute{
				MarkdownDescription: "Version of `dataset` the model was trained on; defaults to the dataset's current version. Changing it registers a new version.",
				Optional:            true,
				Computed:            true,
				PlanModifiers: []planmodifier.Int64{
					int64planmodifier.UseStateForUnknown(),
					int64planmodifier.RequiresReplace(),
				},
			},
			"pipeline_run_id": schema.StringAttribute{
				MarkdownDescription: "ID of the pipeline run that trained the version (lineage). Changing it registers a new version.",
				Optional:            true,
				PlanModifiers:       replace,
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What is notable about this version. Updated in place.",
				Optional:            true,
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Free-form key/value labels. Updated in place.",
				ElementType:         types.StringType,
				Optional:            true,
			},
			// No UseStateForUnknown: the server evaluates the model's current gates on every read.
			"gate_results": schema.ListNestedAttribute{
				MarkdownDescription: "The model's gates evaluated against this version's metrics.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"metric":    schema.StringAttribute{MarkdownDescription: d["metric"], Computed: true},
					"op":        schema.StringAttribute{MarkdownDescription: d["op"], Computed: true},
					"threshold": schema.Float64Attribute{MarkdownDescription: d["threshold"], Computed: true},
					"value":     schema.Float64Attribute{MarkdownDescription: d["value"], Computed: true},
					"passed":    schema.BoolAttribute{MarkdownDescription: d["passed"], Computed: true},
				}},
			},
		},
	}
}

// ModifyPlan fills the default project.
func (r *ModelVersionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planDefaultProject(ctx, r.data, req, resp)
}

func (r *ModelVersionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (m *ModelVersionResourceModel) spec(ctx context.Context, diags *diag.Diagnostics) api.ModelVersionSpec {
	s := api.ModelVersionSpec{
		ArtifactURI:   m.ArtifactURI.ValueString(),
		Metrics:       modelFloat64Map(ctx, m.Metrics, diags),
		Params:        stringMap(ctx, m.Params, diags),
		Dataset:       m.Dataset.ValueString(),
		PipelineRunID: m.PipelineRunID.ValueString(),
		Description:   m.Description.ValueString(),
		Labels:        stringMap(ctx, m.Labels, diags),
	}
	if modelKnown(m.DatasetVersion) {
		s.DatasetVersion = m.DatasetVersion.ValueInt64()
	}
	return s
}

// fill copies the server's version into m; m's own maps decide null vs empty.
func (m *ModelVersionResourceModel) fill(ctx context.Context, v *api.ModelVersion, diags *diag.Diagnostics) {
	m.ID = types.StringValue(modelVersionID(v.Project, v.Model, v.Version))
	m.Project = types.StringValue(v.Project)
	m.Model = types.StringValue(v.Model)
	m.Version = types.Int64Value(v.Version)
	m.ArtifactURI = types.StringValue(v.ArtifactURI)
	m.Metrics = modelKeepEmptyMap(modelFloat64MapValue(v.Metrics), m.Metrics)
	m.Params = modelKeepEmptyMap(stringMapValue(v.Params), m.Params)
	m.Dataset = optionalString(v.Dataset)
	m.DatasetVersion = modelOptionalInt64(v.DatasetVersion)
	m.PipelineRunID = optionalString(v.PipelineRunID)
	m.Description = optionalString(v.Description)
	m.Labels = modelKeepEmptyMap(stringMapValue(v.Labels), m.Labels)
	m.GateResults = gateResultsValue(ctx, v.GateResults, diags)
}

func (r *ModelVersionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan ModelVersionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	model := plan.Model.ValueString()
	v, err := r.data.client.CreateModelVersion(ctx, plan.Project.ValueString(), model, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, "register a version of model "+model, err)
		return
	}
	plan.fill(ctx, v, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, v.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ModelVersionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state ModelVersionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	v, err := r.data.client.GetModelVersion(ctx, state.Project.ValueString(), state.Model.ValueString(), state.Version.ValueInt64())
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("read version %d of model %s", state.Version.ValueInt64(), state.Model.ValueString()), err)
		return
	}
	state.fill(ctx, v, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, v.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

// Update changes description and labels, the only mutable fields; every other change replaces.
func (r *ModelVersionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan ModelVersionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	u := api.ModelVersionUpdate{Description: plan.Description.ValueString(), Labels: stringMap(ctx, plan.Labels, &resp.Diagnostics)}
	if resp.Diagnostics.HasError() {
		return
	}
	model, version := plan.Model.ValueString(), plan.Version.ValueInt64()
	v, err := r.data.client.UpdateModelVersion(ctx, plan.Project.ValueString(), model, version, u, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("update version %d of model %s", version, model), err)
		return
	}
	plan.fill(ctx, v, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, v.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ModelVersionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state ModelVersionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	model, version := state.Model.ValueString(), state.Version.ValueInt64()
	err := r.data.client.DeleteModelVersion(ctx, state.Project.ValueString(), model, version, 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("delete version %d of model %s", version, model), err)
	}
}

func (r *ModelVersionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	const format = "project/model/version or model/version"
	project := "default"
	if r.data != nil {
		project = r.data.project
	}
	parts, err := splitID(req.ID, 3, format, project)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	version, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || version < 1 {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q must look like %s, where version is a number from 1", req.ID, format))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("project"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("model"), parts[1])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("version"), version)...)
}
