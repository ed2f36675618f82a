package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure        = &RetrainingScheduleResource{}
	_ resource.ResourceWithImportState      = &RetrainingScheduleResource{}
	_ resource.ResourceWithConfigValidators = &RetrainingScheduleResource{}
	_ resource.ResourceWithValidateConfig   = &RetrainingScheduleResource{}
	_ resource.ResourceWithModifyPlan       = &RetrainingScheduleResource{}
)

// Server-side defaults, repeated here so plans show the real values.
const (
	scheduleDefaultTimezone          = "UTC"
	scheduleDefaultConcurrencyPolicy = "forbid"
)

// NewRetrainingScheduleResource returns the mlops_retraining_schedule resource.
func NewRetrainingScheduleResource() resource.Resource { return &RetrainingScheduleResource{} }

// RetrainingScheduleResource manages a retraining schedule.
type RetrainingScheduleResource struct {
	data *providerData
}

// RetrainingScheduleResourceModel is the state of mlops_retraining_schedule.
type RetrainingScheduleResourceModel struct {
	ID                types.String `tfsdk:"id"`
	Project           types.String `tfsdk:"project"`
	Name              types.String `tfsdk:"name"`
	Pipeline          types.String `tfsdk:"pipeline"`
	Cron              types.String `tfsdk:"cron"`
	Interval          types.String `tfsdk:"interval"`
	Timezone          types.String `tfsdk:"timezone"`
	Parameters        types.Map    `tfsdk:"parameters"`
	ConcurrencyPolicy types.String `tfsdk:"concurrency_policy"`
	Catchup           types.Bool   `tfsdk:"catchup"`
	Paused            types.Bool   `tfsdk:"paused"`
	StartAt           types.String `tfsdk:"start_at"`
	EndAt             types.String `tfsdk:"end_at"`
	Description       types.String `tfsdk:"description"`
	NextRunAt         types.String `tfsdk:"next_run_at"`
	LastRunID         types.Int64  `tfsdk:"last_run_id"`
	LastRunState      types.String `tfsdk:"last_run_state"`
}

func (r *RetrainingScheduleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_retraining_schedule"
}

func (r *RetrainingScheduleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A retraining schedule fires a pipeline of the same project on a five-field `cron` expression read in a `timezone`, " +
			"or every `interval`. Set exactly one of `cron` and `interval`. Every attribute but `project` and `name` is updated in place.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/name"),
			"project": projectAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Schedule name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the schedule.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"pipeline": schema.StringAttribute{
				MarkdownDescription: "Name of the pipeline to run, in the same project; it must exist when the schedule is created or updated. Changing it updates the schedule in place.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"cron": schema.StringAttribute{
				MarkdownDescription: "Five-field cron expression (`minute hour day-of-month month day-of-week`, e.g. `0 3 * * *`) or a descriptor such as `@daily`, " +
					"read in `timezone`, so `0 3 * * *` with `Europe/Berlin` fires at 03:00 Berlin time across daylight-saving changes. Exactly one of `cron` and `interval`.",
				Optional:   true,
				Validators: []validatorString{cronValidator()},
			},
			"interval": schema.StringAttribute{
				MarkdownDescription: "Fixed period between firings, such as `30m`, `6h` or `1d` (days are 24h); at least `10s`. " +
					"Firings count from `start_at` when set, otherwise from the schedule's creation, so they do not drift when the server restarts. Exactly one of `cron` and `interval`.",
				Optional:   true,
				Validators: []validatorString{durationValidator(api.MinInterval)},
			},
			"timezone": schema.StringAttribute{
				MarkdownDescription: "IANA time zone (such as `Europe/Berlin`) in which `cron` is read. Defaults to `UTC`. Has no effect on `interval`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(scheduleDefaultTimezone),
				Validators:          []validatorString{timezoneValidator()},
			},
			"parameters": schema.MapAttribute{
				MarkdownDescription: "Pipeline parameters each run is started with, overriding the pipeline's defaults.",
				ElementType:         types.StringType,
				Optional:            true,
			},
			"concurrency_policy": schema.StringAttribute{
				MarkdownDescription: "What a firing does while the previous run of this schedule is still going: " +
					"`allow` starts another run alongside it, `forbid` skips the firing, `replace` cancels the running run and starts a new one. Defaults to `forbid`.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(scheduleDefaultConcurrencyPolicy),
				Validators: []validatorString{stringvalidator.OneOf(api.ConcurrencyPolicies...)},
			},
			"catchup": schema.BoolAttribute{
				MarkdownDescription: "When `true`, firings missed while the control plane was down are run after it comes back; " +
					"when `false` (the default) they are skipped and the schedule resumes at its next firing.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"paused": schema.BoolAttribute{
				MarkdownDescription: "When `true` the schedule stops firing (and `next_run_at` is null) but is kept; set it back to `false` to resume. Defaults to `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"start_at": schema.StringAttribute{
				MarkdownDescription: "RFC 3339 time (such as `2030-01-01T00:00:00Z` or `2030-01-01T02:00:00+02:00`) before which the schedule does not fire; " +
					"a firing exactly at `start_at` counts, and `interval` firings count from it.",
				Optional:   true,
				Validators: []validatorString{scheduleRFC3339Validator()},
			},
			"end_at": schema.StringAttribute{
				MarkdownDescription: "RFC 3339 time after which the schedule no longer fires; must be after `start_at`.",
				Optional:            true,
				Validators:          []validatorString{scheduleRFC3339Validator()},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What the schedule is for.",
				Optional:            true,
			},
			"next_run_at": schema.StringAttribute{
				MarkdownDescription: "When the schedule fires next, as an RFC 3339 time in UTC, computed by the server at each read; " +
					"null while `paused` or once the schedule has ended. It moves on as time passes, so it is unknown in plans that change the schedule.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{pausedNextRunModifier{}},
			},
			// No UseStateForUnknown on these two: the schedule firing changes
			// them between plan and apply, so an update plan cannot know them.
			"last_run_id": schema.Int64Attribute{
				MarkdownDescription: "Number of the newest run this schedule started (see the `mlops_pipeline_run` data source); null until the schedule first fired. " +
					"It changes as the schedule fires, so it is unknown in plans that change the schedule.",
				Computed: true,
			},
			"last_run_state": schema.StringAttribute{
				MarkdownDescription: "State of that run as of the last read: `queued`, `running`, `succeeded`, `failed` or `cancelled`; null until the schedule first fired.",
				Computed:            true,
			},
		},
	}
}

// ModifyPlan fills an unset project from the provider.
func (r *RetrainingScheduleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planDefaultProject(ctx, r.data, req, resp)
}

func (r *RetrainingScheduleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (r *RetrainingScheduleResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("cron"), path.MatchRoot("interval")),
	}
}

// ValidateConfig checks end_at against start_at at plan time, as the server would.
func (r *RetrainingScheduleResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var start, end types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("start_at"), &start)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("end_at"), &end)...)
	if resp.Diagnostics.HasError() || !scheduleKnown(start) || !scheduleKnown(end) {
		return
	}
	s, err1 := time.Parse(time.RFC3339, start.ValueString())
	e, err2 := time.Parse(time.RFC3339, end.ValueString())
	if err1 != nil || err2 != nil {
		return // the attribute validators report these
	}
	if !e.After(s) {
		resp.Diagnostics.AddAttributeError(path.Root("end_at"), "Invalid end_at",
			"end_at ("+end.ValueString()+") must be after start_at ("+start.ValueString()+").")
	}
}

func (m *RetrainingScheduleResourceModel) spec(ctx context.Context, diags *diag.Diagnostics) api.ScheduleSpec {
	return api.ScheduleSpec{
		Pipeline:          m.Pipeline.ValueString(),
		Cron:              m.Cron.ValueString(),
		Interval:          m.Interval.ValueString(),
		Timezone:          m.Timezone.ValueString(),
		Parameters:        stringMap(ctx, m.Parameters, diags),
		ConcurrencyPolicy: m.ConcurrencyPolicy.ValueString(),
		Catchup:           m.Catchup.ValueBool(),
		Paused:            m.Paused.ValueBool(),
		StartAt:           scheduleTime(m.StartAt, "start_at", diags),
		EndAt:             scheduleTime(m.EndAt, "end_at", diags),
		Description:       m.Description.ValueString(),
	}
}

// fill sets m from the server's schedule. Values the user wrote differently
// but that mean the same (another offset of the same instant, 360m for 6h,
// an empty map or string) are kept as written, so plans stay empty.
func (m *RetrainingScheduleResourceModel) fill(sc *api.Schedule) {
	m.ID = types.StringValue(sc.Project + "/" + sc.Name)
	m.Project = types.StringValue(sc.Project)
	m.Name = types.StringValue(sc.Name)
	m.Pipeline = types.StringValue(sc.Pipeline)
	m.Cron = optionalString(sc.Cron)
	m.Interval = scheduleKeepInterval(m.Interval, sc.Interval)
	m.Timezone = types.StringValue(scheduleOrDefault(sc.Timezone, scheduleDefaultTimezone))
	m.Parameters = keepEmptyMap(sc.Parameters, isEmpty(m.Parameters))
	m.ConcurrencyPolicy = types.StringValue(scheduleOrDefault(sc.ConcurrencyPolicy, scheduleDefaultConcurrencyPolicy))
	m.Catchup = types.BoolValue(sc.Catchup)
	m.Paused = types.BoolValue(sc.Paused)
	m.StartAt = scheduleKeepTime(m.StartAt, sc.StartAt)
	m.EndAt = scheduleKeepTime(m.EndAt, sc.EndAt)
	m.Description = keepEmptyString(sc.Description, isEmpty(m.Description))
	m.NextRunAt = types.StringNull()
	if sc.NextRunAt != nil {
		m.NextRunAt = types.StringValue(sc.NextRunAt.UTC().Format(time.RFC3339Nano))
	}
	m.LastRunID = types.Int64Null()
	if sc.LastRunID > 0 {
		m.LastRunID = types.Int64Value(sc.LastRunID)
	}
	m.LastRunState = optionalString(sc.LastRunState)
}

func (r *RetrainingScheduleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan RetrainingScheduleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	sc, err := r.data.client.CreateSchedule(ctx, project, api.CreateScheduleRequest{Name: name, ScheduleSpec: spec})
	if err != nil {
		addAPIError(&resp.Diagnostics, "create retraining schedule "+project+"/"+name, err)
		return
	}
	plan.fill(sc)
	rememberGeneration(ctx, resp.Private, sc.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *RetrainingScheduleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state RetrainingScheduleResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	project, name := state.Project.ValueString(), state.Name.ValueString()
	sc, err := r.data.client.GetSchedule(ctx, project, name)
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read retraining schedule "+project+"/"+name, err)
		return
	}
	state.fill(sc)
	rememberGeneration(ctx, resp.Private, sc.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

func (r *RetrainingScheduleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan RetrainingScheduleResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	sc, err := r.data.client.UpdateSchedule(ctx, project, name, spec, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addAPIError(&resp.Diagnostics, "update retraining schedule "+project+"/"+name, err)
		return
	}
	plan.fill(sc)
	rememberGeneration(ctx, resp.Private, sc.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *RetrainingScheduleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state RetrainingScheduleResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := state.Project.ValueString(), state.Name.ValueString()
	err := r.data.client.DeleteSchedule(ctx, project, name, 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "delete retraining schedule "+project+"/"+name, err)
	}
}

func (r *RetrainingScheduleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/name", r.data, resp, "project", "name")
}

// pausedNextRunModifier plans next_run_at as null when the schedule will be
// paused, since the server reports no next firing then; otherwise the value
// stays unknown in plans that change the schedule.
type pausedNextRunModifier struct{}

func (m pausedNextRunModifier) Description(context.Context) string {
	return "Null while the schedule is paused."
}

func (m pausedNextRunModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (m pausedNextRunModifier) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var paused types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("paused"), &paused)...)
	if !paused.IsUnknown() && paused.ValueBool() {
		resp.PlanValue = types.StringNull()
	}
}

func scheduleRFC3339Validator() validatorString {
	return apiStringValidator{
		description: "an RFC 3339 time",
		check: func(field, v string) *api.FieldError {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return api.Errorf(field, "%q is not an RFC 3339 time; use a form such as 2030-01-01T00:00:00Z or 2030-01-01T02:00:00+02:00", v)
			}
			return nil
		},
	}
}

func scheduleKnown(v types.String) bool { return !v.IsNull() && !v.IsUnknown() }

func scheduleOrDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// scheduleTime parses a validated RFC 3339 attribute; null is nil.
func scheduleTime(v types.String, attr string, diags *diag.Diagnostics) *time.Time {
	if !scheduleKnown(v) {
		return nil
	}
	t, err := time.Parse(time.RFC3339, v.ValueString())
	if err != nil {
		diags.AddAttributeError(path.Root(attr), "Invalid "+attr, err.Error())
		return nil
	}
	return &t
}

// scheduleKeepTime keeps the prior string when it denotes the server's
// instant (the server may answer in another offset); otherwise the server's
// value wins, which shows drift.
func scheduleKeepTime(prior types.String, t *time.Time) types.String {
	if t == nil {
		return types.StringNull()
	}
	if scheduleKnown(prior) {
		if p, err := time.Parse(time.RFC3339, prior.ValueString()); err == nil && p.Equal(*t) {
			return prior
		}
	}
	return types.StringValue(t.Format(time.RFC3339Nano))
}

// scheduleKeepInterval keeps the prior string when it is the same duration as the server's.
func scheduleKeepInterval(prior types.String, interval string) types.String {
	if interval == "" {
		return types.StringNull()
	}
	if scheduleKnown(prior) {
		p, err1 := api.ParseDuration(prior.ValueString())
		s, err2 := api.ParseDuration(interval)
		if err1 == nil && err2 == nil && p == s {
			return prior
		}
	}
	return types.StringValue(interval)
}
