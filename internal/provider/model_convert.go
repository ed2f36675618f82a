package provider

import (
	"context"
	"math/big"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// Conversions shared by the model, model version and model alias resources and data sources.

// gateModel is one element of a model's gates.
type gateModel struct {
	Metric    types.String  `tfsdk:"metric"`
	Op        types.String  `tfsdk:"op"`
	Threshold types.Float64 `tfsdk:"threshold"`
	Aliases   types.List    `tfsdk:"aliases"`
}

var gateObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"metric":    types.StringType,
	"op":        types.StringType,
	"threshold": types.Float64Type,
	"aliases":   types.ListType{ElemType: types.StringType},
}}

// gateResultModel is one element of a version's gate_results.
type gateResultModel struct {
	Metric    types.String  `tfsdk:"metric"`
	Op        types.String  `tfsdk:"op"`
	Threshold types.Float64 `tfsdk:"threshold"`
	Value     types.Float64 `tfsdk:"value"`
	Passed    types.Bool    `tfsdk:"passed"`
}

var gateResultObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"metric":    types.StringType,
	"op":        types.StringType,
	"threshold": types.Float64Type,
	"value":     types.Float64Type,
	"passed":    types.BoolType,
}}

// modelID, modelVersionID and modelAliasID build the resources' ids, which are also their import IDs.
func modelID(project, name string) string { return project + "/" + name }

func modelVersionID(project, model string, version int64) string {
	return project + "/" + model + "/" + strconv.FormatInt(version, 10)
}

func modelAliasID(project, model, alias string) string { return project + "/" + model + "/" + alias }

// modelKnown says whether a value is neither null nor unknown.
func modelKnown(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

// modelKeepEmptyMap returns prior when the server omitted a map the configuration
// set to {} (the API drops empty maps), so that {} round-trips instead of
// turning into null and an "inconsistent result" error.
func modelKeepEmptyMap(v, prior types.Map) types.Map {
	if v.IsNull() && modelKnown(prior) && len(prior.Elements()) == 0 {
		return prior
	}
	return v
}

// modelKeepEmptyList is modelKeepEmptyMap for lists.
func modelKeepEmptyList(v, prior types.List) types.List {
	if v.IsNull() && modelKnown(prior) && len(prior.Elements()) == 0 {
		return prior
	}
	return v
}

// modelFloat64Map converts a map attribute to Go; null and empty are both nil.
func modelFloat64Map(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]float64 {
	if !modelKnown(m) || len(m.Elements()) == 0 {
		return nil
	}
	out := map[string]float64{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

// modelFloat64MapValue converts a Go map to an attribute; empty becomes null.
func modelFloat64MapValue(m map[string]float64) types.Map {
	if len(m) == 0 {
		return types.MapNull(types.Float64Type)
	}
	elems := make(map[string]attr.Value, len(m))
	for k, f := range m {
		elems[k] = modelFloat64Value(f)
	}
	return types.MapValueMust(types.Float64Type, elems)
}

// modelFloat64Value is types.Float64Value(f) holding the number the way
// Terraform parses configuration: the shortest decimal that round-trips f, at
// 512 bits. types.Float64Value keeps f's binary expansion, so an API's 0.8
// would differ from a configured 0.8, and plans after an import would show
// spurious changes.
func modelFloat64Value(f float64) types.Float64 {
	bf, _, err := big.ParseFloat(strconv.FormatFloat(f, 'g', -1, 64), 10, 512, big.ToNearestEven)
	if err != nil {
		return types.Float64Value(f)
	}
	v, err := types.Float64Type.ValueFromTerraform(context.Background(), tftypes.NewValue(tftypes.Number, bf))
	if err != nil {
		return types.Float64Value(f)
	}
	return v.(types.Float64)
}

// modelOptionalInt64 maps 0 (the API's "unset") to null.
func modelOptionalInt64(n int64) types.Int64 {
	if n == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(n)
}

// gatesFromList converts the gates attribute to API gates.
func gatesFromList(ctx context.Context, l types.List, diags *diag.Diagnostics) []api.Gate {
	if !modelKnown(l) {
		return nil
	}
	var gates []gateModel
	diags.Append(l.ElementsAs(ctx, &gates, false)...)
	out := make([]api.Gate, 0, len(gates))
	for _, g := range gates {
		out = append(out, api.Gate{
			Metric:    g.Metric.ValueString(),
			Op:        g.Op.ValueString(),
			Threshold: g.Threshold.ValueFloat64(),
			Aliases:   stringList(ctx, g.Aliases, diags),
		})
	}
	return out
}

// gatesValue converts API gates to the gates attribute. The server omits
// empty lists, so prior (the plan or state) decides whether "none" is null
// or an explicit [] — for the list itself and for each gate's aliases.
func gatesValue(ctx context.Context, gates []api.Gate, prior types.List, diags *diag.Diagnostics) types.List {
	if len(gates) == 0 {
		return modelKeepEmptyList(types.ListNull(gateObjectType), prior)
	}
	// Built value by value, not with ListValueFrom: reflection over the
	// struct took most of a model's Read in a plan of 200 models.
	var priorGates []attr.Value
	if modelKnown(prior) {
		priorGates = prior.Elements() // only refines null vs [] for aliases
	}
	elems := make([]attr.Value, len(gates))
	for i, g := range gates {
		aliases := stringListValue(g.Aliases)
		if i < len(priorGates) {
			if o, ok := priorGates[i].(types.Object); ok {
				if a, ok := o.Attributes()["aliases"].(types.List); ok {
					aliases = modelKeepEmptyList(aliases, a)
				}
			}
		}
		o, d := types.ObjectValue(gateObjectType.AttrTypes, map[string]attr.Value{
			"metric":    types.StringValue(g.Metric),
			"op":        types.StringValue(g.Op),
			"threshold": modelFloat64Value(g.Threshold),
			"aliases":   aliases,
		})
		diags.Append(d...)
		elems[i] = o
	}
	v, d := types.ListValue(gateObjectType, elems)
	diags.Append(d...)
	return v
}

// gateResultsValue converts a version's gate results; value is null when the
// version lacks the metric.
func gateResultsValue(ctx context.Context, results []api.GateResult, diags *diag.Diagnostics) types.List {
	out := make([]gateResultModel, len(results))
	for i, r := range results {
		value := types.Float64Null()
		if r.Value != nil {
			value = modelFloat64Value(*r.Value)
		}
		out[i] = gateResultModel{
			Metric:    types.StringValue(r.Metric),
			Op:        types.StringValue(r.Op),
			Threshold: modelFloat64Value(r.Threshold),
			Value:     value,
			Passed:    types.BoolValue(r.Passed),
		}
	}
	v, d := types.ListValueFrom(ctx, gateResultObjectType, out)
	diags.Append(d...)
	return v
}
