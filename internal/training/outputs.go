package training

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Files a step may write to MLOPS_OUTPUT_DIR.
const (
	MetricsFile  = "metrics.json"
	ManifestFile = "model.json"
)

// Manifest is model.json: which model the run trained and where its artifact is.
type Manifest struct {
	Model string `json:"model"`
	// Artifact is a path relative to the output directory, an absolute path, or a URI.
	Artifact string `json:"artifact"`
}

type registration struct {
	model     string
	version   int64
	promotion *api.Promotion
}

// registerOutputs registers the model version a successful run produced, with
// its metrics and lineage, and moves the pipeline's promote_to alias when the
// version passes that alias's gates. No model.json means nothing to register.
func (e *Engine) registerOutputs(ctx context.Context, a runArgs, rev api.PipelineRevision, outDir string) (*registration, error) {
	raw, err := os.ReadFile(filepath.Join(outDir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", ManifestFile, err)
	}
	if fe := api.ValidateName("model", m.Model); fe != nil {
		return nil, fmt.Errorf("%s: %s", ManifestFile, fe.Error())
	}
	metrics := map[string]float64{}
	if raw, err := os.ReadFile(filepath.Join(outDir, MetricsFile)); err == nil {
		if err := json.Unmarshal(raw, &metrics); err != nil {
			return nil, fmt.Errorf("%s must be a JSON object of metric names to numbers: %w", MetricsFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	artifact := m.Artifact
	switch {
	case artifact == "":
		return nil, fmt.Errorf("%s names no artifact", ManifestFile)
	case filepath.IsAbs(artifact):
		artifact = "file://" + artifact
	case api.ValidateURI("artifact", artifact) != nil:
		artifact = "file://" + filepath.Join(outDir, artifact)
	}

	var reg registration
	err = e.store.InTx(ctx, func(tx store.Store) error {
		mo, err := tx.Get(ctx, store.ModelKey(a.Project, m.Model))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("model %q named in %s is not registered in project %q", m.Model, ManifestFile, a.Project)
		}
		if err != nil {
			return err
		}
		var model api.Model
		if err := json.Unmarshal(mo.Data, &model); err != nil {
			return err
		}
		ro, err := tx.Get(ctx, store.PipelineRunKey(a.Project, a.Pipeline, a.ID))
		if err != nil {
			return err
		}
		var run api.PipelineRun
		if err := json.Unmarshal(ro.Data, &run); err != nil {
			return err
		}
		spec := api.ModelVersionSpec{
			ArtifactURI: artifact, Metrics: metrics, Params: run.Parameters, PipelineRunID: runID(a),
			Description: fmt.Sprintf("Trained by run %d of pipeline %s (revision %d)", a.ID, a.Pipeline, rev.Revision),
			Labels:      map[string]string{"pipeline": a.Pipeline, "pipeline_revision": strconv.FormatInt(rev.Revision, 10), "trigger": run.Trigger},
		}
		if len(rev.Datasets) > 0 {
			// The version the steps read, not whatever the dataset is now.
			spec.Dataset, spec.DatasetVersion = rev.Datasets[0], run.InputVersions[rev.Datasets[0]]
		}
		n, err := tx.NextSequence(ctx, store.ModelVersionScope(a.Project, m.Model))
		if err != nil {
			return err
		}
		v := api.ModelVersion{Project: a.Project, Model: m.Model, Version: n, ModelVersionSpec: spec}
		if err := tx.Create(ctx, &store.Object{Key: store.ModelVersionKey(a.Project, m.Model, n), Ordinal: n, Data: mustJSON(v)}); err != nil {
			return err
		}
		reg = registration{model: m.Model, version: n}
		if rev.PromoteTo == "" {
			return nil
		}
		reg.promotion = &api.Promotion{Alias: rev.PromoteTo}
		if why := api.GateFailure(model.Gates, metrics, rev.PromoteTo); why != "" {
			reg.promotion.Reason = fmt.Sprintf("version %d stays unpromoted: %s", n, why)
			return nil
		}
		alias := api.ModelAlias{Project: a.Project, Model: m.Model, Alias: rev.PromoteTo, Version: n}
		ao := &store.Object{Key: store.ModelAliasKey(a.Project, m.Model, rev.PromoteTo), Data: mustJSON(alias)}
		err = tx.Update(ctx, ao, 0)
		if errors.Is(err, store.ErrNotFound) {
			err = tx.Create(ctx, ao)
		}
		reg.promotion.Promoted = err == nil
		if err != nil {
			return err
		}
		return e.SyncAliasFollowers(ctx, tx, a.Project, m.Model, rev.PromoteTo)
	})
	if err != nil {
		return nil, err
	}
	return &reg, nil
}
