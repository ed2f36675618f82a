package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = &DeploymentDataSource{}

// NewDeploymentDataSource returns the mlops_deployment data source.
func NewDeploymentDataSource() datasource.DataSource { return &DeploymentDataSource{} }

// DeploymentDataSource reads a deployment and its rollout status.
type DeploymentDataSource struct {
	data *providerData
}

func (d *DeploymentDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (d *DeploymentDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	computedInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a deployment (see `mlops_deployment`): what it serves, how, and where its rollout stands. " +
			"The data source is read at every plan, so it follows rollouts, such as one started by a promotion of the alias it follows.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("`project/name`."),
			"project": schema.StringAttribute{
				MarkdownDescription: "Project of the deployment. Defaults to the provider's `project`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Deployment name.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"model":   computedString("Model whose versions the deployment serves."),
			"version": computedInt("Version the deployment serves; null when it follows `alias`."),
			"alias":   computedString("Alias the deployment follows; empty when it serves a fixed `version`."),
			"runtime": schema.SingleNestedAttribute{
				MarkdownDescription: "How a version is served.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"command": schema.ListAttribute{
						MarkdownDescription: "Program and arguments mlopsd launches per replica of each version; empty for a `url` runtime.",
						ElementType:         types.StringType,
						Computed:            true,
					},
					"url":         computedString("Base URL of the server of each version (`{version}` stands for the version number); empty for a `command` runtime."),
					"health_path": computedString("Path that answers 2xx when a backend is ready."),
					"env": schema.MapAttribute{
						MarkdownDescription: "Extra environment of a `command` runtime; empty when there is none.",
						ElementType:         types.StringType,
						Computed:            true,
					},
				},
			},
			"replicas": computedInt("Processes per version of a `command` runtime."),
			"strategy": schema.SingleNestedAttribute{
				MarkdownDescription: "How a new target version replaces the serving one. The canary settings are null for `all_at_once`.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"type": computedString("`all_at_once` or `canary`."),
					"steps": schema.ListAttribute{
						MarkdownDescription: "Percentages of traffic the canary takes, step by step; empty for `all_at_once`.",
						ElementType:         types.Int64Type,
						Computed:            true,
					},
					"step_interval":      computedString("Bake time of each canary step."),
					"max_error_rate":     schema.Float64Attribute{MarkdownDescription: "Highest canary error rate that passes a step.", Computed: true},
					"max_latency_p99_ms": computedInt("Highest canary p99 latency, in milliseconds, that passes a step; null for no limit."),
					"min_requests":       computedInt("Requests the canary must serve in a step before the step can pass."),
					"auto_rollback":      schema.BoolAttribute{MarkdownDescription: "Whether a failing step rolls back to the stable version.", Computed: true},
				},
			},
			"prediction_logging": schema.SingleNestedAttribute{
				MarkdownDescription: "Which requests the gateway keeps for monitors; null when it keeps none.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"sample_rate": schema.Float64Attribute{MarkdownDescription: "Fraction of requests whose rows are kept.", Computed: true},
					"max_entries": computedInt("Newest requests kept."),
				},
			},
			"description": computedString("What the deployment is for."),
			"labels": schema.MapAttribute{
				MarkdownDescription: "Key/value labels; empty when there are none.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"url":                 computedString(deploymentURLDescription),
			"phase":               computedString(deploymentPhaseDescription),
			"target_version":      computedInt(deploymentTargetVersionDescription),
			"stable_version":      computedInt(deploymentStableVersionDescription),
			"canary_version":      computedInt(deploymentCanaryVersionDescription),
			"canary_weight":       computedInt(deploymentCanaryWeightDescription),
			"message":             computedString("Why the phase is what it is, such as the failing analysis of a rollback; empty when there is nothing to say."),
			"rolled_back_version": computedInt(deploymentRolledBackVersionDescription),
		},
	}
}

func (d *DeploymentDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *DeploymentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg deploymentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project, name := stringOr(cfg.Project, d.data.project), cfg.Name.ValueString()
	dep, err := d.data.client.GetDeployment(ctx, project, name)
	if err != nil {
		addAPIError(&resp.Diagnostics, "read deployment "+project+"/"+name, err)
		return
	}
	cfg.fill(ctx, dep, true, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
