// Command floorprovider is the provider BenchmarkTerraform holds mlops_model
// up against besides terraform_data: one resource, floor_model, with
// mlops_model's schema on the same terraform-plugin-framework, that keeps
// what it is given and reads nothing. Its plans cost what the framework and
// the plugin protocol cost, so the benchmark can tell them from the
// provider's own work (the API call, the default project). Not shipped.
package main

import (
	"context"
	"log"
	rtdebug "runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	mlops "github.com/mlopsplane/terraform-provider-mlops/internal/provider"
)

func main() {
	// As the mlops provider runs: quiet SDK logs, the same collector setting.
	mlops.QuietLogsUnlessWanted()
	rtdebug.SetGCPercent(400)
	err := providerserver.Serve(context.Background(), func() provider.Provider { return floorProvider{} },
		providerserver.ServeOpts{Address: "registry.terraform.io/mlopsplane/floor"})
	if err != nil {
		log.Fatal(err)
	}
}

type floorProvider struct{}

func (floorProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "floor"
}

func (floorProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (floorProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (floorProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return floorModel{} }}
}

func (floorProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// floorModel has mlops_model's schema and stores nothing anywhere.
type floorModel struct{}

func (floorModel) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model"
}

func (floorModel) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	mlops.NewModelResource().Schema(ctx, req, resp)
}

// Create keeps the plan, filling what the server would: id, project, latest_version.
func (floorModel) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m mlops.ModelResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Project.IsUnknown() || m.Project.IsNull() {
		m.Project = types.StringValue("default")
	}
	m.ID = types.StringValue(m.Project.ValueString() + "/" + m.Name.ValueString())
	m.LatestVersion = types.Int64Value(0)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read leaves the state as it was: the framework fills the response with it.
func (floorModel) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

// Update keeps the plan.
func (floorModel) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m mlops.ModelResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if m.LatestVersion.IsUnknown() {
		m.LatestVersion = types.Int64Value(0)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (floorModel) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
