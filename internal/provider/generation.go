package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// The generation Terraform last read of an object lives in the resource's
// private state, not in a schema attribute: it changes on every write, and as
// an attribute it would show up as "known after apply" in every update plan.
// Updates send it as If-Match, so an apply whose plan was made before someone
// else changed the object fails with 412 instead of silently undoing that
// change. Deletes do not: destroying is meant to win over a concurrent edit.
const privateGenerationKey = "generation"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// rememberGeneration records the generation of the object just read or written.
func rememberGeneration(ctx context.Context, p privateSetter, generation int64, diags *diag.Diagnostics) {
	if p == nil || generation <= 0 {
		return
	}
	diags.Append(p.SetKey(ctx, privateGenerationKey, []byte(strconv.FormatInt(generation, 10)))...)
}

// readGeneration is the generation recorded with the state, or 0 (no
// precondition) for state written before the provider kept it.
func readGeneration(ctx context.Context, p privateGetter, diags *diag.Diagnostics) int64 {
	if p == nil {
		return 0
	}
	raw, d := p.GetKey(ctx, privateGenerationKey)
	diags.Append(d...)
	if len(raw) == 0 {
		return 0
	}
	g, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0
	}
	return g
}
