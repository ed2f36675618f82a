package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure   = &ModelAliasResource{}
	_ resource.ResourceWithImportState = &ModelAliasResource{}
	_ resource.ResourceWithModifyPlan  = &ModelAliasResource{}
)

// NewModelAliasResource returns the mlops_model_alias resource.
func NewModelAliasResource() resource.Resource { return &ModelAliasResource{} }

// ModelAliasResource manages an alias pointing at one version of a model.
type ModelAliasResource struct {
	data *providerData
}

// ModelAliasResourceModel is the state of mlops_model_alias.
type ModelAliasResourceModel struct {
	ID      types.String `tfsdk:"id"`
	Project types.String `tfsdk:"project"`
	Model   types.String `tfsdk:"model"`
	Alias   types.String `tfsdk:"alias"`
	Version types.Int64  `tfsdk:"version"`
}

func (r *ModelAliasResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model_alias"
}

func (r *ModelAliasResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Points an alias of a model, such as `champion`, at one version. The version must pass the model's gates that guard the alias: " +
			"the plan checks versions that already exist against the gates in force (apply a change of gates before relying on it), the server checks at apply. Moving the alias to another version is one atomic write. " +
			"Deleting the version an alias points at deletes the alias too; Terraform then recreates it.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/model/alias"),
			"project": projectAttribute(),
			"model": schema.StringAttribute{
				MarkdownDescription: "Name of the model. Changing it replaces the alias.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"alias": schema.StringAttribute{
				MarkdownDescription: "Alias name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the alias.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Version the alias points at, usually `mlops_model_version.x.version`. Changing it moves the alias in place.",
				Required:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
		},
	}
}

func (r *ModelAliasResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (m *ModelAliasResourceModel) fill(a *api.ModelAlias) {
	m.ID = types.StringValue(modelAliasID(a.Project, a.Model, a.Alias))
	m.Project = types.StringValue(a.Project)
	m.Model = types.StringValue(a.Model)
	m.Alias = types.StringValue(a.Alias)
	m.Version = types.Int64Value(a.Version)
}

// ModifyPlan fills the default project, then refuses, at plan time, a
// version that fails a gate guarding the alias, so the user learns before
// apply. It checks only what exists now: a model or version created in the
// same apply is left to the server's check, and gates changed in the same
// apply are judged by the gates still in force (the resource cannot see the
// model's plan).
func (r *ModelAliasResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return // destroy, or the provider is not configured yet
	}
	planDefaultProject(ctx, r.data, req, resp)
	var plan ModelAliasResourceModel
	resp.Diagnostics.Append(resp.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !modelKnown(plan.Project) || !modelKnown(plan.Model) || !modelKnown(plan.Alias) || !modelKnown(plan.Version) {
		return
	}
	if !req.State.Raw.IsNull() {
		var state ModelAliasResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if state.Project.Equal(plan.Project) && state.Model.Equal(plan.Model) && state.Alias.Equal(plan.Alias) && state.Version.Equal(plan.Version) {
			return // no write planned; gates changed since do not move existing aliases
		}
	}
	project, model, alias, version := plan.Project.ValueString(), plan.Model.ValueString(), plan.Alias.ValueString(), plan.Version.ValueInt64()
	skip := func(what string, err error) {
		log := tflog.Warn
		if errors.Is(err, client.ErrNotFound) {
			log = tflog.Debug // expected when it is created in the same apply
		}
		log(ctx, "skipping the plan-time gate check of a model alias: cannot read the "+what, map[string]any{
			"project": project, "model": model, "alias": alias, "version": version, "error": err.Error(),
		})
	}
	m, err := r.data.client.GetModel(ctx, project, model)
	if err != nil {
		skip("model", err) // the server checks at apply
		return
	}
	v, err := r.data.client.GetModelVersion(ctx, project, model, version)
	if err != nil {
		skip("version", err)
		return
	}
	if why := api.GateFailure(m.Gates, v.Metrics, alias); why != "" {
		resp.Diagnostics.AddAttributeError(path.Root("version"), "Version fails a gate of the model",
			fmt.Sprintf("version %d of model %q may not take alias %q: %s. Point the alias at a version that passes the model's gates, or change the gates.",
				version, model, alias, why))
	}
}

func (r *ModelAliasResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan ModelAliasResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.data.client.CreateModelAlias(ctx, plan.Project.ValueString(), plan.Model.ValueString(),
		api.ModelAlias{Alias: plan.Alias.ValueString(), Version: plan.Version.ValueInt64()})
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("create alias %s of model %s", plan.Alias.ValueString(), plan.Model.ValueString()), err)
		return
	}
	plan.fill(a)
	rememberGeneration(ctx, resp.Private, a.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ModelAliasResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state ModelAliasResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	a, err := r.data.client.GetModelAlias(ctx, state.Project.ValueString(), state.Model.ValueString(), state.Alias.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx) // also when its version was deleted, which deletes the alias
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("read alias %s of model %s", state.Alias.ValueString(), state.Model.ValueString()), err)
		return
	}
	state.fill(a)
	rememberGeneration(ctx, resp.Private, a.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

// Update moves the alias. When the version it pointed at was replaced earlier
// in the same apply, the server deleted the alias with that version; the alias
// is then created again at the new version, so the apply converges.
func (r *ModelAliasResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan ModelAliasResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, model, alias, version := plan.Project.ValueString(), plan.Model.ValueString(), plan.Alias.ValueString(), plan.Version.ValueInt64()
	a, err := r.data.client.UpdateModelAlias(ctx, project, model, alias, api.ModelAliasUpdate{Version: version}, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if errors.Is(err, client.ErrNotFound) {
		tflog.Info(ctx, "alias disappeared before it could be moved (its version was deleted); creating it again", map[string]any{
			"project": project, "model": model, "alias": alias, "version": version,
		})
		a, err = r.data.client.CreateModelAlias(ctx, project, model, api.ModelAlias{Alias: alias, Version: version})
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("move alias %s of model %s to version %d", alias, model, version), err)
		return
	}
	plan.fill(a)
	rememberGeneration(ctx, resp.Private, a.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ModelAliasResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state ModelAliasResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.data.client.DeleteModelAlias(ctx, state.Project.ValueString(), state.Model.ValueString(), state.Alias.ValueString(), 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("delete alias %s of model %s", state.Alias.ValueString(), state.Model.ValueString()), err)
	}
}

func (r *ModelAliasResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/model/alias or model/alias", r.data, resp, "project", "model", "alias")
}
