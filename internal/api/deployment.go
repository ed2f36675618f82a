package api

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Deployment phases.
const (
	PhaseProgressing = "progressing"
	PhaseHealthy     = "healthy"
	PhaseDegraded    = "degraded"
	PhaseRolledBack  = "rolled_back"
)

// Deployment strategies.
const (
	StrategyAllAtOnce = "all_at_once"
	StrategyCanary    = "canary"
)

// Deployment defaults.
const (
	DefaultHealthPath   = "/healthz"
	DefaultStepInterval = "1m"
	DefaultMaxErrorRate = 0.05
	DefaultMinRequests  = 20
	// VersionPlaceholder in a url runtime is replaced by the version number.
	VersionPlaceholder = "{version}"
)

// DeploymentRuntime says how a model version is served: a command mlopsd
// launches per version, or a URL of a server that already serves it.
type DeploymentRuntime struct {
	Command    []string          `json:"command,omitempty" doc:"argv mlopsd launches per replica of each version, with PORT, MLOPS_ARTIFACT_URI, MLOPS_MODEL and MLOPS_MODEL_VERSION set; exactly one of command and url."`
	URL        string            `json:"url,omitempty" doc:"Base URL of a server that already serves the version; {version} is replaced by the version number."`
	HealthPath string            `json:"health_path,omitempty" doc:"Path answering 2xx when a backend is ready; default /healthz."`
	Env        map[string]string `json:"env,omitempty" doc:"Extra environment of a command runtime."`
}

// DeploymentStrategy says how a new target version replaces the serving one.
type DeploymentStrategy struct {
	Type            string   `json:"type,omitempty" enum:"all_at_once,canary" doc:"Default all_at_once."`
	Steps           []int    `json:"steps,omitempty" doc:"Canary traffic percentages in increasing order, each 1-99, such as [10, 50]."`
	StepInterval    string   `json:"step_interval,omitempty" doc:"Bake time of each step; default 1m."`
	MaxErrorRate    *float64 `json:"max_error_rate,omitempty" minimum:"0" maximum:"1" doc:"Highest canary error rate (5xx and failed connections) that passes; default 0.05."`
	MaxLatencyP99Ms *int64   `json:"max_latency_p99_ms,omitempty" minimum:"1" doc:"Highest canary p99 latency that passes; unset means no limit."`
	MinRequests     *int64   `json:"min_requests,omitempty" minimum:"0" doc:"Canary requests a step needs before it can pass; default 20."`
	AutoRollback    *bool    `json:"auto_rollback,omitempty" doc:"Roll back on a failing analysis; default true. False leaves the canary at its weight and the phase degraded."`
}

// PredictionLogging says which requests a deployment's gateway keeps.
type PredictionLogging struct {
	SampleRate float64 `json:"sample_rate" minimum:"0" maximum:"1" doc:"Fraction of requests whose JSON rows are kept (0 to 1)."`
	MaxEntries int     `json:"max_entries,omitempty" minimum:"0" maximum:"1000000" doc:"Newest requests kept; older ones are dropped. Default 10000."`
}

// DeploymentSpec is what a user declares about a deployment.
type DeploymentSpec struct {
	Model    string              `json:"model" required:"true"`
	Version  int64               `json:"version,omitempty" minimum:"0" doc:"Version to serve; exactly one of version and alias."`
	Alias    string              `json:"alias,omitempty" doc:"Alias to follow: moving it rolls the deployment forward."`
	Runtime  DeploymentRuntime   `json:"runtime" required:"true"`
	Replicas int                 `json:"replicas,omitempty" minimum:"0" maximum:"16" doc:"Processes per version of a command runtime; default 1."`
	Strategy *DeploymentStrategy `json:"strategy,omitempty"`
	// PredictionLogging keeps a sample of request bodies for monitors.
	PredictionLogging *PredictionLogging `json:"prediction_logging,omitempty"`
	Description       string             `json:"description,omitempty"`
	Labels            map[string]string  `json:"labels,omitempty"`
}

// CreateDeploymentRequest is the body of POST .../deployments.
type CreateDeploymentRequest struct {
	Name string `json:"name" required:"true"`
	DeploymentSpec
}

// Deployment is a deployment as the server reports it.
type Deployment struct {
	Project string `json:"project" readOnly:"true"`
	Name    string `json:"name" required:"true"`
	DeploymentSpec
	// URL is the gateway endpoint; POST {url}/predict.
	URL string `json:"url" readOnly:"true"`
	DeploymentStatus
	Meta
}

// DeploymentStatus is what the rollout controller reports.
type DeploymentStatus struct {
	Phase string `json:"phase" readOnly:"true" enum:"progressing,healthy,degraded,rolled_back"`
	// TargetVersion is the version the spec asks for (the alias resolved).
	TargetVersion int64 `json:"target_version,omitempty" readOnly:"true"`
	StableVersion int64 `json:"stable_version,omitempty" readOnly:"true"`
	CanaryVersion int64 `json:"canary_version,omitempty" readOnly:"true"`
	CanaryWeight  int   `json:"canary_weight" readOnly:"true"`
	// CanaryStep is the index of the canary's current step in strategy.steps.
	CanaryStep int `json:"canary_step,omitempty" readOnly:"true"`
	// Message says why the phase is what it is (the failing analysis of a rollback).
	Message string `json:"message,omitempty" readOnly:"true"`
	// RolledBackVersion is the target that was rolled back; a new target clears it.
	RolledBackVersion int64      `json:"rolled_back_version,omitempty" readOnly:"true"`
	StepStartedAt     *time.Time `json:"step_started_at,omitempty" readOnly:"true"`
	// ObservedGeneration is the deployment generation this status was computed
	// for: a client that wrote generation g waits for a status with at least g.
	ObservedGeneration int64 `json:"observed_generation,omitempty" readOnly:"true"`
}

// Validate checks a deployment spec; the model and version's existence is the server's to check.
func (s *DeploymentSpec) Validate() *FieldError {
	if err := ValidateName("model", s.Model); err != nil {
		return err
	}
	switch {
	case s.Version != 0 && s.Alias != "":
		return Errorf("version", "set exactly one of version and alias, not both")
	case s.Version == 0 && s.Alias == "":
		return Errorf("version", "set exactly one of version and alias")
	case s.Alias != "":
		if err := ValidateName("alias", s.Alias); err != nil {
			return err
		}
	}
	r := s.Runtime
	switch {
	case len(r.Command) > 0 && r.URL != "":
		return Errorf("runtime.command", "set exactly one of runtime.command and runtime.url, not both")
	case len(r.Command) == 0 && r.URL == "":
		return Errorf("runtime.command", "set runtime.command (a server mlopsd launches) or runtime.url (one already running)")
	case r.URL != "":
		probe := strings.ReplaceAll(r.URL, VersionPlaceholder, "1")
		if err := ValidateWebhookURL("runtime.url", probe); err != nil {
			return err
		}
	default:
		if r.Command[0] == "" {
			return Errorf("runtime.command[0]", "is empty; name the program to run")
		}
	}
	if r.HealthPath != "" && !strings.HasPrefix(r.HealthPath, "/") {
		return Errorf("runtime.health_path", "%q must start with /", r.HealthPath)
	}
	if s.Replicas < 0 || s.Replicas > 16 {
		return Errorf("replicas", "must be between 1 and 16")
	}
	if st := s.Strategy; st != nil {
		if st.Type != "" {
			if err := oneOf("strategy.type", st.Type, []string{StrategyAllAtOnce, StrategyCanary}); err != nil {
				return err
			}
		}
		if st.Type == StrategyCanary && len(st.Steps) == 0 {
			return Errorf("strategy.steps", "a canary needs at least one step, such as [10, 50]")
		}
		if st.Type != StrategyCanary && len(st.Steps) > 0 {
			return Errorf("strategy.steps", "apply to type canary only; set strategy.type = \"canary\"")
		}
		prev := 0
		for i, p := range st.Steps {
			if p < 1 || p > 99 || p <= prev {
				return Errorf("strategy.steps["+strconv.Itoa(i)+"]", "%d: steps are percentages from 1 to 99 in increasing order", p)
			}
			prev = p
		}
		if st.StepInterval != "" {
			if err := ValidateDuration("strategy.step_interval", st.StepInterval, time.Second); err != nil {
				return err
			}
		}
		if st.MaxErrorRate != nil && (math.IsNaN(*st.MaxErrorRate) || *st.MaxErrorRate < 0 || *st.MaxErrorRate > 1) {
			return Errorf("strategy.max_error_rate", "must be between 0 and 1, such as 0.05")
		}
	}
	if pl := s.PredictionLogging; pl != nil {
		if math.IsNaN(pl.SampleRate) || pl.SampleRate < 0 || pl.SampleRate > 1 {
			return Errorf("prediction_logging.sample_rate", "must be between 0 and 1, such as 0.1")
		}
		if pl.MaxEntries < 0 || pl.MaxEntries > 1_000_000 {
			return Errorf("prediction_logging.max_entries", "must be between 1 and 1000000")
		}
	}
	return ValidateLabels("labels", s.Labels)
}

// Canary says whether the spec rolls out through canary steps.
func (s *DeploymentSpec) Canary() bool { return s.Strategy != nil && s.Strategy.Type == StrategyCanary }

// StepIntervalOrDefault is the bake time of a canary step.
func (s *DeploymentSpec) StepIntervalOrDefault() time.Duration {
	if s.Strategy != nil && s.Strategy.StepInterval != "" {
		if d, err := ParseDuration(s.Strategy.StepInterval); err == nil {
			return d
		}
	}
	d, _ := ParseDuration(DefaultStepInterval)
	return d
}

// BackendURL is the base URL of a url runtime for one version.
func (r *DeploymentRuntime) BackendURL(version int64) string {
	return strings.ReplaceAll(r.URL, VersionPlaceholder, strconv.FormatInt(version, 10))
}
