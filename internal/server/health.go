package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HealthStatus is the body of /healthz and /readyz.
type HealthStatus struct {
	Body struct {
		Status string `json:"status"`
	}
}

func (s *Server) registerHealth(reg *prometheus.Registry) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.router.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	register(s, accessPublic, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"health"},
		Summary: "Liveness: the process serves requests",
	}, func(ctx context.Context, _ *struct{}) (*HealthStatus, error) {
		out := &HealthStatus{}
		out.Body.Status = "ok"
		return out, nil
	})
	register(s, accessPublic, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"health"},
		Summary: "Readiness: the database answers", Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*HealthStatus, error) {
		if err := s.store.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "err", err)
			return nil, huma.Error503ServiceUnavailable("the database does not answer")
		}
		out := &HealthStatus{}
		out.Body.Status = "ready"
		return out, nil
	})
}
