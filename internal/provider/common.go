package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// providerData is what Configure hands to every resource and data source.
type providerData struct {
	client   *client.Client
	project  string
	endpoint string
}

// configure extracts providerData in a resource's or data source's Configure.
func configure(providerDataValue any, diags *diag.Diagnostics) *providerData {
	if providerDataValue == nil {
		return nil // the provider is not configured yet (validation)
	}
	d, ok := providerDataValue.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerData, got %T; this is a bug in the provider", providerDataValue))
		return nil
	}
	return d
}

// tflogLogger sends the client's retry logs to Terraform's log. Requests
// log from many goroutines through one context, and tflog rewrites that
// context's field map on every call: mu keeps them from racing.
type tflogLogger struct {
	ctx context.Context
	mu  *sync.Mutex
}

func fields(kv []any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

func (l tflogLogger) Error(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tflog.Error(l.ctx, msg, fields(kv))
}
func (l tflogLogger) Info(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tflog.Info(l.ctx, msg, fields(kv))
}
func (l tflogLogger) Debug(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tflog.Debug(l.ctx, msg, fields(kv))
}
func (l tflogLogger) Warn(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tflog.Warn(l.ctx, msg, fields(kv))
}

// addAPIError turns a client error into a diagnostic that says what to do.
// A field the server blamed becomes an attribute error on that attribute.
func addAPIError(diags *diag.Diagnostics, action string, err error) {
	summary := "Failed to " + action
	detail := err.Error()
	switch {
	case errors.Is(err, client.ErrUnauthorized):
		detail += "\n\nThe token was refused: check the provider's token (or " + EnvToken + ")."
	case errors.Is(err, client.ErrForbidden):
		detail += "\n\nThe token lacks the role for this: use an editor token for the project, or an admin token."
	case errors.Is(err, client.ErrPreconditionFailed):
		detail += "\n\nThe object changed outside this Terraform run since it was read. Run terraform plan again to see the current state."
	case errors.Is(err, client.ErrConflict):
		detail += "\n\nIf the object already exists, import it with terraform import."
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		if f := apiErr.Field(); f != "" && !strings.Contains(f, " ") {
			diags.AddAttributeError(fieldPath(f), summary, detail)
			return
		}
	}
	diags.AddError(summary, detail)
}

// projectAttribute is the optional project every resource has; changing it
// replaces the resource. The provider's default is filled in by
// planDefaultProject from each resource's ModifyPlan: a plan modifier cannot,
// because the framework takes schemas from instances it never configures.
func projectAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Project the object belongs to. Defaults to the provider's `project`. Changing it replaces the object.",
		Optional:            true,
		Computed:            true,
		Validators:          []validatorString{nameValidator()},
		PlanModifiers: []planmodifier.String{
			stringplanmodifier.UseStateForUnknown(),
			stringplanmodifier.RequiresReplace(),
		},
	}
}

// planDefaultProject fills an unset project from the provider, and replaces
// the object when the provider's project is no longer the one it lives in.
func planDefaultProject(ctx context.Context, data *providerData, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || data == nil {
		return // destroy, or the provider is not configured yet
	}
	var configured, planned, prior types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("project"), &configured)...)
	if resp.Diagnostics.HasError() || !configured.IsNull() {
		return
	}
	// SetAttribute rewrites the whole plan; skip it when the plan already
	// holds the project, as every refresh of an unchanged object does.
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("project"), &planned)...)
	if planned.IsUnknown() || planned.ValueString() != data.project {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("project"), data.project)...)
	}
	if req.State.Raw.IsNull() {
		return
	}
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("project"), &prior)...)
	if prior.ValueString() != data.project {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("project"))
	}
}

// idAttribute is the computed id every resource has.
func idAttribute(format string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Identifier, `" + format + "`; also the import ID.",
		Computed:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// splitID parses an import ID of n slash-separated parts; a missing project
// (n-1 parts) means the provider's project.
func splitID(id string, n int, format string, defaultProject string) ([]string, error) {
	parts := strings.Split(id, "/")
	if len(parts) == n-1 {
		parts = append([]string{defaultProject}, parts...)
	}
	if len(parts) != n {
		return nil, fmt.Errorf("import ID %q must look like %s", id, format)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("import ID %q must look like %s, with no empty part", id, format)
		}
	}
	return parts, nil
}

// importParts sets each named attribute from an import ID.
func importParts(ctx context.Context, id string, format string, data *providerData, resp *resource.ImportStateResponse, attrs ...string) {
	project := "default"
	if data != nil {
		project = data.project
	}
	parts, err := splitID(id, len(attrs), format, project)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	for i, a := range attrs {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(a), parts[i])...)
	}
}

// stringMap converts a map attribute to Go; null and empty are both nil.
func stringMap(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]string {
	if m.IsNull() || m.IsUnknown() || len(m.Elements()) == 0 {
		return nil
	}
	out := map[string]string{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

// stringMapValue converts a Go map to an attribute; empty becomes null so
// that an unset attribute stays unset after a round trip.
func stringMapValue(m map[string]string) types.Map {
	if len(m) == 0 {
		return types.MapNull(types.StringType)
	}
	v, _ := types.MapValueFrom(context.Background(), types.StringType, m)
	return v
}

// stringList converts a list attribute to Go.
func stringList(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(l.ElementsAs(ctx, &out, false)...)
	return out
}

// stringListValue converts a Go slice to an attribute; empty becomes null.
func stringListValue(s []string) types.List {
	if len(s) == 0 {
		return types.ListNull(types.StringType)
	}
	v, _ := types.ListValueFrom(context.Background(), types.StringType, s)
	return v
}

// optionalString maps "" to null, so unset optional strings round-trip.
func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// fieldPath turns an API field such as steps[1].env.HOME into an attribute path.
// Segments after a map attribute are the map's key.
func fieldPath(field string) path.Path {
	var p path.Path
	rest := field
	for i := 0; rest != ""; i++ {
		seg, after, _ := strings.Cut(rest, ".")
		name, idx, hasIdx := parseFieldSegment(seg)
		if i == 0 {
			p = path.Root(name)
		} else {
			p = p.AtName(name)
		}
		if hasIdx {
			p = p.AtListIndex(idx)
		}
		rest = after
		if rest != "" && !hasIdx && mapAttributes[name] {
			return p.AtMapKey(rest)
		}
	}
	return p
}

// mapAttributes are the attributes whose API field paths continue with a map key.
var mapAttributes = map[string]bool{"labels": true, "parameters": true, "env": true, "feature_thresholds": true}

func parseFieldSegment(seg string) (name string, idx int, ok bool) {
	name, rest, found := strings.Cut(seg, "[")
	if !found {
		return seg, 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	if err != nil {
		return seg, 0, false
	}
	return name, n, true
}

// isEmpty says whether v is known, not null and empty ("", {} or []).
func isEmpty(v attr.Value) bool {
	if v == nil || v.IsNull() || v.IsUnknown() {
		return false
	}
	switch v := v.(type) {
	case types.String:
		return v.ValueString() == ""
	case types.Map:
		return len(v.Elements()) == 0
	case types.List:
		return len(v.Elements()) == 0
	}
	return false
}

// keepEmptyString is optionalString, except that "" stays "" when keep is set.
func keepEmptyString(s string, keep bool) types.String {
	if s == "" && keep {
		return types.StringValue("")
	}
	return optionalString(s)
}

// keepEmptyMap is stringMapValue, except that an empty map stays {} when keep is set.
func keepEmptyMap(m map[string]string, keep bool) types.Map {
	if len(m) == 0 && keep {
		return types.MapValueMust(types.StringType, map[string]attr.Value{})
	}
	return stringMapValue(m)
}

// keepEmptyList is stringListValue, except that an empty list stays [] when keep is set.
func keepEmptyList(s []string, keep bool) types.List {
	if len(s) == 0 && keep {
		return types.ListValueMust(types.StringType, []attr.Value{})
	}
	return stringListValue(s)
}
