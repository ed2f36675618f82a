package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure   = &ProjectResource{}
	_ resource.ResourceWithImportState = &ProjectResource{}
)

// NewProjectResource returns the mlops_project resource.
func NewProjectResource() resource.Resource { return &ProjectResource{} }

// ProjectResource manages a project.
type ProjectResource struct {
	data *providerData
}

// ProjectResourceModel is the state of mlops_project.
type ProjectResourceModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
}

func (r *ProjectResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (r *ProjectResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A project groups datasets, pipelines, models and schedules, and scopes API tokens. " +
			"Creating projects needs an admin token or an editor token for every project. A project is deleted only when it is empty.",
		Attributes: map[string]schema.Attribute{
			"id": idAttribute("name"),
			"name": schema.StringAttribute{
				MarkdownDescription: "Project name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the project.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What the project is for.",
				Optional:            true,
			},
		},
	}
}

func (r *ProjectResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (m *ProjectResourceModel) fill(p *api.Project) {
	m.ID = types.StringValue(p.Name)
	m.Name = types.StringValue(p.Name)
	// An explicit "" stays "", so it does not read back as null (which Terraform calls inconsistent).
	m.Description = keepEmptyString(p.Description, isEmpty(m.Description))
}

func (r *ProjectResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan ProjectResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.data.client.CreateProject(ctx, api.Project{Name: plan.Name.ValueString(), Description: plan.Description.ValueString()})
	if err != nil {
		addAPIError(&resp.Diagnostics, "create project "+plan.Name.ValueString(), err)
		return
	}
	plan.fill(p)
	rememberGeneration(ctx, resp.Private, p.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ProjectResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state ProjectResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	p, err := r.data.client.GetProject(ctx, state.Name.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read project "+state.Name.ValueString(), err)
		return
	}
	state.fill(p)
	rememberGeneration(ctx, resp.Private, p.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

func (r *ProjectResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan ProjectResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.data.client.UpdateProject(ctx, plan.Name.ValueString(), api.ProjectUpdate{Description: plan.Description.ValueString()}, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addAPIError(&resp.Diagnostics, "update project "+plan.Name.ValueString(), err)
		return
	}
	plan.fill(p)
	rememberGeneration(ctx, resp.Private, p.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *ProjectResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state ProjectResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.data.client.DeleteProject(ctx, state.Name.ValueString(), 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "delete project "+state.Name.ValueString(), err)
	}
}

func (r *ProjectResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
