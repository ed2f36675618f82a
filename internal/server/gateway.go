package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mlopsplane/terraform-provider-mlops/internal/rollout"
)

// mountGateway routes every path under a deployment (POST …/predict and any
// other) to its model servers. It sits beside the Huma API rather than in it:
// bodies pass through unread, streamed both ways.
func (s *Server) mountGateway() {
	s.router.HandleFunc("/v1/projects/{project}/deployments/{name}/*", s.serveDeployment)
}

// isGatewayPath says whether path is served by the gateway rather than the API:
// anything below /v1/projects/{project}/deployments/{name}/.
func isGatewayPath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v1/projects/")
	if !ok {
		return false
	}
	parts := strings.SplitN(rest, "/", 4)
	return len(parts) == 4 && parts[1] == "deployments"
}

func (s *Server) serveDeployment(w http.ResponseWriter, r *http.Request) {
	project, name := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	p, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, errUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="mlopsd"`)
		writeProblem(w, http.StatusUnauthorized, "a valid bearer token is required: send Authorization: Bearer <token>")
		return
	case err != nil:
		writeProblem(w, http.StatusServiceUnavailable, "the database is unavailable; retry shortly")
		return
	case !p.canRead(project):
		writeProblem(w, http.StatusForbidden, forbiddenMessage(p, accessRead, project))
		return
	case s.gateway == nil:
		writeProblem(w, http.StatusServiceUnavailable, "this server runs no gateway")
		return
	}
	// The unescaped path after the deployment's prefix (chi's wildcard can be escaped).
	path := strings.TrimPrefix(r.URL.Path, "/v1/projects/"+project+"/deployments/"+name)
	s.gateway.Serve(w, r, rollout.Key(project, name), path)
}
