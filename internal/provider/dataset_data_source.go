package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = &DatasetDataSource{}

// NewDatasetDataSource returns the mlops_dataset data source.
func NewDatasetDataSource() datasource.DataSource { return &DatasetDataSource{} }

// DatasetDataSource reads a dataset.
type DatasetDataSource struct {
	data *providerData
}

func (d *DatasetDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_dataset"
}

func (d *DatasetDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	computedInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a dataset, including its current content version and digest. Absent optional values read as empty strings, maps and lists.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("Identifier, `project/name`."),
			"project": schema.StringAttribute{
				MarkdownDescription: "Project of the dataset. Defaults to the provider's `project`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Dataset name.",
				Required:            true,
				Validators:          []validatorString{nameValidator()},
			},
			"uri":         computedString("Where the data lives."),
			"format":      computedString("File format: `csv`, `jsonl` or `parquet`."),
			"description": computedString("What the dataset holds."),
			"labels": schema.MapAttribute{
				MarkdownDescription: "Key/value labels.",
				ElementType:         types.StringType,
				Computed:            true,
			},
			"schema": schema.ListNestedAttribute{
				MarkdownDescription: "Declared columns.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name": computedString("Column name."),
						"type": computedString("Column type: `string`, `integer`, `number`, `boolean` or `timestamp`."),
					},
				},
			},
			"expected_digest": computedString("The pinned `sha256:<hex>` digest, or empty."),
			"version":         computedInt("Content version: increases whenever the content or `uri` changes."),
			"digest":          computedString("`sha256:<hex>` of the content; empty when the server cannot read the URI."),
			"row_count":       computedInt("Data rows in the content (CSV header excluded)."),
			"size_bytes":      computedInt("Size of the content in bytes."),
		},
	}
}

func (d *DatasetDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *DatasetDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg datasetModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	project := stringOr(cfg.Project, d.data.project)
	ds, err := d.data.client.GetDataset(ctx, project, cfg.Name.ValueString())
	if err != nil {
		addAPIError(&resp.Diagnostics, "read dataset "+cfg.Name.ValueString()+" in project "+project, err)
		return
	}
	cfg.fill(ds, true)
	resp.Diagnostics.Append(resp.State.Set(ctx, &cfg)...)
}
