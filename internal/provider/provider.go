// Package provider implements the mlops Terraform provider on the
// terraform-plugin-framework: one file per resource and data source.
package provider

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// Environment variables the provider reads when its arguments are unset.
const (
	EnvEndpoint = "MLOPS_ENDPOINT"
	EnvToken    = "MLOPS_TOKEN"
	EnvProject  = "MLOPS_PROJECT"
)

var _ provider.Provider = &MlopsProvider{}

// MlopsProvider is the mlops provider.
type MlopsProvider struct {
	version string
}

// MlopsProviderModel is the provider block.
type MlopsProviderModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	Token    types.String `tfsdk:"token"`
	Project  types.String `tfsdk:"project"`
}

// New returns a constructor of the provider for providerserver.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &MlopsProvider{version: version} }
}

// Metadata implements provider.Provider.
func (p *MlopsProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "mlops"
	resp.Version = p.version
}

// Schema implements provider.Provider.
func (p *MlopsProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Declare an MLOps estate (datasets, pipelines, models, versions, aliases and retraining schedules) against an `mlopsd` control plane.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				MarkdownDescription: "URL of the mlopsd API, such as `http://127.0.0.1:8080`. Falls back to `MLOPS_ENDPOINT`.",
				Optional:            true,
			},
			"token": schema.StringAttribute{
				MarkdownDescription: "API token (`mlopsd token create`). Falls back to `MLOPS_TOKEN`.",
				Optional:            true,
				Sensitive:           true,
			},
			"project": schema.StringAttribute{
				MarkdownDescription: "Project that resources belong to when they do not set `project`. Falls back to `MLOPS_PROJECT`, then `default`.",
				Optional:            true,
				Validators:          []validatorString{nameValidator()},
			},
		},
	}
}

// Configure implements provider.Provider.
func (p *MlopsProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg MlopsProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for attr, v := range map[string]types.String{"endpoint": cfg.Endpoint, "token": cfg.Token, "project": cfg.Project} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(attr), "Unknown provider "+attr,
				"The provider's "+attr+" depends on a value known only after apply. Set it to a literal, a variable, or the environment variable instead.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := stringOr(cfg.Endpoint, os.Getenv(EnvEndpoint))
	token := stringOr(cfg.Token, os.Getenv(EnvToken))
	project := stringOr(cfg.Project, os.Getenv(EnvProject))
	if project == "" {
		project = api.DefaultProject
	}
	if endpoint == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing mlopsd endpoint",
			"Set endpoint in the provider block or the "+EnvEndpoint+" environment variable to the URL of the mlopsd API, for example http://127.0.0.1:8080.")
	}
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing mlopsd token",
			"Set token in the provider block or the "+EnvToken+" environment variable. Create one with: mlopsd token create --role editor --project "+project)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = tflog.SetField(ctx, "mlops_endpoint", endpoint)
	ctx = tflog.MaskFieldValuesWithFieldKeys(ctx, "token", "Authorization")
	ctx = tflog.MaskAllFieldValuesStrings(ctx, token)
	c, err := client.New(client.Config{
		Endpoint:  endpoint,
		Token:     token,
		UserAgent: "terraform-provider-mlops/" + p.version,
		Logger:    tflogLogger{ctx: ctx, mu: &sync.Mutex{}},
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid mlopsd endpoint",
			fmt.Sprintf("%v. Set endpoint (or %s) to the URL of the mlopsd API.", err, EnvEndpoint))
		return
	}
	if err := c.Ready(ctx); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Cannot reach mlopsd",
			fmt.Sprintf("The mlopsd API at %s did not answer its readiness check: %v. Check that endpoint (or %s) is the right URL and that mlopsd is running.", endpoint, err, EnvEndpoint))
		return
	}
	tflog.Debug(ctx, "configured mlops client", map[string]any{"project": project})
	data := &providerData{client: c, project: project, endpoint: endpoint}
	resp.ResourceData = data
	resp.DataSourceData = data
}

// Resources implements provider.Provider.
func (p *MlopsProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewProjectResource,
		// datasets and pipelines
		NewDatasetResource, NewPipelineResource,
		// models, versions and aliases
		NewModelResource, NewModelVersionResource, NewModelAliasResource,
		// schedules
		NewRetrainingScheduleResource,
		// monitors
		NewMonitorResource,
		// deployments
		NewDeploymentResource,
	}
}

// DataSources implements provider.Provider.
func (p *MlopsProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewProjectDataSource,
		// datasets and pipelines
		NewDatasetDataSource, NewPipelineDataSource, NewPipelineRunDataSource,
		// models, versions and aliases
		NewModelDataSource, NewModelVersionDataSource,
		// monitors
		NewMonitorDataSource,
		// deployments
		NewDeploymentDataSource,
	}
}

func stringOr(v types.String, fallback string) string {
	if v.IsNull() || v.IsUnknown() || v.ValueString() == "" {
		return fallback
	}
	return v.ValueString()
}
