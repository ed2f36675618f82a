package provider

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
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
	_ resource.ResourceWithConfigure      = &MonitorResource{}
	_ resource.ResourceWithImportState    = &MonitorResource{}
	_ resource.ResourceWithValidateConfig = &MonitorResource{}
	_ resource.ResourceWithModifyPlan     = &MonitorResource{}
)

// NewMonitorResource returns the mlops_monitor resource.
func NewMonitorResource() resource.Resource { return &MonitorResource{} }

// MonitorResource manages a drift monitor.
type MonitorResource struct {
	data *providerData
}

// monitorModel is what mlops_monitor and its data source share.
type monitorModel struct {
	ID                types.String  `tfsdk:"id"`
	Project           types.String  `tfsdk:"project"`
	Name              types.String  `tfsdk:"name"`
	Model             types.String  `tfsdk:"model"`
	BaselineDataset   types.String  `tfsdk:"baseline_dataset"`
	CurrentDataset    types.String  `tfsdk:"current_dataset"`
	Deployment        types.String  `tfsdk:"deployment"`
	CurrentWindow     types.Int64   `tfsdk:"current_window"`
	Features          types.List    `tfsdk:"features"`
	Metric            types.String  `tfsdk:"metric"`
	CategoricalMetric types.String  `tfsdk:"categorical_metric"`
	Threshold         types.Float64 `tfsdk:"threshold"`
	FeatureThresholds types.Map     `tfsdk:"feature_thresholds"`
	DriftShare        types.Float64 `tfsdk:"drift_share"`
	MinSamples        types.Int64   `tfsdk:"min_samples"`
	Interval          types.String  `tfsdk:"interval"`
	Cooldown          types.String  `tfsdk:"cooldown"`
	RetrainSchedule   types.String  `tfsdk:"retrain_schedule"`
	Paused            types.Bool    `tfsdk:"paused"`
	Description       types.String  `tfsdk:"description"`
	Labels            types.Map     `tfsdk:"labels"`
	Status            types.String  `tfsdk:"status"`
	LastEvaluatedAt   types.String  `tfsdk:"last_evaluated_at"`
	LastEvaluationID  types.Int64   `tfsdk:"last_evaluation_id"`
	LastError         types.String  `tfsdk:"last_error"`
}

// MonitorResourceModel is the state of mlops_monitor.
type MonitorResourceModel struct {
	monitorModel
	Notification types.Object `tfsdk:"notification"`
}

// monitorNotificationModel is the notification attribute of the resource.
type monitorNotificationModel struct {
	URL    types.String `tfsdk:"url"`
	Secret types.String `tfsdk:"secret"`
}

var monitorNotificationAttrTypes = map[string]attr.Type{
	"url":    types.StringType,
	"secret": types.StringType,
}

// Descriptions the resource and the data source share.
const (
	monitorStatusDescription = "Verdict of the latest evaluation: `pending` (not evaluated yet), `ok`, `drifting`, " +
		"`insufficient_data` (too few values to judge enough features) or `error` (see `last_error`). " +
		"Evaluations change it outside Terraform, so it is unknown in plans that change the monitor and never causes a diff itself."
	monitorLastEvaluatedAtDescription  = "When the latest evaluation finished, as an RFC 3339 time in UTC; null until the first one."
	monitorLastEvaluationIDDescription = "Number of the latest evaluation (a monitor's evaluations are numbered 1, 2, 3, ...); null until the first one."
	monitorLastErrorDescription        = "Why the latest evaluation failed (status `error`), such as a dataset that cannot be read; null otherwise."
)

func (r *MonitorResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_monitor"
}

func (r *MonitorResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A drift monitor compares the content of `current_dataset` with that of `baseline_dataset`, feature by feature, " +
			"right after it is created or changed and then every `interval`. A feature drifts when its metric crosses its threshold; " +
			"the dataset drifts when at least `drift_share` of the judged features do. When the monitor starts drifting " +
			"(its `status` turns `drifting`) the server POSTs a signed alert to `notification.url` and starts a run of the pipeline of " +
			"`retrain_schedule` (trigger `monitor:<name>`), at most once per `cooldown`.\n\n" +
			"`notification.secret` is write-only on the server: it is sent on every create and update and kept in state as configured, " +
			"but never read back, so a change made to it outside Terraform is not detected, and after `terraform import` it is null " +
			"until the next apply sends it again. Every attribute but `project` and `name` is updated in place.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/name"),
			"project": projectAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Monitor name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the monitor.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"model": schema.StringAttribute{
				MarkdownDescription: "Name of the model the monitor watches, in the same project; it must exist.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"baseline_dataset": schema.StringAttribute{
				MarkdownDescription: "Name of the dataset whose content is the reference, typically the training data; it must exist and be readable by the server.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"current_dataset": schema.StringAttribute{
				MarkdownDescription: "Name of the dataset compared with the baseline, typically recent production inputs; the server re-reads it at each evaluation. Exactly one of `current_dataset` and `deployment`.",
				Optional:            true,
				Validators: []validatorString{nameValidator(), stringvalidator.ExactlyOneOf(
					path.MatchRoot("current_dataset"), path.MatchRoot("deployment"))},
			},
			"deployment": schema.StringAttribute{
				MarkdownDescription: "Name of a `mlops_deployment` whose logged prediction requests (its `prediction_logging`) are the current data: " +
					"the newest `current_window` rows its gateway kept. Exactly one of `current_dataset` and `deployment`.",
				Optional:   true,
				Validators: []validatorString{nameValidator()},
			},
			"current_window": schema.Int64Attribute{
				MarkdownDescription: "With `deployment`: how many of the newest logged rows each evaluation compares. Defaults to 10000.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 1_000_000)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"features": schema.ListAttribute{
				MarkdownDescription: "Columns to compare. Unset compares every column of the baseline.",
				ElementType:         types.StringType,
				Optional:            true,
			},
			"metric": schema.StringAttribute{
				MarkdownDescription: "Metric for numeric features: `psi` (population stability index), `ks` (Kolmogorov-Smirnov test; its value is a p-value), " +
					"`wasserstein` (normed by the baseline's standard deviation) or `jensen_shannon` (distance). Defaults to `psi`.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(api.DefaultNumericMetric),
				Validators: []validatorString{stringvalidator.OneOf(api.NumericMetrics...)},
			},
			"categorical_metric": schema.StringAttribute{
				MarkdownDescription: "Metric for categorical features (strings, booleans): `psi`, `chi_squared` (test; its value is a p-value) " +
					"or `jensen_shannon`. Defaults to `jensen_shannon`.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(api.DefaultCategoricalMetric),
				Validators: []validatorString{stringvalidator.OneOf(api.CategoricalMetrics...)},
			},
			"threshold": schema.Float64Attribute{
				MarkdownDescription: "Threshold of `metric` (and of `categorical_metric` when it is the same metric). For distances (`psi`, `wasserstein`, " +
					"`jensen_shannon`) a feature drifts when its value is at least the threshold; for p-values (`ks`, `chi_squared`) when its value is below it, " +
					"so it must then lie between 0 and 1. Unset uses the metric's default: `psi` 0.1, `ks` 0.05, `wasserstein` 0.1, `jensen_shannon` 0.1, `chi_squared` 0.05.",
				Optional: true,
			},
			"feature_thresholds": schema.MapAttribute{
				MarkdownDescription: "Thresholds per feature (column name to threshold); they win over `threshold`. With `features` set, each key must be one of them.",
				ElementType:         types.Float64Type,
				Optional:            true,
			},
			"drift_share": schema.Float64Attribute{
				MarkdownDescription: "Fraction of the judged features that must drift for the monitor to report `drifting`: greater than 0 and at most 1. Defaults to `0.5`.",
				Optional:            true,
				Computed:            true,
				Default:             float64default.StaticFloat64(api.DefaultDriftShare),
			},
			"min_samples": schema.Int64Attribute{
				MarkdownDescription: "Fewest non-missing values a feature needs on each side to be judged; features with fewer are `insufficient_data`. Defaults to `30`.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(api.DefaultMinSamples),
			},
			"interval": schema.StringAttribute{
				MarkdownDescription: "How often to evaluate, such as `15m`, `1h` or `1d` (days are 24h); at least `10s`. Defaults to `1h`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(api.DefaultMonitorInterval),
				Validators:          []validatorString{durationValidator(api.MinInterval)},
			},
			"cooldown": schema.StringAttribute{
				MarkdownDescription: "Least time between two retraining runs started by this monitor, such as `6h`. Defaults to `1h`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(api.DefaultCooldown),
				Validators:          []validatorString{durationValidator(0)},
			},
			"notification": schema.SingleNestedAttribute{
				MarkdownDescription: "Where to send an alert when the monitor starts drifting: the server POSTs a JSON body describing the evaluation to `url`.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"url": schema.StringAttribute{
						MarkdownDescription: "Absolute `http` or `https` URL without credentials. mlopsd refuses loopback, private and link-local addresses " +
							"unless it was started with `--allow-private-webhooks`.",
						Required:   true,
						Validators: []validatorString{webhookURLValidator()},
					},
					"secret": schema.StringAttribute{
						MarkdownDescription: "Shared secret (at most 1024 bytes) the server signs each body with: header `X-Mlops-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`. " +
							"Write-only on the server: kept in state as configured, never read back, and null after import.",
						Optional:  true,
						Sensitive: true,
					},
				},
			},
			"retrain_schedule": schema.StringAttribute{
				MarkdownDescription: "Name of a `mlops_retraining_schedule` in the same project whose pipeline runs when the monitor starts drifting. Unset only alerts.",
				Optional:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"paused": schema.BoolAttribute{
				MarkdownDescription: "When `true` the monitor stops evaluating on its `interval` (its status stays as it was) but is kept. Defaults to `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What the monitor is for.",
				Optional:            true,
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Free-form key/value labels (at most 64; keys 1-63 characters, values up to 256).",
				ElementType:         types.StringType,
				Optional:            true,
			},
			// No UseStateForUnknown on these: evaluations change them outside
			// Terraform, and every create or update evaluates again.
			"status": schema.StringAttribute{
				MarkdownDescription: monitorStatusDescription,
				Computed:            true,
			},
			"last_evaluated_at": schema.StringAttribute{
				MarkdownDescription: monitorLastEvaluatedAtDescription,
				Computed:            true,
			},
			"last_evaluation_id": schema.Int64Attribute{
				MarkdownDescription: monitorLastEvaluationIDDescription,
				Computed:            true,
			},
			"last_error": schema.StringAttribute{
				MarkdownDescription: monitorLastErrorDescription,
				Computed:            true,
			},
		},
	}
}

// ModifyPlan fills an unset project from the provider.
func (r *MonitorResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planDefaultProject(ctx, r.data, req, resp)
}

func (r *MonitorResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig applies at plan time the API's rules that attribute
// validators cannot express alone: thresholds against the metric, feature
// thresholds against features, drift_share, min_samples, labels and the secret.
func (r *MonitorResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg MonitorResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var n monitorNotificationModel
	hasNotification := modelKnown(cfg.Notification)
	if hasNotification {
		resp.Diagnostics.Append(cfg.Notification.As(ctx, &n, basetypes.ObjectAsOptions{})...)
	}
	for _, fe := range cfg.validate(n.Secret) {
		monitorAddFieldError(&resp.Diagnostics, fe)
	}
}

// validate runs the API's own MonitorSpec.Validate on the known parts of
// the configuration, one rule at a time (Validate stops at the first error),
// with valid stand-ins for everything else. Values attribute validators
// check (names, metrics, durations, the URL) are left out so that no error is
// reported twice.
func (m *monitorModel) validate(secret types.String) []*api.FieldError {
	var errs []*api.FieldError
	check := func(edit func(s *api.MonitorSpec)) bool {
		s := api.MonitorSpec{Model: "m", BaselineDataset: "b", CurrentDataset: "c"}
		edit(&s)
		if fe := s.Validate(); fe != nil {
			errs = append(errs, fe)
			return false
		}
		return true
	}
	features, featuresKnown := dpKnownStringList(m.Features)
	featuresOK := featuresKnown && check(func(s *api.MonitorSpec) { s.Features = features })
	if modelKnown(m.Threshold) {
		metric := "" // the default, psi, unless a valid metric is known
		if modelKnown(m.Metric) && slices.Contains(api.NumericMetrics, m.Metric.ValueString()) {
			metric = m.Metric.ValueString()
		}
		t := m.Threshold.ValueFloat64()
		check(func(s *api.MonitorSpec) { s.Threshold, s.Metric = &t, metric })
	}
	if thresholds, ok := monitorKnownFloat64Map(m.FeatureThresholds); ok && len(thresholds) > 0 {
		check(func(s *api.MonitorSpec) {
			s.FeatureThresholds = thresholds
			if featuresOK { // otherwise keys cannot be checked against features
				s.Features = features
			}
		})
	}
	if modelKnown(m.DriftShare) {
		v := m.DriftShare.ValueFloat64()
		check(func(s *api.MonitorSpec) { s.DriftShare = &v })
	}
	if modelKnown(m.MinSamples) {
		v := m.MinSamples.ValueInt64()
		check(func(s *api.MonitorSpec) { s.MinSamples = &v })
	}
	if labels, ok := dpKnownStringMap(m.Labels); ok {
		check(func(s *api.MonitorSpec) { s.Labels = labels })
	}
	if modelKnown(secret) {
		check(func(s *api.MonitorSpec) {
			s.Notification = &api.MonitorNotification{URL: "https://example.com", Secret: secret.ValueString()}
		})
	}
	return errs
}

// monitorKnownFloat64Map converts a map attribute whose values are all known.
func monitorKnownFloat64Map(m types.Map) (map[string]float64, bool) {
	if m.IsUnknown() {
		return nil, false
	}
	out := map[string]float64{}
	for k, v := range m.Elements() {
		f, ok := v.(types.Float64)
		if !ok || f.IsUnknown() {
			return nil, false
		}
		if !f.IsNull() {
			out[k] = f.ValueFloat64()
		}
	}
	return out, true
}

// monitorAddFieldError is dpAddFieldError, except that a field under
// feature_thresholds names a key of that map.
func monitorAddFieldError(diags *diag.Diagnostics, fe *api.FieldError) {
	if key, ok := strings.CutPrefix(fe.Field, "feature_thresholds."); ok {
		diags.AddAttributeError(path.Root("feature_thresholds").AtMapKey(key), "Invalid "+fe.Field, fe.Message)
		return
	}
	dpAddFieldError(diags, fe)
}

func webhookURLValidator() validatorString {
	return apiStringValidator{description: "an absolute http(s) URL without credentials", check: api.ValidateWebhookURL}
}

func (m *MonitorResourceModel) spec(ctx context.Context, diags *diag.Diagnostics) api.MonitorSpec {
	s := api.MonitorSpec{
		Model:             m.Model.ValueString(),
		BaselineDataset:   m.BaselineDataset.ValueString(),
		CurrentDataset:    m.CurrentDataset.ValueString(),
		Deployment:        m.Deployment.ValueString(),
		CurrentWindow:     int(m.CurrentWindow.ValueInt64()),
		Features:          stringList(ctx, m.Features, diags),
		Metric:            m.Metric.ValueString(),
		CategoricalMetric: m.CategoricalMetric.ValueString(),
		FeatureThresholds: modelFloat64Map(ctx, m.FeatureThresholds, diags),
		Interval:          m.Interval.ValueString(),
		Cooldown:          m.Cooldown.ValueString(),
		RetrainSchedule:   m.RetrainSchedule.ValueString(),
		Paused:            m.Paused.ValueBool(),
		Description:       m.Description.ValueString(),
		Labels:            stringMap(ctx, m.Labels, diags),
	}
	if modelKnown(m.Threshold) {
		v := m.Threshold.ValueFloat64()
		s.Threshold = &v
	}
	if modelKnown(m.DriftShare) {
		v := m.DriftShare.ValueFloat64()
		s.DriftShare = &v
	}
	if modelKnown(m.MinSamples) {
		v := m.MinSamples.ValueInt64()
		s.MinSamples = &v
	}
	if modelKnown(m.Notification) {
		var n monitorNotificationModel
		diags.Append(m.Notification.As(ctx, &n, basetypes.ObjectAsOptions{})...)
		s.Notification = &api.MonitorNotification{URL: n.URL.ValueString(), Secret: n.Secret.ValueString()}
	}
	return s
}

// fill sets m from the server's monitor. Values the user wrote differently
// but that mean the same (60m for 1h, an empty map, list or string) are kept
// as written, so plans stay empty; a data source (dataSource) always gets
// empty collections, which are easier to use in expressions.
func (m *monitorModel) fill(mon *api.Monitor, dataSource bool) {
	m.ID = types.StringValue(mon.Project + "/" + mon.Name)
	m.Project = types.StringValue(mon.Project)
	m.Name = types.StringValue(mon.Name)
	m.Model = types.StringValue(mon.Model)
	m.BaselineDataset = types.StringValue(mon.BaselineDataset)
	m.CurrentDataset = optionalString(mon.CurrentDataset)
	m.Deployment = optionalString(mon.Deployment)
	m.CurrentWindow = types.Int64Null()
	if mon.CurrentWindow > 0 {
		m.CurrentWindow = types.Int64Value(int64(mon.CurrentWindow))
	}
	m.Features = keepEmptyList(mon.Features, dataSource || isEmpty(m.Features))
	m.Metric = types.StringValue(mon.NumericMetric())
	m.CategoricalMetric = types.StringValue(mon.CategoricalMetricOrDefault())
	m.Threshold = types.Float64Null()
	if mon.Threshold != nil {
		m.Threshold = modelFloat64Value(*mon.Threshold)
	}
	m.FeatureThresholds = modelFloat64MapValue(mon.FeatureThresholds)
	if len(mon.FeatureThresholds) == 0 && (dataSource || isEmpty(m.FeatureThresholds)) {
		m.FeatureThresholds = types.MapValueMust(types.Float64Type, map[string]attr.Value{})
	}
	m.DriftShare = modelFloat64Value(mon.DriftShareOrDefault())
	m.MinSamples = types.Int64Value(mon.MinSamplesOrDefault())
	m.Interval = monitorKeepDuration(m.Interval, mon.Interval, api.DefaultMonitorInterval)
	m.Cooldown = monitorKeepDuration(m.Cooldown, mon.Cooldown, api.DefaultCooldown)
	m.RetrainSchedule = keepEmptyString(mon.RetrainSchedule, !dataSource && isEmpty(m.RetrainSchedule))
	m.Paused = types.BoolValue(mon.Paused)
	m.Description = keepEmptyString(mon.Description, dataSource || isEmpty(m.Description))
	m.Labels = keepEmptyMap(mon.Labels, dataSource || isEmpty(m.Labels))
	m.Status = types.StringValue(scheduleOrDefault(mon.Status, api.MonitorPending))
	m.LastEvaluatedAt = runTime(mon.LastEvaluatedAt)
	m.LastEvaluationID = modelOptionalInt64(mon.LastEvaluationID)
	m.LastError = optionalString(mon.LastError)
}

// fill sets the resource's state from the server's monitor. The server never
// returns the secret: the configured one is kept while the server says one
// is stored, and becomes null (a diff that sends it again) when it says none is.
func (m *MonitorResourceModel) fill(ctx context.Context, mon *api.Monitor, diags *diag.Diagnostics) {
	var prior monitorNotificationModel
	if modelKnown(m.Notification) {
		diags.Append(m.Notification.As(ctx, &prior, basetypes.ObjectAsOptions{})...)
	} else {
		prior.Secret = types.StringNull()
	}
	m.monitorModel.fill(mon, false)
	if mon.Notification == nil {
		m.Notification = types.ObjectNull(monitorNotificationAttrTypes)
		return
	}
	secret := prior.Secret
	if !mon.Notification.SecretSet && !isEmpty(secret) {
		secret = types.StringNull()
	}
	if secret.IsUnknown() {
		secret = types.StringNull()
	}
	m.Notification = types.ObjectValueMust(monitorNotificationAttrTypes, map[string]attr.Value{
		"url":    types.StringValue(mon.Notification.URL),
		"secret": secret,
	})
}

// monitorKeepDuration keeps the prior string when it is the same duration as
// the server's (an unset one meaning def); otherwise the server's value wins,
// which shows drift.
func monitorKeepDuration(prior types.String, server, def string) types.String {
	if server == "" {
		server = def
	}
	if modelKnown(prior) {
		p, err1 := api.ParseDuration(prior.ValueString())
		s, err2 := api.ParseDuration(server)
		if err1 == nil && err2 == nil && p == s {
			return prior
		}
	}
	return types.StringValue(server)
}

func (r *MonitorResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan MonitorResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	mon, err := r.data.client.CreateMonitor(ctx, project, api.CreateMonitorRequest{Name: name, MonitorSpec: spec})
	if err != nil {
		addAPIError(&resp.Diagnostics, "create monitor "+project+"/"+name, err)
		return
	}
	plan.fill(ctx, mon, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, mon.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *MonitorResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state MonitorResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	project, name := state.Project.ValueString(), state.Name.ValueString()
	mon, err := r.data.client.GetMonitor(ctx, project, name)
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read monitor "+project+"/"+name, err)
		return
	}
	state.fill(ctx, mon, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, mon.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

func (r *MonitorResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan MonitorResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := plan.Project.ValueString(), plan.Name.ValueString()
	mon, err := r.data.client.UpdateMonitor(ctx, project, name, spec, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addAPIError(&resp.Diagnostics, "update monitor "+project+"/"+name, err)
		return
	}
	plan.fill(ctx, mon, &resp.Diagnostics)
	rememberGeneration(ctx, resp.Private, mon.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *MonitorResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state MonitorResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := state.Project.ValueString(), state.Name.ValueString()
	err := r.data.client.DeleteMonitor(ctx, project, name, 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "delete monitor "+project+"/"+name, err)
	}
}

func (r *MonitorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/name", r.data, resp, "project", "name")
}
