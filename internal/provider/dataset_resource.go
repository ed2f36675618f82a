package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

var (
	_ resource.ResourceWithConfigure      = &DatasetResource{}
	_ resource.ResourceWithImportState    = &DatasetResource{}
	_ resource.ResourceWithModifyPlan     = &DatasetResource{}
	_ resource.ResourceWithValidateConfig = &DatasetResource{}
)

// defaultDatasetTimeout bounds create and update: the server reads and
// profiles the whole file inside the request.
const defaultDatasetTimeout = 10 * time.Minute

var datasetDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// NewDatasetResource returns the mlops_dataset resource.
func NewDatasetResource() resource.Resource { return &DatasetResource{} }

// DatasetResource manages a dataset.
type DatasetResource struct {
	data *providerData
}

// datasetModel is what mlops_dataset and its data source share.
type datasetModel struct {
	ID             types.String `tfsdk:"id"`
	Project        types.String `tfsdk:"project"`
	Name           types.String `tfsdk:"name"`
	URI            types.String `tfsdk:"uri"`
	Format         types.String `tfsdk:"format"`
	Description    types.String `tfsdk:"description"`
	Labels         types.Map    `tfsdk:"labels"`
	Schema         types.List   `tfsdk:"schema"`
	ExpectedDigest types.String `tfsdk:"expected_digest"`
	Version        types.Int64  `tfsdk:"version"`
	Digest         types.String `tfsdk:"digest"`
	RowCount       types.Int64  `tfsdk:"row_count"`
	SizeBytes      types.Int64  `tfsdk:"size_bytes"`
}

// DatasetResourceModel is the state of mlops_dataset.
type DatasetResourceModel struct {
	datasetModel
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// datasetColumnModel is one element of schema.
type datasetColumnModel struct {
	Name types.String `tfsdk:"name"`
	Type types.String `tfsdk:"type"`
}

var datasetColumnType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType,
	"type": types.StringType,
}}

func (r *DatasetResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_dataset"
}

func (r *DatasetResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A dataset registers data (a file or a remote object) with a project. " +
			"When `uri` is a local path or `file://` URI the server can read, the server validates the content against `schema`, " +
			"checks `expected_digest`, and profiles it; `version` increases each time the content changes. " +
			"Every argument but `project` and `name` is updated in place; each update re-reads the content.",
		Attributes: map[string]schema.Attribute{
			"id":      idAttribute("project/name"),
			"project": projectAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Dataset name: 1-63 lowercase letters, digits, `-` or `_`. Changing it replaces the dataset.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"uri": schema.StringAttribute{
				MarkdownDescription: "Where the data lives: an absolute path or `file://` URI on the server (read and profiled, if it lies under one of the server's data roots), or a remote URI such as `s3://bucket/key` (recorded only).",
				Required:            true,
				Validators:          []validatorString{uriValidator()},
			},
			"format": schema.StringAttribute{
				MarkdownDescription: "File format: `csv` (with a header row), `jsonl` or `parquet`.",
				Required:            true,
				Validators:          []validatorString{stringvalidator.OneOf(api.DatasetFormats...)},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "What the dataset holds.",
				Optional:            true,
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Free-form key/value labels (at most 64; keys 1-63 characters, values up to 256).",
				ElementType:         types.StringType,
				Optional:            true,
			},
			"schema": schema.ListNestedAttribute{
				MarkdownDescription: "Declared columns. The server refuses content whose values do not fit them, naming the column and the first bad row. Undeclared columns are allowed and inferred.",
				Optional:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name": schema.StringAttribute{
							MarkdownDescription: "Column name, as in the CSV header, the JSON key or the Parquet field.",
							Required:            true,
							Validators:          []validatorString{stringvalidator.LengthAtLeast(1)},
						},
						"type": schema.StringAttribute{
							MarkdownDescription: "Column type: `string`, `integer`, `number`, `boolean` or `timestamp` (RFC 3339 or `YYYY-MM-DD`).",
							Required:            true,
							Validators:          []validatorString{stringvalidator.OneOf(api.ColumnTypes...)},
						},
					},
				},
			},
			"expected_digest": schema.StringAttribute{
				MarkdownDescription: "Pins the content: `sha256:<64 lowercase hex digits>`. A create or update whose content hashes differently fails.",
				Optional:            true,
				Validators:          []validatorString{stringvalidator.RegexMatches(datasetDigestRE, "must look like sha256:<64 lowercase hex digits>")},
			},
			"version": schema.Int64Attribute{
				MarkdownDescription: "Content version: 1 at creation, increased whenever an update finds different content or a different `uri`.",
				Computed:            true,
			},
			"digest": schema.StringAttribute{
				MarkdownDescription: "`sha256:<hex>` of the content; null when the server cannot read the URI (remote URIs).",
				Computed:            true,
			},
			"row_count": schema.Int64Attribute{
				MarkdownDescription: "Data rows in the content (CSV header excluded); 0 for remote URIs.",
				Computed:            true,
			},
			"size_bytes": schema.Int64Attribute{
				MarkdownDescription: "Size of the content in bytes; 0 for remote URIs.",
				Computed:            true,
			},
			"timeouts": datasetTimeoutsAttribute(ctx),
		},
	}
}

// datasetTimeoutsAttribute is the timeouts attribute, described for the docs.
func datasetTimeoutsAttribute(ctx context.Context) schema.Attribute {
	const unit = " A duration such as `30s`, `10m` or `1h`; default `10m`."
	a := timeouts.Attributes(ctx, timeouts.Opts{
		Create: true, Update: true,
		CreateDescription: "How long a create may take, including the server reading and profiling the file." + unit,
		UpdateDescription: "How long an update may take, including the server re-reading and profiling the file." + unit,
	}).(schema.SingleNestedAttribute)
	a.MarkdownDescription = "How long create and update may wait for the server to read and profile the content."
	return a
}

func (r *DatasetResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configure(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks at plan time what attribute validators cannot: labels and duplicate columns.
func (r *DatasetResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg DatasetResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if labels, ok := dpKnownStringMap(cfg.Labels); ok {
		dpAddFieldError(&resp.Diagnostics, api.ValidateLabels("labels", labels))
	}
	if cfg.Schema.IsNull() || cfg.Schema.IsUnknown() {
		return
	}
	var cols []datasetColumnModel
	resp.Diagnostics.Append(cfg.Schema.ElementsAs(ctx, &cols, false)...)
	seen := map[string]bool{}
	for i, c := range cols {
		if c.Name.IsNull() || c.Name.IsUnknown() {
			continue
		}
		if seen[c.Name.ValueString()] {
			dpAddFieldError(&resp.Diagnostics, api.Errorf(fmt.Sprintf("schema[%d].name", i), "column %q is declared twice", c.Name.ValueString()))
		}
		seen[c.Name.ValueString()] = true
	}
}

// ModifyPlan decides which computed content attributes the plan may promise.
//
// The server re-reads the file on every PUT, so any update, even of only
// description or labels, may find new content (changed out of band) and
// move version, digest, row_count and size_bytes. Promising the state values
// would then fail with "Provider produced inconsistent result", so they are
// unknown whenever the spec changes at all, and kept from state only when it
// does not (no change, or only timeouts, which Update applies without a call).
func (r *DatasetResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	planDefaultProject(ctx, r.data, req, resp)
	if req.State.Raw.IsNull() || resp.Diagnostics.HasError() {
		return // create: everything computed is unknown already
	}
	var plan, state DatasetResourceModel
	resp.Diagnostics.Append(resp.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if datasetSpecChanged(&plan.datasetModel, &state.datasetModel) {
		plan.Version = types.Int64Unknown()
		plan.Digest = types.StringUnknown()
		plan.RowCount = types.Int64Unknown()
		plan.SizeBytes = types.Int64Unknown()
	} else {
		plan.Version, plan.Digest, plan.RowCount, plan.SizeBytes = state.Version, state.Digest, state.RowCount, state.SizeBytes
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// datasetSpecChanged says whether an update would send a different spec.
func datasetSpecChanged(plan, state *datasetModel) bool {
	return !plan.URI.Equal(state.URI) ||
		!plan.Format.Equal(state.Format) ||
		!plan.Description.Equal(state.Description) ||
		!plan.Labels.Equal(state.Labels) ||
		!plan.Schema.Equal(state.Schema) ||
		!plan.ExpectedDigest.Equal(state.ExpectedDigest)
}

func (m *datasetModel) spec(ctx context.Context, diags *diag.Diagnostics) api.DatasetSpec {
	s := api.DatasetSpec{
		URI:            m.URI.ValueString(),
		Format:         m.Format.ValueString(),
		Description:    m.Description.ValueString(),
		Labels:         stringMap(ctx, m.Labels, diags),
		ExpectedDigest: m.ExpectedDigest.ValueString(),
	}
	if !m.Schema.IsNull() && !m.Schema.IsUnknown() {
		var cols []datasetColumnModel
		diags.Append(m.Schema.ElementsAs(ctx, &cols, false)...)
		for _, c := range cols {
			s.Schema = append(s.Schema, api.Column{Name: c.Name.ValueString(), Type: c.Type.ValueString()})
		}
	}
	return s
}

// fill sets m from the server's dataset. Absent optional values become null,
// except where m already holds an empty value (the user wrote "" or {} or []),
// which is kept so the state matches the configuration; a data source
// (dataSource) always gets empty values, which are easier to use in expressions.
func (m *datasetModel) fill(d *api.Dataset, dataSource bool) {
	m.ID = types.StringValue(d.Project + "/" + d.Name)
	m.Project = types.StringValue(d.Project)
	m.Name = types.StringValue(d.Name)
	m.URI = types.StringValue(d.URI)
	m.Format = types.StringValue(d.Format)
	m.Description = keepEmptyString(d.Description, dataSource || isEmpty(m.Description))
	m.Labels = keepEmptyMap(d.Labels, dataSource || isEmpty(m.Labels))
	m.ExpectedDigest = keepEmptyString(d.ExpectedDigest, dataSource || isEmpty(m.ExpectedDigest))
	cols := make([]attr.Value, 0, len(d.Schema))
	for _, c := range d.Schema {
		cols = append(cols, types.ObjectValueMust(datasetColumnType.AttrTypes, map[string]attr.Value{
			"name": types.StringValue(c.Name),
			"type": types.StringValue(c.Type),
		}))
	}
	if len(cols) == 0 && !dataSource && !isEmpty(m.Schema) {
		m.Schema = types.ListNull(datasetColumnType)
	} else {
		m.Schema = types.ListValueMust(datasetColumnType, cols)
	}
	m.Version = types.Int64Value(d.Version)
	m.Digest = keepEmptyString(d.Digest, dataSource)
	m.RowCount = types.Int64Value(d.RowCount)
	m.SizeBytes = types.Int64Value(d.SizeBytes)
}

func (r *DatasetResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan DatasetResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultDatasetTimeout)
	resp.Diagnostics.Append(diags...)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := r.data.client.CreateDataset(ctx, plan.Project.ValueString(), api.CreateDatasetRequest{Name: plan.Name.ValueString(), DatasetSpec: spec})
	if err != nil {
		addDatasetAPIError(&resp.Diagnostics, "create dataset "+plan.Name.ValueString(), "create", timeout, err)
		return
	}
	plan.fill(d, false)
	rememberGeneration(ctx, resp.Private, d.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *DatasetResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state DatasetResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state
	d, err := r.data.client.GetDataset(ctx, state.Project.ValueString(), state.Name.ValueString())
	if errors.Is(err, client.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "read dataset "+state.Name.ValueString(), err)
		return
	}
	state.fill(d, false)
	rememberGeneration(ctx, resp.Private, d.Generation, &resp.Diagnostics)
	setReadState(ctx, &resp.State, prior, &state, &resp.Diagnostics)
}

func (r *DatasetResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state DatasetResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !datasetSpecChanged(&plan.datasetModel, &state.datasetModel) {
		// Only timeouts changed: ModifyPlan promised the state's values, so no call.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultDatasetTimeout)
	resp.Diagnostics.Append(diags...)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := r.data.client.UpdateDataset(ctx, plan.Project.ValueString(), plan.Name.ValueString(), spec, readGeneration(ctx, req.Private, &resp.Diagnostics))
	if err != nil {
		addDatasetAPIError(&resp.Diagnostics, "update dataset "+plan.Name.ValueString(), "update", timeout, err)
		return
	}
	plan.fill(d, false)
	rememberGeneration(ctx, resp.Private, d.Generation, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *DatasetResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state DatasetResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.data.client.DeleteDataset(ctx, state.Project.ValueString(), state.Name.ValueString(), 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, "delete dataset "+state.Name.ValueString(), err)
	}
}

func (r *DatasetResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importParts(ctx, req.ID, "project/name", r.data, resp, "project", "name")
}

// Helpers shared by the dataset and pipeline files follow; the dp prefix
// keeps them apart from other resources' helpers in this package.

// addDatasetAPIError is addAPIError, but says which timeout to raise when it ran out.
func addDatasetAPIError(diags *diag.Diagnostics, action, op string, timeout time.Duration, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		diags.AddError("Timed out trying to "+action,
			fmt.Sprintf("%v\n\nThe server did not finish within %s (it reads and profiles the whole file). Raise timeouts.%s if the file is large.", err, timeout, op))
		return
	}
	addAPIError(diags, action, err)
}

// dpAddFieldError reports an API validation rule's failure on the attribute it names.
// The summary and detail match apiStringValidator's, so that when both catch the
// same value Terraform shows the error once.
func dpAddFieldError(diags *diag.Diagnostics, fe *api.FieldError) {
	if fe == nil {
		return
	}
	diags.AddAttributeError(fieldPath(fe.Field), "Invalid "+fe.Field, fe.Message)
}

// dpKnownStringMap converts a map attribute whose keys and values are all known.
func dpKnownStringMap(m types.Map) (map[string]string, bool) {
	if m.IsUnknown() {
		return nil, false
	}
	out := map[string]string{}
	for k, v := range m.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsUnknown() {
			return nil, false
		}
		out[k] = s.ValueString()
	}
	return out, true
}
