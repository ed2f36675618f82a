package provider

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure   = &ModelResource{}
	_ resource.ResourceWithImportState = &ModelResource{}
	_ resource.ResourceWithModifyPlan  = &ModelResource{}
)

// NewModelResource returns the mlops_model resource.
func NewModelResource() resource.Resource { return &ModelResource{} }

// ModelResource manages a registered model.
type ModelResource struct {
	data *providerData
}

// ModelResourceModel is the state of mlops_model.
type ModelResourceModel struct {
	ID            types.String `tfsdk:"id"`
	Project       types.String `tfsdk:"project"`
	Name          types.String `tfsdk:"name"`
	Description   types.String `tfsdk:"description"`
	Labels        types.Map    `tfsdk:"labels"`
	Gates         types.List   `tfsdk:"gates"`
	LatestVersion types.Int64  `tfsdk:"latest_version"`
	ForceDestroy  types.Bool   `tfsdk:"force_destroy"`
}

func (r *ModelResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model"
}

// modelGateAttributes is the schema of one gate.
func modelGateAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"metric": schema.StringAttribute{
			MarkdownDescription: "Metric the gate reads from a version's `metrics`. A version without it fails the gate.",
			Required:            true,
			Validators:          []validatorString{stringvalidator.LengthAtLeast(1)},
		},
		"op": schema.StringAttribute{
			MarkdownDescription: "Comparison: one of `>=`, `>`, `<=`, `<`, `==`.",
			Required:            true,
			Validators:          []validatorString{stringvalidator.OneOf(api.GateOps...)},
		},
		"threshold": schema.Float64Attribute{
			MarkdownDescription: "Value the metric is compared with.",
			Required:            true,
		},
		"aliases": schema.ListAttribute{
			MarkdownDescription: "Aliases the gate guards. Unset guards every alias.",
			ElementType:         types.StringType,
			Optional:            true,
			Validators:          []validator.List{listvalidator.ValueStringsAre(nameValidator())},
		},
	}
}

func (r *ModelResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A registered model: a named series of versions (`mlops_model_version`) with aliases (`mlops_model_alias`) " +
			"and the gates a version must pass to take an alias. Changing gates does not move existing aliases; they apply to the next alias change.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/name"),
			"project": projectAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Model name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the model.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What the model predicts.",
				Optional:            true,
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Free-form key/value labels.",
				ElementType:         types.StringType,
				Optional:            true,
			},
			"gates": schema.ListNestedAttribute{
				MarkdownDescription: "Metric conditions a version must meet to take an alias, e.g. `{ metric = \"auc\", op = \">=\", threshold = 0.8 }`.",
				Optional:            true,
				NestedObject:        schema.NestedAttributeObject{Attributes: modelGateAttributes()},
			},
			// No UseStateForUnknown: registering a version changes it outside this resource.
			"latest_version": schema.Int64Attribute{
				MarkdownDescription: "Highest version number registered; 0 while the model has none.",
				Computed:            true,
			},
			"force_destroy": schema.BoolAttribute{
				MarkdownDescription: "Destroying the model also deletes its versions and aliases. When `false` (the default) a model that still has versions refuses deletion. " +
					"Only the provider reads it; set it and apply before destroying.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
		},
	}
}

// ModifyPlan fills the default project.
func (r *ModelResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planDefaultProject(ctx, r.data, req, resp)
}

func (r *ModelResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

// spec is the part of the model the user declares.
func (m *ModelResourceModel) spec(ctx context.Context, diags *diag.Diagnostics) api.ModelSpec {
	return api.ModelSpec{
		Description: m.Description.ValueString(),
		Labels:      stringMap(ctx, m.Labels, diags),
		Gates:       gatesFromList(ctx, m.Gates, diags),
	}
}

// fill copies the server's model into m; m's own collections decide null vs empty.
func (m *ModelResourceModel) fill(ctx context.Context, mo *api.Model, diags *diag.Diagnostics) {
	m.ID = types.StringValue(modelID(mo.Project, mo.Name))
	m.Project = types.StringValue(mo.Project)
	m.Name = types.StringValue(mo.Name)
	m.Description = optionalString(mo.Description)
	m.Labels = modelKeepEmptyMap(stringMapValue(mo.Labels), m.Labels)
	m.Gates = gatesValue(ctx, mo.Gates, m.Gates, diags)
	m.LatestVersion = types.Int64Value(mo.LatestVersion)
	if m.ForceDestroy.IsNull() || m.ForceDestroy.IsUnknown() {
		m.ForceDestroy = types.BoolValue(false)
	}
}

func (r *ModelResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan ModelResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	mo, err := r.data.client.CreateModel(ctx, project, api.CreateModelRequest{Name: name, ModelSpec: spec})
	if err != nil {
		addAPIError(&resp.Diagnostics, "create model "+name, err)
		return
	}
	plan.fill(ctx, mo, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, mo.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ModelResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state ModelResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	mo, err := r.data.client.GetModel(ctx, state.Project.ValueString(), state.Name.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read model "+state.Name.ValueString(), err)
		return
	}
	state.fill(ctx, mo, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, mo.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

func (r *ModelResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state ModelResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	prior := state.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	var mo *api.Model
	var err error
	if reflect.DeepEqual(spec, prior) {
		// Only force_destroy changed: it lives in state alone, so no write.
		mo, err = r.data.client.GetModel(ctx, project, name)
	} else {
		mo, err = r.data.client.UpdateModel(ctx, project, name, spec, readGeneration(ctx, req.Private, &resp.Diagnostics))
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "update model "+name, err)
		return
	}
	plan.fill(ctx, mo, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, mo.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ModelResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state ModelResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name, force := state.Project.ValueString(), state.Name.ValueString(), state.ForceDestroy.ValueBool()
	err := r.data.client.DeleteModel(ctx, project, name, force, 0)
	switch {
	case err == nil, errors.Is(err, client.ErrNotFound):
	case errors.Is(err, client.ErrConflict) && !force:
		resp.Diagnostics.AddError("Model still has versions",
			fmt.Sprintf("Model %q in project %q still has versions, so it was not deleted. Delete its versions first "+
				"(remove their mlops_model_version resources, or delete them through the API), or set force_destroy = true "+
				"on the model and apply before destroying it, to delete its versions and aliases with it.\n\n%v", name, project, err))
	default:
		addAPIError(&resp.Diagnostics, "delete model "+name, err)
	}
}

func (r *ModelResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/name or name", r.data, resp, "project", "name")
	// force_destroy is not stored on the server: start from its default so an import plans no change.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("force_destroy"), false)...)
}
