package provider

import (
	"context"
	"reflect"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
)

// setReadState writes what a Read found into its response unless it is what
// the resource's state already held: the framework fills the response with
// the prior state, and converting a model back into Terraform's values was
// the costliest part of a Read in a plan with nothing to change. Models hold
// only the framework's immutable values, so prior, a copy taken before the
// Read changed state, cannot share anything the Read altered.
func setReadState[T any](ctx context.Context, s *tfsdk.State, prior T, state *T, diags *diag.Diagnostics) {
	if reflect.DeepEqual(prior, *state) {
		return
	}
	diags.Append(s.Set(ctx, state)...)
}
