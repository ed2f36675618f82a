package drift_test

import (
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/drift"
)

// The metric names are API values; drift keeps its own constants so it does
// not depend on the API package, and this test keeps the two in step.
func TestMetricNamesMatchAPI(t *testing.T) {
	for _, pair := range [][2]string{
		{drift.MetricPSI, api.MetricPSI},
		{drift.MetricKS, api.MetricKS},
		{drift.MetricWasserstein, api.MetricWasserstein},
		{drift.MetricJensenShannon, api.MetricJensenShannon},
		{drift.MetricChiSquared, api.MetricChiSquared},
	} {
		if pair[0] != pair[1] {
			t.Errorf("drift metric %q is %q in the API", pair[0], pair[1])
		}
		// Drifted must read the API's default threshold the API's way.
		m, th := pair[0], api.DefaultThreshold(pair[0])
		below, above := th/2, th*2
		if api.MetricIsPValue(m) != drift.Drifted(m, below, th) || api.MetricIsPValue(m) == drift.Drifted(m, above, th) {
			t.Errorf("%s: Drifted disagrees with api.MetricIsPValue", m)
		}
	}
}
