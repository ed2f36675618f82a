package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure        = &DeploymentResource{}
	_ resource.ResourceWithImportState      = &DeploymentResource{}
	_ resource.ResourceWithConfigValidators = &DeploymentResource{}
	_ resource.ResourceWithValidateConfig   = &DeploymentResource{}
	_ resource.ResourceWithModifyPlan       = &DeploymentResource{}
)

const (
	// defaultDeploymentTimeout bounds create and update, which wait for the rollout to settle.
	defaultDeploymentTimeout = 10 * time.Minute
	// deploymentPollInterval is how often create and update read the rollout's status.
	deploymentPollInterval = 500 * time.Millisecond
	// deploymentDefaultMaxEntries is the server's default prediction_logging.max_entries.
	deploymentDefaultMaxEntries = 10_000
)

// NewDeploymentResource returns the mlops_deployment resource.
func NewDeploymentResource() resource.Resource { return &DeploymentResource{} }

// DeploymentResource manages a deployment: a model version served behind the gateway.
type DeploymentResource struct {
	data *providerData
}

// deploymentModel is what mlops_deployment and its data source share.
type deploymentModel struct {
	ID                types.String `tfsdk:"id"`
	Project           types.String `tfsdk:"project"`
	Name              types.String `tfsdk:"name"`
	Model             types.String `tfsdk:"model"`
	Version           types.Int64  `tfsdk:"version"`
	Alias             types.String `tfsdk:"alias"`
	Runtime           types.Object `tfsdk:"runtime"`
	Replicas          types.Int64  `tfsdk:"replicas"`
	Strategy          types.Object `tfsdk:"strategy"`
	PredictionLogging types.Object `tfsdk:"prediction_logging"`
	Description       types.String `tfsdk:"description"`
	Labels            types.Map    `tfsdk:"labels"`
	URL               types.String `tfsdk:"url"`
	Phase             types.String `tfsdk:"phase"`
	TargetVersion     types.Int64  `tfsdk:"target_version"`
	StableVersion     types.Int64  `tfsdk:"stable_version"`
	CanaryVersion     types.Int64  `tfsdk:"canary_version"`
	CanaryWeight      types.Int64  `tfsdk:"canary_weight"`
	Message           types.String `tfsdk:"message"`
	RolledBackVersion types.Int64  `tfsdk:"rolled_back_version"`
}

// DeploymentResourceModel is the state of mlops_deployment.
type DeploymentResourceModel struct {
	deploymentModel
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// deploymentRuntimeModel is the runtime attribute.
type deploymentRuntimeModel struct {
	Command    types.List   `tfsdk:"command"`
	URL        types.String `tfsdk:"url"`
	HealthPath types.String `tfsdk:"health_path"`
	Env        types.Map    `tfsdk:"env"`
}

var deploymentRuntimeAttrTypes = map[string]attr.Type{
	"command":     types.ListType{ElemType: types.StringType},
	"url":         types.StringType,
	"health_path": types.StringType,
	"env":         types.MapType{ElemType: types.StringType},
}

// deploymentStrategyModel is the strategy attribute.
type deploymentStrategyModel struct {
	Type            types.String  `tfsdk:"type"`
	Steps           types.List    `tfsdk:"steps"`
	StepInterval    types.String  `tfsdk:"step_interval"`
	MaxErrorRate    types.Float64 `tfsdk:"max_error_rate"`
	MaxLatencyP99Ms types.Int64   `tfsdk:"max_latency_p99_ms"`
	MinRequests     types.Int64   `tfsdk:"min_requests"`
	AutoRollback    types.Bool    `tfsdk:"auto_rollback"`
}

var deploymentStrategyAttrTypes = map[string]attr.Type{
	"type":               types.StringType,
	"steps":              types.ListType{ElemType: types.Int64Type},
	"step_interval":      types.StringType,
	"max_error_rate":     types.Float64Type,
	"max_latency_p99_ms": types.Int64Type,
	"min_requests":       types.Int64Type,
	"auto_rollback":      types.BoolType,
}

// deploymentPredictionLoggingModel is the prediction_logging attribute.
type deploymentPredictionLoggingModel struct {
	SampleRate types.Float64 `tfsdk:"sample_rate"`
	MaxEntries types.Int64   `tfsdk:"max_entries"`
}

var deploymentPredictionLoggingAttrTypes = map[string]attr.Type{
	"sample_rate": types.Float64Type,
	"max_entries": types.Int64Type,
}

// Descriptions the resource and the data source share.
const (
	deploymentURLDescription = "Gateway endpoint of the deployment: clients `POST {url}/predict` with a bearer token that may read the project; " +
		"the answer's `X-Mlops-Version` header names the version that served it."
	deploymentPhaseDescription = "Rollout phase: `progressing` (a version is starting or a canary is baking), `healthy` (the target version serves all traffic), " +
		"`degraded` (a version did not start, the alias is gone, or a failing canary is held because `auto_rollback` is off) or " +
		"`rolled_back` (the canary failed its analysis and the stable version serves all traffic again; see `message`). " +
		"Rollouts change it outside Terraform, so it never causes a diff itself."
	deploymentTargetVersionDescription     = "Version the deployment rolls towards: `version`, or the version `alias` points at now; 0 before the controller first ran."
	deploymentStableVersionDescription     = "Version serving the traffic the canary does not take; 0 before the first version is up."
	deploymentCanaryVersionDescription     = "Version under canary analysis; 0 when no canary runs."
	deploymentCanaryWeightDescription      = "Percentage of traffic the canary version takes; 0 when no canary runs."
	deploymentMessageDescription           = "Why the phase is what it is, such as the failing analysis of a rollback (`rolled back to version 1: canary version 2 at 10%: error rate ...`); null when there is nothing to say."
	deploymentRolledBackVersionDescription = "Target version that was rolled back; 0 when none. A new target version clears it."
)

func (r *DeploymentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (r *DeploymentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computedInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A deployment serves a model version behind mlopsd's gateway at `url`. Each version runs as `replicas` processes " +
			"that mlopsd launches from `runtime.command`, or is a server that already runs at `runtime.url`.\n\n" +
			"A new target version (a new `version`, or a promotion that moves the followed `alias`) rolls out by `strategy`: " +
			"`all_at_once`, or `canary` through traffic `steps`, each baked for `step_interval` and judged against `max_error_rate`, " +
			"`max_latency_p99_ms` and `min_requests`; a failing step rolls back to the stable version unless `auto_rollback` is false.\n\n" +
			"Create and update wait until the rollout settles: `phase` healthy with the target version serving all traffic. " +
			"A rollout that ends `rolled_back` or `degraded`, or does not settle within `timeouts`, fails the apply with the server's reason. " +
			"The new configuration is saved in state even then, as it is what the server holds: the next plan shows no change for it, " +
			"while `phase` and `message` keep telling the story. A failed create leaves the resource tainted, so the next apply replaces it. " +
			"A rolled-back version is not tried again until the target changes: point `version` (or the alias) at a fixed version, " +
			"or back at the stable version and then forward again.\n\n" +
			"An alias moved outside this resource (by `mlops_model_alias` or a pipeline's `promote_to`) rolls the deployment forward on the server; " +
			"Terraform does not wait for that rollout, as the deployment itself does not change. " +
			"Every attribute but `project`, `name` and `model` is updated in place.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/name"),
			"project": projectAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Deployment name: 1-63 lowercase letters, digits, `-` or `_`; part of `url`. Changing it replaces the deployment.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"model": schema.StringAttribute{
				MarkdownDescription: "Name of the model whose versions the deployment serves, in the same project; it must exist. Changing it replaces the deployment.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Model version to serve, such as `mlops_model_version.v2.version`. Exactly one of `version` and `alias`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"alias": schema.StringAttribute{
				MarkdownDescription: "Alias of the model to follow, such as `champion`: the deployment serves the version the alias points at, " +
					"and rolls forward by `strategy` whenever the alias moves. Exactly one of `version` and `alias`.",
				Optional:   true,
				Validators: []validatorString{nameValidator()},
			},
			"runtime": schema.SingleNestedAttribute{
				MarkdownDescription: "How a version is served. Set exactly one of `command` and `url`.",
				Required:            true,
				Attributes: map[string]schema.Attribute{
					"command": schema.ListAttribute{
						MarkdownDescription: "Program and arguments mlopsd launches `replicas` times per version, as the server's user. Each process gets " +
							"`PORT` (to listen on at 127.0.0.1), `MLOPS_ARTIFACT_URI` (the version's artifact), `MLOPS_MODEL`, `MLOPS_MODEL_VERSION` " +
							"and `env`, and takes traffic once `health_path` answers 2xx.",
						ElementType: types.StringType,
						Optional:    true,
					},
					"url": schema.StringAttribute{
						MarkdownDescription: "Base URL of a server that already serves the version, such as `http://models.internal:8501/v{version}`; " +
							"`{version}` is replaced by the version number. mlopsd launches nothing.",
						Optional: true,
					},
					"health_path": schema.StringAttribute{
						MarkdownDescription: "Path that answers 2xx when a backend is ready; it must start with `/`. Defaults to `/healthz`.",
						Optional:            true,
						Computed:            true,
						Default:             stringdefault.StaticString(api.DefaultHealthPath),
					},
					"env": schema.MapAttribute{
						MarkdownDescription: "Extra environment of the processes of a `command` runtime. Not secret: it is stored and returned as is.",
						ElementType:         types.StringType,
						Optional:            true,
					},
				},
			},
			"replicas": schema.Int64Attribute{
				MarkdownDescription: "Processes per version of a `command` runtime, 1-16; the gateway balances between the healthy ones. Defaults to `1`.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(1),
				Validators:          []validator.Int64{int64validator.Between(1, 16)},
			},
			"strategy": schema.SingleNestedAttribute{
				MarkdownDescription: "How a new target version replaces the serving one. Unset means `all_at_once`.",
				Optional:            true,
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"type": schema.StringAttribute{
						MarkdownDescription: "`all_at_once` (the new version takes all traffic as soon as it is healthy) or `canary` (it takes `steps` of the traffic first). Defaults to `all_at_once`.",
						Optional:            true,
						Computed:            true,
						Validators:          []validatorString{stringvalidator.OneOf(api.StrategyAllAtOnce, api.StrategyCanary)},
					},
					"steps": schema.ListAttribute{
						MarkdownDescription: "Canary only: percentages of traffic the canary takes, one step after another, increasing, each 1-99, such as `[10, 50]`. " +
							"After the last step passes, the canary is promoted to all traffic.",
						ElementType: types.Int64Type,
						Optional:    true,
					},
					"step_interval": schema.StringAttribute{
						MarkdownDescription: "Canary only: bake time of each step before its analysis, such as `5m`; at least `1s`. Defaults to `1m` for a canary.",
						Optional:            true,
						Computed:            true,
						Validators:          []validatorString{durationValidator(time.Second)},
					},
					"max_error_rate": schema.Float64Attribute{
						MarkdownDescription: "Canary only: highest share of the canary's requests answered 5xx or failing to connect, during a step, that passes; 0-1. Defaults to `0.05` for a canary.",
						Optional:            true,
						Computed:            true,
						Validators:          []validator.Float64{float64validator.Between(0, 1)},
					},
					"max_latency_p99_ms": schema.Int64Attribute{
						MarkdownDescription: "Canary only: highest p99 latency of the canary's requests during a step, in milliseconds, that passes. Unset means no limit.",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
					"min_requests": schema.Int64Attribute{
						MarkdownDescription: "Canary only: requests the canary must have served in a step before the step can pass; until then the step waits for traffic. Defaults to `20` for a canary.",
						Optional:            true,
						Computed:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"auto_rollback": schema.BoolAttribute{
						MarkdownDescription: "Canary only: whether a failing step rolls back to the stable version (phase `rolled_back`). " +
							"`false` holds the canary at its weight with phase `degraded` for a human to decide. Defaults to `true` for a canary.",
						Optional: true,
						Computed: true,
					},
				},
			},
			"prediction_logging": schema.SingleNestedAttribute{
				MarkdownDescription: "Keeps a sample of the JSON rows clients send, for a `mlops_monitor` whose `deployment` is this one to compare with its baseline. Unset keeps none.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"sample_rate": schema.Float64Attribute{
						MarkdownDescription: "Fraction of requests whose rows are kept, 0-1, such as `0.1`.",
						Required:            true,
						Validators:          []validator.Float64{float64validator.Between(0, 1)},
					},
					"max_entries": schema.Int64Attribute{
						MarkdownDescription: "Newest requests kept; older ones are dropped. 1-1000000; defaults to `10000`.",
						Optional:            true,
						Computed:            true,
						Default:             int64default.StaticInt64(deploymentDefaultMaxEntries),
						Validators:          []validator.Int64{int64validator.Between(1, 1_000_000)},
					},
				},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What the deployment is for.",
				Optional:            true,
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Free-form key/value labels (at most 64; keys 1-63 characters, values up to 256).",
				ElementType:         types.StringType,
				Optional:            true,
			},
			"url": schema.StringAttribute{
				MarkdownDescription: deploymentURLDescription,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			// No UseStateForUnknown on the status: rollouts change it outside
			// Terraform, and every create or update may move it.
			"phase":               schema.StringAttribute{MarkdownDescription: deploymentPhaseDescription, Computed: true},
			"target_version":      computedInt(deploymentTargetVersionDescription),
			"stable_version":      computedInt(deploymentStableVersionDescription),
			"canary_version":      computedInt(deploymentCanaryVersionDescription),
			"canary_weight":       computedInt(deploymentCanaryWeightDescription),
			"message":             schema.StringAttribute{MarkdownDescription: deploymentMessageDescription, Computed: true},
			"rolled_back_version": computedInt(deploymentRolledBackVersionDescription),
			"timeouts":            deploymentTimeoutsAttribute(ctx),
		},
	}
}

// deploymentTimeoutsAttribute is the timeouts attribute, described for the docs.
func deploymentTimeoutsAttribute(ctx context.Context) schema.Attribute {
	const unit = " A duration such as `30s`, `10m` or `1h`; default `10m`."
	a := timeouts.Attributes(ctx, timeouts.Opts{
		Create: true, Update: true,
		CreateDescription: "How long a create may wait for the first version to start and turn healthy." + unit,
		UpdateDescription: "How long an update may wait for the rollout to settle; a canary needs at least `steps` × `step_interval`." + unit,
	}).(schema.SingleNestedAttribute)
	a.MarkdownDescription = "How long create and update may wait for the rollout to settle. The rollout goes on on the server after a timeout."
	return a
}

func (r *DeploymentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (r *DeploymentResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("version"), path.MatchRoot("alias")),
		resourcevalidator.ExactlyOneOf(path.MatchRoot("runtime").AtName("command"), path.MatchRoot("runtime").AtName("url")),
	}
}

// ValidateConfig applies at plan time the API's rules that attribute
// validators cannot express alone: the runtime's URL and health path, the
// canary's steps against its type, and labels.
func (r *DeploymentResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg DeploymentResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, fe := range cfg.validate(ctx) {
		dpAddFieldError(&resp.Diagnostics, fe)
	}
}

// validate runs the API's own DeploymentSpec.Validate on the known parts of
// the configuration, one rule at a time (Validate stops at the first error),
// with valid stand-ins for everything else. What attribute and config
// validators check (names, version and alias, command and url, the
// strategy's type, durations and ranges) is left out, so no error is
// reported twice.
func (m *deploymentModel) validate(ctx context.Context) []*api.FieldError {
	var errs []*api.FieldError
	check := func(edit func(s *api.DeploymentSpec)) {
		s := api.DeploymentSpec{Model: "m", Version: 1, Runtime: api.DeploymentRuntime{Command: []string{"serve"}}}
		edit(&s)
		if fe := s.Validate(); fe != nil {
			errs = append(errs, fe)
		}
	}
	if modelKnown(m.Runtime) {
		var rt deploymentRuntimeModel
		if m.Runtime.As(ctx, &rt, basetypes.ObjectAsOptions{}).HasError() {
			return errs
		}
		if modelKnown(rt.URL) {
			check(func(s *api.DeploymentSpec) { s.Runtime = api.DeploymentRuntime{URL: rt.URL.ValueString()} })
		} else if command, ok := dpKnownStringList(rt.Command); ok && !rt.Command.IsNull() && rt.URL.IsNull() {
			check(func(s *api.DeploymentSpec) { s.Runtime.Command = command })
		}
		if modelKnown(rt.HealthPath) {
			check(func(s *api.DeploymentSpec) { s.Runtime.HealthPath = rt.HealthPath.ValueString() })
		}
	}
	if modelKnown(m.Strategy) {
		var st deploymentStrategyModel
		if m.Strategy.As(ctx, &st, basetypes.ObjectAsOptions{}).HasError() {
			return errs
		}
		typ := api.StrategyAllAtOnce
		if modelKnown(st.Type) {
			typ = st.Type.ValueString()
		}
		steps, stepsKnown := deploymentKnownInt64List(st.Steps)
		if !st.Type.IsUnknown() && (typ == api.StrategyAllAtOnce || typ == api.StrategyCanary) && stepsKnown {
			check(func(s *api.DeploymentSpec) { s.Strategy = &api.DeploymentStrategy{Type: typ, Steps: steps} })
		}
	}
	if labels, ok := dpKnownStringMap(m.Labels); ok {
		check(func(s *api.DeploymentSpec) { s.Labels = labels })
	}
	return errs
}

// deploymentKnownInt64List converts a list attribute whose elements are all known; null is nil.
func deploymentKnownInt64List(l types.List) ([]int, bool) {
	if l.IsUnknown() {
		return nil, false
	}
	var out []int
	for _, v := range l.Elements() {
		n, ok := v.(types.Int64)
		if !ok || n.IsUnknown() || n.IsNull() {
			return nil, false
		}
		out = append(out, int(n.ValueInt64()))
	}
	return out, true
}

// ModifyPlan fills an unset project from the provider and the strategy's
// defaults from its type, as the server will, so plans show real values and
// a configuration that leaves them unset stays without diff. It also warns
// when the deployment does not serve its target version.
func (r *DeploymentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	planDefaultProject(ctx, r.data, req, resp)
	var configured types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("strategy"), &configured)...)
	if resp.Diagnostics.HasError() {
		return
	}
	strategy := deploymentPlanStrategy(ctx, configured, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("strategy"), strategy)...)
	if req.State.Raw.IsNull() {
		return
	}
	var phase, message types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("phase"), &phase)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("message"), &message)...)
	if p := phase.ValueString(); p == api.PhaseRolledBack || p == api.PhaseDegraded {
		resp.Diagnostics.AddWarning("Deployment is "+p,
			fmt.Sprintf("The deployment does not serve its target version: %s", message.ValueString()))
	}
}

// deploymentPlanStrategy is the strategy the server will hold for the
// configured one: its type defaults to all_at_once, and a canary's
// step_interval, max_error_rate, min_requests and auto_rollback to the
// server's defaults. The plan depends on the configuration alone, so a
// default changed outside Terraform shows as a diff and is put back.
func deploymentPlanStrategy(ctx context.Context, configured types.Object, diags *diag.Diagnostics) types.Object {
	if configured.IsUnknown() {
		return types.ObjectUnknown(deploymentStrategyAttrTypes)
	}
	st := deploymentStrategyModel{
		Type:            types.StringNull(),
		Steps:           types.ListNull(types.Int64Type),
		StepInterval:    types.StringNull(),
		MaxErrorRate:    types.Float64Null(),
		MaxLatencyP99Ms: types.Int64Null(),
		MinRequests:     types.Int64Null(),
		AutoRollback:    types.BoolNull(),
	}
	if !configured.IsNull() {
		diags.Append(configured.As(ctx, &st, basetypes.ObjectAsOptions{})...)
	}
	if st.Type.IsNull() {
		st.Type = types.StringValue(api.StrategyAllAtOnce)
	}
	switch {
	case st.Type.IsUnknown():
		// The defaults depend on the type.
		if st.StepInterval.IsNull() {
			st.StepInterval = types.StringUnknown()
		}
		if st.MaxErrorRate.IsNull() {
			st.MaxErrorRate = types.Float64Unknown()
		}
		if st.MinRequests.IsNull() {
			st.MinRequests = types.Int64Unknown()
		}
		if st.AutoRollback.IsNull() {
			st.AutoRollback = types.BoolUnknown()
		}
	case st.Type.ValueString() == api.StrategyCanary:
		if st.StepInterval.IsNull() {
			st.StepInterval = types.StringValue(api.DefaultStepInterval)
		}
		if st.MaxErrorRate.IsNull() {
			st.MaxErrorRate = modelFloat64Value(api.DefaultMaxErrorRate)
		}
		if st.MinRequests.IsNull() {
			st.MinRequests = types.Int64Value(api.DefaultMinRequests)
		}
		if st.AutoRollback.IsNull() {
			st.AutoRollback = types.BoolValue(true)
		}
	}
	v, d := types.ObjectValueFrom(ctx, deploymentStrategyAttrTypes, st)
	diags.Append(d...)
	return v
}

func (m *deploymentModel) spec(ctx context.Context, diags *diag.Diagnostics) api.DeploymentSpec {
	s := api.DeploymentSpec{
		Model:       m.Model.ValueString(),
		Alias:       m.Alias.ValueString(),
		Replicas:    int(m.Replicas.ValueInt64()),
		Description: m.Description.ValueString(),
		Labels:      stringMap(ctx, m.Labels, diags),
	}
	if modelKnown(m.Version) {
		s.Version = m.Version.ValueInt64()
	}
	if modelKnown(m.Runtime) {
		var rt deploymentRuntimeModel
		diags.Append(m.Runtime.As(ctx, &rt, basetypes.ObjectAsOptions{})...)
		s.Runtime = api.DeploymentRuntime{
			Command:    stringList(ctx, rt.Command, diags),
			URL:        rt.URL.ValueString(),
			HealthPath: rt.HealthPath.ValueString(),
			Env:        stringMap(ctx, rt.Env, diags),
		}
	}
	if modelKnown(m.PredictionLogging) {
		var pl deploymentPredictionLoggingModel
		diags.Append(m.PredictionLogging.As(ctx, &pl, basetypes.ObjectAsOptions{})...)
		s.PredictionLogging = &api.PredictionLogging{SampleRate: pl.SampleRate.ValueFloat64(), MaxEntries: int(pl.MaxEntries.ValueInt64())}
	}
	if modelKnown(m.Strategy) {
		var st deploymentStrategyModel
		diags.Append(m.Strategy.As(ctx, &st, basetypes.ObjectAsOptions{})...)
		s.Strategy = &api.DeploymentStrategy{Type: st.Type.ValueString(), StepInterval: st.StepInterval.ValueString()}
		if modelKnown(st.Steps) {
			var steps []int64
			diags.Append(st.Steps.ElementsAs(ctx, &steps, false)...)
			for _, p := range steps {
				s.Strategy.Steps = append(s.Strategy.Steps, int(p))
			}
		}
		if modelKnown(st.MaxErrorRate) {
			v := st.MaxErrorRate.ValueFloat64()
			s.Strategy.MaxErrorRate = &v
		}
		if modelKnown(st.MaxLatencyP99Ms) {
			v := st.MaxLatencyP99Ms.ValueInt64()
			s.Strategy.MaxLatencyP99Ms = &v
		}
		if modelKnown(st.MinRequests) {
			v := st.MinRequests.ValueInt64()
			s.Strategy.MinRequests = &v
		}
		if modelKnown(st.AutoRollback) {
			v := st.AutoRollback.ValueBool()
			s.Strategy.AutoRollback = &v
		}
	}
	return s
}

// fill sets m from the server's deployment. Optional values the server
// omits become null, except where m already holds an empty value (the user
// wrote "", {} or []), which is kept so the state matches the configuration;
// a data source (dataSource) always gets empty strings and collections, which
// are easier to use in expressions.
func (m *deploymentModel) fill(ctx context.Context, d *api.Deployment, dataSource bool, diags *diag.Diagnostics) {
	m.ID = types.StringValue(d.Project + "/" + d.Name)
	m.Project = types.StringValue(d.Project)
	m.Name = types.StringValue(d.Name)
	m.Model = types.StringValue(d.Model)
	m.Version = types.Int64Null()
	if d.Version != 0 {
		m.Version = types.Int64Value(d.Version)
	}
	m.Alias = keepEmptyString(d.Alias, dataSource)
	m.Runtime = deploymentRuntimeValue(ctx, d.Runtime, m.Runtime, dataSource, diags)
	m.Replicas = types.Int64Value(int64(max(d.Replicas, 1)))
	m.Strategy = deploymentStrategyValue(ctx, d.Strategy, m.Strategy, dataSource, diags)
	m.PredictionLogging = types.ObjectNull(deploymentPredictionLoggingAttrTypes)
	if pl := d.PredictionLogging; pl != nil {
		maxEntries := pl.MaxEntries
		if maxEntries == 0 {
			maxEntries = deploymentDefaultMaxEntries
		}
		m.PredictionLogging = types.ObjectValueMust(deploymentPredictionLoggingAttrTypes, map[string]attr.Value{
			"sample_rate": modelFloat64Value(pl.SampleRate),
			"max_entries": types.Int64Value(int64(maxEntries)),
		})
	}
	m.Description = keepEmptyString(d.Description, dataSource || isEmpty(m.Description))
	m.Labels = keepEmptyMap(d.Labels, dataSource || isEmpty(m.Labels))
	m.URL = types.StringValue(d.URL)
	m.Phase = types.StringValue(scheduleOrDefault(d.Phase, api.PhaseProgressing))
	m.TargetVersion = types.Int64Value(d.TargetVersion)
	m.StableVersion = types.Int64Value(d.StableVersion)
	m.CanaryVersion = types.Int64Value(d.CanaryVersion)
	m.CanaryWeight = types.Int64Value(int64(d.CanaryWeight))
	m.Message = keepEmptyString(d.Message, dataSource)
	m.RolledBackVersion = types.Int64Value(d.RolledBackVersion)
}

// deploymentRuntimeValue converts the server's runtime; prior (the plan or
// state) decides whether an omitted command or env is null or empty.
func deploymentRuntimeValue(ctx context.Context, rt api.DeploymentRuntime, prior types.Object, dataSource bool, diags *diag.Diagnostics) types.Object {
	p := deploymentRuntimeModel{Command: types.ListNull(types.StringType), URL: types.StringNull(), Env: types.MapNull(types.StringType)}
	if modelKnown(prior) {
		diags.Append(prior.As(ctx, &p, basetypes.ObjectAsOptions{})...)
	}
	v, d := types.ObjectValueFrom(ctx, deploymentRuntimeAttrTypes, deploymentRuntimeModel{
		Command:    keepEmptyList(rt.Command, dataSource || isEmpty(p.Command)),
		URL:        keepEmptyString(rt.URL, dataSource || isEmpty(p.URL)),
		HealthPath: types.StringValue(scheduleOrDefault(rt.HealthPath, api.DefaultHealthPath)),
		Env:        keepEmptyMap(rt.Env, dataSource || isEmpty(p.Env)),
	})
	diags.Append(d...)
	return v
}

// deploymentStrategyValue converts the server's strategy (nil, from an
// older server, meaning all_at_once); prior decides whether omitted steps
// are null or [].
func deploymentStrategyValue(ctx context.Context, st *api.DeploymentStrategy, prior types.Object, dataSource bool, diags *diag.Diagnostics) types.Object {
	if st == nil {
		st = &api.DeploymentStrategy{}
	}
	var p deploymentStrategyModel
	p.Steps = types.ListNull(types.Int64Type)
	if modelKnown(prior) {
		diags.Append(prior.As(ctx, &p, basetypes.ObjectAsOptions{})...)
	}
	out := deploymentStrategyModel{
		Type:            types.StringValue(scheduleOrDefault(st.Type, api.StrategyAllAtOnce)),
		Steps:           types.ListNull(types.Int64Type),
		StepInterval:    optionalString(st.StepInterval),
		MaxErrorRate:    types.Float64Null(),
		MaxLatencyP99Ms: types.Int64Null(),
		MinRequests:     types.Int64Null(),
		AutoRollback:    types.BoolNull(),
	}
	if len(st.Steps) > 0 || dataSource || isEmpty(p.Steps) {
		steps := make([]attr.Value, len(st.Steps))
		for i, s := range st.Steps {
			steps[i] = types.Int64Value(int64(s))
		}
		out.Steps = types.ListValueMust(types.Int64Type, steps)
	}
	if st.MaxErrorRate != nil {
		out.MaxErrorRate = modelFloat64Value(*st.MaxErrorRate)
	}
	if st.MaxLatencyP99Ms != nil {
		out.MaxLatencyP99Ms = types.Int64Value(*st.MaxLatencyP99Ms)
	}
	if st.MinRequests != nil {
		out.MinRequests = types.Int64Value(*st.MinRequests)
	}
	if st.AutoRollback != nil {
		out.AutoRollback = types.BoolValue(*st.AutoRollback)
	}
	v, d := types.ObjectValueFrom(ctx, deploymentStrategyAttrTypes, out)
	diags.Append(d...)
	return v
}

// deploymentRolloutError is a rollout that ended without serving its target.
type deploymentRolloutError struct {
	summary, detail string
}

func (e *deploymentRolloutError) Error() string { return e.summary + ": " + e.detail }

// waitSettled polls the deployment until the rollout of spec, just written,
// settles: phase healthy with the target version stable and no canary. A
// rollout that ends rolled_back or degraded is a *deploymentRolloutError,
// one that does not settle before ctx ends a *deploymentTimeoutError.
// It returns the last deployment seen, also on error, when there is one.
//
// A status computed for an older generation than the write's, or whose
// target_version is not the spec's target yet (an alias read before it
// moved), predates the write and is not judged.
func (r *DeploymentResource) waitSettled(ctx context.Context, project, name string, spec api.DeploymentSpec, generation int64) (*api.Deployment, error) {
	var last *api.Deployment
	var lastWant int64
	timedOut := func() error { return &deploymentTimeoutError{last: last, want: lastWant} }
	for {
		d, err := r.data.client.GetDeployment(ctx, project, name)
		if err != nil {
			if ctx.Err() != nil {
				return last, timedOut()
			}
			return last, fmt.Errorf("read deployment %s/%s while waiting for its rollout: %w", project, name, err)
		}
		last = d
		want := spec.Version
		if spec.Alias != "" {
			a, err := r.data.client.GetModelAlias(ctx, project, spec.Model, spec.Alias)
			switch {
			case err == nil:
				want = a.Version
			case errors.Is(err, client.ErrNotFound):
				want = d.TargetVersion // the controller reports the missing alias as degraded
			case ctx.Err() != nil:
				return last, timedOut()
			default:
				return last, fmt.Errorf("read alias %q of model %q while waiting for the rollout: %w", spec.Alias, spec.Model, err)
			}
		}
		lastWant = want
		seen := d.TargetVersion == want && d.ObservedGeneration >= generation
		if seen {
			if err := deploymentSettled(project, name, d); !errors.Is(err, errDeploymentProgressing) {
				return d, err
			}
		}
		select {
		case <-ctx.Done():
			return last, timedOut()
		case <-time.After(deploymentPollInterval):
		}
	}
}

var errDeploymentProgressing = errors.New("deployment is progressing")

// deploymentSettled judges a status whose target is the one asked for: nil
// when it is served, a *deploymentRolloutError when the rollout failed, and
// errDeploymentProgressing while it goes on.
func deploymentSettled(project, name string, d *api.Deployment) error {
	id := project + "/" + name
	switch d.Phase {
	case api.PhaseHealthy:
		if d.StableVersion == d.TargetVersion && d.CanaryVersion == 0 {
			return nil
		}
	case api.PhaseRolledBack:
		return &deploymentRolloutError{
			summary: "Deployment rolled back",
			detail: fmt.Sprintf("deployment %s rolled back: %s\n\nIt serves version %d. The configuration is saved, so the next plan shows no change for it; "+
				"version %d is not tried again until the target changes. Point version (or the alias) at a fixed version, "+
				"or at version %d and then forward again to retry.", id, d.Message, d.StableVersion, d.RolledBackVersion, d.StableVersion),
		}
	case api.PhaseDegraded:
		return &deploymentRolloutError{
			summary: "Deployment degraded",
			detail: fmt.Sprintf("deployment %s is degraded: %s\n\nIt serves version %d. The configuration is saved, so the next plan shows no change for it; "+
				"fix the cause (the runtime, the version or the alias) and apply again.", id, d.Message, d.StableVersion),
		}
	}
	return errDeploymentProgressing
}

// deploymentTimeoutError is a rollout that did not settle in time: last is
// the deployment last seen (nil if none), want the target version asked for.
type deploymentTimeoutError struct {
	last *api.Deployment
	want int64
}

func (e *deploymentTimeoutError) Error() string { return "timed out waiting for the rollout" }

// where says where the rollout stood when waiting for it ended.
func (e *deploymentTimeoutError) where() string {
	d := e.last
	switch {
	case d == nil:
		return "no status was read"
	case e.want != 0 && d.TargetVersion != e.want:
		return fmt.Sprintf("the controller had not taken up target version %d yet; it reported phase %s for target version %d",
			e.want, scheduleOrDefault(d.Phase, api.PhaseProgressing), d.TargetVersion)
	}
	s := fmt.Sprintf("phase %s, target version %d, stable version %d, canary version %d at %d%%",
		scheduleOrDefault(d.Phase, api.PhaseProgressing), d.TargetVersion, d.StableVersion, d.CanaryVersion, d.CanaryWeight)
	if d.Message != "" {
		s += ": " + d.Message
	}
	return s
}

// addDeploymentWaitError reports why waiting for a rollout failed.
func addDeploymentWaitError(diags *diag.Diagnostics, op, project, name string, timeout time.Duration, err error) {
	var re *deploymentRolloutError
	var te *deploymentTimeoutError
	switch {
	case errors.As(err, &re):
		diags.AddError(re.summary, re.detail)
	case errors.As(err, &te):
		diags.AddError("Timed out waiting for deployment "+project+"/"+name,
			fmt.Sprintf("The rollout did not settle within %s (%s). It goes on on the server. "+
				"Raise timeouts.%s if it needs longer (a canary needs at least its steps × step_interval), "+
				"or check the traffic a canary needs (min_requests per step).", timeout, te.where(), op))
	default:
		addAPIError(diags, op+" deployment "+project+"/"+name, err)
	}
}

func (r *DeploymentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan DeploymentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultDeploymentTimeout)
	resp.Diagnostics.Append(diags...)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := r.data.client.CreateDeployment(waitCtx, project, api.CreateDeploymentRequest{Name: name, DeploymentSpec: spec})
	if err != nil {
		addAPIError(&resp.Diagnostics, "create deployment "+project+"/"+name, err)
		return
	}
	last, err := r.waitSettled(waitCtx, project, name, spec, d.Generation)
	if last != nil {
		d = last
	}
	// The deployment exists whatever the rollout did: keep it in state (a
	// failed create leaves it tainted, so the next apply replaces it).
	plan.fill(ctx, d, false, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, d.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		addDeploymentWaitError(&resp.Diagnostics, "create", project, name, timeout, err)
	}
}

func (r *DeploymentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state DeploymentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	project, name := state.Project.ValueString(), state.Name.ValueString()
	d, err := r.data.client.GetDeployment(ctx, project, name)
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read deployment "+project+"/"+name, err)
		return
	}
	state.fill(ctx, d, false, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, d.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

// Update writes the new spec and waits for its rollout. When the rollout
// fails, the new spec is saved in state all the same: it is what the server
// holds (a refresh would read it back anyway), and the error, with phase and
// message, says what became of it.
func (r *DeploymentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state DeploymentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultDeploymentTimeout)
	resp.Diagnostics.Append(diags...)
	spec := plan.spec(ctx, &resp.Diagnostics)
	prior := state.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	specJSON, _ := json.Marshal(spec)
	priorJSON, _ := json.Marshal(prior)
	if string(specJSON) == string(priorJSON) {
		// Only timeouts changed: nothing to write or wait for.
		d, err := r.data.client.GetDeployment(waitCtx, project, name)
		if err != nil {
			addAPIError(&resp.Diagnostics, "read deployment "+project+"/"+name, err)
			return
		}
		plan.fill(ctx, d, false, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	d, err := r.data.client.UpdateDeployment(waitCtx, project, name, spec, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addAPIError(&resp.Diagnostics, "update deployment "+project+"/"+name, err)
		return
	}
	last, err := r.waitSettled(waitCtx, project, name, spec, d.Generation)
	if last != nil {
		d = last
	}
	plan.fill(ctx, d, false, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, d.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		addDeploymentWaitError(&resp.Diagnostics, "update", project, name, timeout, err)
	}
}

func (r *DeploymentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state DeploymentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := state.Project.ValueString(), state.Name.ValueString()
	err := r.data.client.DeleteDeployment(ctx, project, name, 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "delete deployment "+project+"/"+name, err)
	}
}

func (r *DeploymentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/name", r.data, resp, "project", "name")
}
