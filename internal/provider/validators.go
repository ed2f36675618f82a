package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

type validatorString = validator.String

// apiStringValidator runs one of the API's validation rules at plan time, so
// the user sees the same message the server would give, before any apply.
type apiStringValidator struct {
	description string
	check       func(field, value string) *api.FieldError
}

func (v apiStringValidator) Description(context.Context) string         { return v.description }
func (v apiStringValidator) MarkdownDescription(context.Context) string { return v.description }

func (v apiStringValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if fe := v.check(req.Path.String(), req.ConfigValue.ValueString()); fe != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), fe.Message)
	}
}

func nameValidator() validator.String {
	return apiStringValidator{description: "must match " + api.NamePattern, check: api.ValidateName}
}

func cronValidator() validator.String {
	return apiStringValidator{description: "a five-field cron expression", check: api.ValidateCron}
}

func timezoneValidator() validator.String {
	return apiStringValidator{description: "an IANA time zone", check: api.ValidateTimezone}
}

func uriValidator() validator.String {
	return apiStringValidator{description: "an absolute URI or path", check: api.ValidateURI}
}

func durationValidator(min time.Duration) validator.String {
	return apiStringValidator{
		description: fmt.Sprintf("a duration of at least %s", min),
		check:       func(f, v string) *api.FieldError { return api.ValidateDuration(f, v, min) },
	}
}
