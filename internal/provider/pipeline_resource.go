package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure      = &PipelineResource{}
	_ resource.ResourceWithImportState    = &PipelineResource{}
	_ resource.ResourceWithModifyPlan     = &PipelineResource{}
	_ resource.ResourceWithValidateConfig = &PipelineResource{}
)

// NewPipelineResource returns the mlops_pipeline resource.
func NewPipelineResource() resource.Resource { return &PipelineResource{} }

// PipelineResource manages a pipeline.
type PipelineResource struct {
	data *providerData
}

// PipelineResourceModel is the state of mlops_pipeline, and of its data source.
type PipelineResourceModel struct {
	ID          types.String `tfsdk:"id"`
	Project     types.String `tfsdk:"project"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Parameters  types.Map    `tfsdk:"parameters"`
	Steps       types.List   `tfsdk:"steps"`
	Labels      types.Map    `tfsdk:"labels"`
	Datasets    types.List   `tfsdk:"datasets"`
	PromoteTo   types.String `tfsdk:"promote_to"`
	Revision    types.Int64  `tfsdk:"revision"`
}

// pipelineStepModel is one element of steps.
type pipelineStepModel struct {
	Name      types.String `tfsdk:"name"`
	Command   types.List   `tfsdk:"command"`
	Image     types.String `tfsdk:"image"`
	Env       types.Map    `tfsdk:"env"`
	DependsOn types.List   `tfsdk:"depends_on"`
	Timeout   types.String `tfsdk:"timeout"`
	Retries   types.Int64  `tfsdk:"retries"`
}

var pipelineStepType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name":       types.StringType,
	"command":    types.ListType{ElemType: types.StringType},
	"image":      types.StringType,
	"env":        types.MapType{ElemType: types.StringType},
	"depends_on": types.ListType{ElemType: types.StringType},
	"timeout":    types.StringType,
	"retries":    types.Int64Type,
}}

// Descriptions shared by the resource and the data source.
const (
	pipelineDescription           = "What the pipeline does."
	pipelineParametersDescription = "Parameter names (letters, digits and `_`, starting with a letter) and their default values."
	pipelineStepsDescription      = "The steps, which must form a DAG through `depends_on`; step names are unique. A change to `steps`, `parameters`, `datasets` or `promote_to` creates a new revision."
	pipelineLabelsDescription     = "Free-form key/value labels (at most 64; keys 1-63 characters, values up to 256)."
	pipelineRevisionDescription   = "Number of the immutable revision of `steps`, `parameters`, `datasets` and `promote_to` in effect; 1 at creation. Changing only `description` or `labels` keeps it."
	stepNameDescription           = "Step name: 1-63 lowercase letters, digits, `-` or `_`, unique within the pipeline."
	stepCommandDescription        = "The step's argv, such as `[\"python\", \"train.py\"]`; at least one element."
	stepImageDescription          = "Container image, for executors that run containers."
	stepEnvDescription            = "Environment variables of the step's process."
	stepDependsOnDescription      = "Names of the steps that must finish first."
	stepTimeoutDescription        = "Duration after which the step is killed, such as `90s`, `10m`, `6h` or `1d`; at least `1s`."
	stepRetriesDescription        = "How many times a failed step is retried, 0-10. Defaults to 0."
)

const (
	pipelineDatasetsDescription = "Names of the pipeline's input datasets, in the same project; each must exist. Every step sees `MLOPS_DATASET_<NAME>_URI` and `MLOPS_DATASET_<NAME>_VERSION` " +
		"(the name upper-cased, `-` and `.` as `_`), and a model version a run registers records the first one, at its current version, as its training dataset."
	pipelinePromoteToDescription = "Alias (such as `staging`) that a successful run moves to the model version it registered, when that version passes the model's gates for the alias; " +
		"a version that fails them stays unpromoted and the run says why. Avoid an alias that an `mlops_model_alias` resource manages: each run would move it away from the version Terraform declares."
)

func (r *PipelineResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pipeline"
}

func (r *PipelineResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A pipeline is a DAG of steps. The server keeps every version of its `steps`, `parameters`, `datasets` and `promote_to` as an immutable revision, " +
			"which each run records. A run that leaves `model.json` and `metrics.json` in `$MLOPS_OUTPUT_DIR` registers a model version (and, with `promote_to`, may move an alias to it). " +
			"Every argument but `project` and `name` is updated in place. " +
			"The DAG (unknown dependencies, cycles, duplicate step names) is checked at plan time.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/name"),
			"project": projectAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Pipeline name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the pipeline.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{MarkdownDescription: pipelineDescription, Optional: true},
			"parameters":  schema.MapAttribute{MarkdownDescription: pipelineParametersDescription, ElementType: types.StringType, Optional: true},
			"steps": schema.ListNestedAttribute{
				MarkdownDescription: pipelineStepsDescription,
				Required:            true,
				Validators:          []validator.List{listvalidator.SizeBetween(1, api.MaxSteps)},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name": schema.StringAttribute{
							MarkdownDescription: stepNameDescription,
							Required:            true,
							Validators:          []validatorString{nameValidator()},
						},
						"command": schema.ListAttribute{
							MarkdownDescription: stepCommandDescription,
							ElementType:         types.StringType,
							Required:            true,
							Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
						},
						"image":      schema.StringAttribute{MarkdownDescription: stepImageDescription, Optional: true},
						"env":        schema.MapAttribute{MarkdownDescription: stepEnvDescription, ElementType: types.StringType, Optional: true},
						"depends_on": schema.ListAttribute{MarkdownDescription: stepDependsOnDescription, ElementType: types.StringType, Optional: true},
						"timeout": schema.StringAttribute{
							MarkdownDescription: stepTimeoutDescription,
							Optional:            true,
							Validators:          []validatorString{durationValidator(time.Second)},
						},
						"retries": schema.Int64Attribute{
							MarkdownDescription: stepRetriesDescription,
							Optional:            true,
							Computed:            true,
							// The server omits 0; a default keeps the plan equal to what it reports.
							Default:    int64default.StaticInt64(0),
							Validators: []validator.Int64{int64validator.Between(0, 10)},
						},
					},
				},
			},
			"labels": schema.MapAttribute{MarkdownDescription: pipelineLabelsDescription, ElementType: types.StringType, Optional: true},
			"datasets": schema.ListAttribute{
				MarkdownDescription: pipelineDatasetsDescription,
				ElementType:         types.StringType,
				Optional:            true,
				Validators:          []validator.List{listvalidator.ValueStringsAre(nameValidator())},
			},
			"promote_to": schema.StringAttribute{
				MarkdownDescription: pipelinePromoteToDescription,
				Optional:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"revision": schema.Int64Attribute{
				MarkdownDescription: pipelineRevisionDescription,
				Computed:            true,
			},
		},
	}
}

func (r *PipelineResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig runs the server's pipeline rules (DAG, unique step names,
// parameter and env names, labels) at plan time, so a cycle is reported
// before anything is applied. It waits until names and dependencies are known.
func (r *PipelineResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg PipelineResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, ok := pipelineSpecToValidate(ctx, &cfg)
	if ok {
		dpAddFieldError(&resp.Diagnostics, spec.Validate())
	}
}

// pipelineSpecToValidate builds the spec from a configuration, leaving out
// what attribute validators already check (timeout, retries) so errors are
// not reported twice. ok is false while something the DAG depends on is unknown,
// or a step name is invalid (nameValidator reports that).
func pipelineSpecToValidate(ctx context.Context, cfg *PipelineResourceModel) (api.PipelineSpec, bool) {
	var spec api.PipelineSpec
	if cfg.Steps.IsNull() || cfg.Steps.IsUnknown() {
		return spec, false
	}
	for _, e := range cfg.Steps.Elements() {
		if e.IsUnknown() || e.IsNull() {
			return spec, false
		}
	}
	var steps []pipelineStepModel
	if diags := cfg.Steps.ElementsAs(ctx, &steps, false); diags.HasError() {
		return spec, false
	}
	for _, st := range steps {
		if st.Name.IsUnknown() || st.Name.IsNull() || api.ValidateName("", st.Name.ValueString()) != nil {
			return spec, false
		}
		deps, ok := dpKnownStringList(st.DependsOn)
		if !ok {
			return spec, false
		}
		cmd, ok := dpKnownStringList(st.Command)
		if !ok || len(cmd) == 0 {
			cmd = []string{"unknown"} // checked once known; an empty list by the size validator
		}
		env, _ := dpKnownStringMap(st.Env)
		spec.Steps = append(spec.Steps, api.Step{Name: st.Name.ValueString(), Command: cmd, Env: env, DependsOn: deps})
	}
	spec.Parameters, _ = dpKnownStringMap(cfg.Parameters)
	spec.Labels, _ = dpKnownStringMap(cfg.Labels)
	return spec, true
}

// ModifyPlan keeps revision from the state unless the runnable spec (steps,
// parameters, datasets, promote_to) changes: only that makes the server
// freeze a new revision.
func (r *PipelineResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	planDefaultProject(ctx, r.data, req, resp)
	if req.State.Raw.IsNull() || resp.Diagnostics.HasError() {
		return
	}
	var plan, state PipelineResourceModel
	resp.Diagnostics.Append(resp.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Steps.Equal(state.Steps) && sameCollection(plan.Parameters, state.Parameters) &&
		sameCollection(plan.Datasets, state.Datasets) && plan.PromoteTo.Equal(state.PromoteTo) {
		plan.Revision = state.Revision
	} else {
		plan.Revision = types.Int64Unknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (m *PipelineResourceModel) spec(ctx context.Context, diags *diag.Diagnostics) api.PipelineSpec {
	s := api.PipelineSpec{
		Description: m.Description.ValueString(),
		Parameters:  stringMap(ctx, m.Parameters, diags),
		Labels:      stringMap(ctx, m.Labels, diags),
		Datasets:    stringList(ctx, m.Datasets, diags),
		PromoteTo:   m.PromoteTo.ValueString(),
	}
	var steps []pipelineStepModel
	diags.Append(m.Steps.ElementsAs(ctx, &steps, false)...)
	for _, st := range steps {
		s.Steps = append(s.Steps, api.Step{
			Name:      st.Name.ValueString(),
			Command:   stringList(ctx, st.Command, diags),
			Image:     st.Image.ValueString(),
			Env:       stringMap(ctx, st.Env, diags),
			DependsOn: stringList(ctx, st.DependsOn, diags),
			Timeout:   st.Timeout.ValueString(),
			Retries:   int(st.Retries.ValueInt64()),
		})
	}
	return s
}

// fill sets m from the server's pipeline, keeping empty values the user wrote
// (see datasetModel.fill); the steps of m are matched by position.
func (m *PipelineResourceModel) fill(ctx context.Context, p *api.Pipeline, dataSource bool) {
	m.ID = types.StringValue(p.Project + "/" + p.Name)
	m.Project = types.StringValue(p.Project)
	m.Name = types.StringValue(p.Name)
	m.Description = keepEmptyString(p.Description, dataSource || isEmpty(m.Description))
	m.Parameters = keepEmptyMap(p.Parameters, dataSource || isEmpty(m.Parameters))
	m.Labels = keepEmptyMap(p.Labels, dataSource || isEmpty(m.Labels))
	m.Datasets = keepEmptyList(p.Datasets, dataSource || isEmpty(m.Datasets))
	m.PromoteTo = keepEmptyString(p.PromoteTo, dataSource)
	var prior []pipelineStepModel
	if !m.Steps.IsNull() && !m.Steps.IsUnknown() {
		_ = m.Steps.ElementsAs(ctx, &prior, false) // best effort: only used to keep empty values
	}
	steps := make([]attr.Value, 0, len(p.Steps))
	for i, st := range p.Steps {
		var was pipelineStepModel // null attributes when there is no prior step
		if i < len(prior) {
			was = prior[i]
		}
		steps = append(steps, types.ObjectValueMust(pipelineStepType.AttrTypes, map[string]attr.Value{
			"name":       types.StringValue(st.Name),
			"command":    keepEmptyList(st.Command, true),
			"image":      keepEmptyString(st.Image, dataSource || isEmpty(was.Image)),
			"env":        keepEmptyMap(st.Env, dataSource || isEmpty(was.Env)),
			"depends_on": keepEmptyList(st.DependsOn, dataSource || isEmpty(was.DependsOn)),
			"timeout":    keepEmptyString(st.Timeout, dataSource || isEmpty(was.Timeout)),
			"retries":    types.Int64Value(int64(st.Retries)),
		}))
	}
	m.Steps = types.ListValueMust(pipelineStepType, steps)
	m.Revision = types.Int64Value(p.Revision)
}

func (r *PipelineResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan PipelineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.data.client.CreatePipeline(ctx, plan.Project.ValueString(), api.CreatePipelineRequest{Name: plan.Name.ValueString(), PipelineSpec: spec})
	if err != nil {
		addAPIError(&resp.Diagnostics, "create pipeline "+plan.Name.ValueString(), err)
		return
	}
	plan.fill(ctx, p, false)
	rememberGeneration(ctx, resp.Private, p.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *PipelineResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state PipelineResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	p, err := r.data.client.GetPipeline(ctx, state.Project.ValueString(), state.Name.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read pipeline "+state.Name.ValueString(), err)
		return
	}
	state.fill(ctx, p, false)
	rememberGeneration(ctx, resp.Private, p.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

func (r *PipelineResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan PipelineResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.data.client.UpdatePipeline(ctx, plan.Project.ValueString(), plan.Name.ValueString(), spec, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addAPIError(&resp.Diagnostics, "update pipeline "+plan.Name.ValueString(), err)
		return
	}
	plan.fill(ctx, p, false)
	rememberGeneration(ctx, resp.Private, p.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *PipelineResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state PipelineResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.data.client.DeletePipeline(ctx, state.Project.ValueString(), state.Name.ValueString(), 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "delete pipeline "+state.Name.ValueString(), err)
	}
}

func (r *PipelineResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/name", r.data, resp, "project", "name")
}

// sameCollection says whether two maps or lists are equal, null and empty
// alike: the server does not tell them apart, so neither makes a revision.
func sameCollection(a, b attr.Value) bool {
	return a.Equal(b) || ((a.IsNull() || isEmpty(a)) && (b.IsNull() || isEmpty(b)))
}

// dpKnownStringList converts a list attribute whose elements are all known; null is nil.
func dpKnownStringList(l types.List) ([]string, bool) {
	if l.IsUnknown() {
		return nil, false
	}
	var out []string
	for _, v := range l.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsUnknown() {
			return nil, false
		}
		out = append(out, s.ValueString())
	}
	return out, true
}
