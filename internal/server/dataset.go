package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

func (s *Server) registerDatasets() {
	tags := []string{"datasets"}
	base := "/v1/projects/{project}/datasets"
	registerProjectList(s, "list-datasets", base, "List datasets", tags, store.KindDataset, func(_ context.Context, v *api.Dataset, o *store.Object) error {
		v.Meta = meta(o)
		return nil
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "create-dataset", Method: http.MethodPost, Path: base, Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Register a dataset",
		Description: "A local file (file:// or an absolute path) is read, validated against the declared schema and profiled.",
	}, func(ctx context.Context, in *struct {
		ProjectPath
		Body api.CreateDatasetRequest
	}) (*Body[api.Dataset], error) {
		if err := checkName("name", in.Body.Name); err != nil {
			return nil, err
		}
		if err := s.requireProject(ctx, in.Project); err != nil {
			return nil, err
		}
		d := api.Dataset{Project: in.Project, Name: in.Body.Name, DatasetSpec: in.Body.DatasetSpec}
		k := store.DatasetKey(in.Project, d.Name)
		profile, err := s.inspectDataset(ctx, &d, nil)
		if err != nil {
			return nil, err
		}
		o := &store.Object{Key: k, Data: encode(d)}
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Create(ctx, o); err != nil {
				return err
			}
			return saveProfile(ctx, tx, in.Project, d.Name, profile)
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		d.Meta = meta(o)
		return withETag(d, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-dataset", Method: http.MethodGet, Path: base + "/{name}", Tags: tags, Summary: "Get a dataset",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Dataset], error) {
		k := store.DatasetKey(in.Project, in.Name)
		d, o, err := load[api.Dataset](ctx, s.store, k)
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		d.Meta = meta(o)
		return withETag(d, o.Generation), nil
	})

	register(s, accessRead, huma.Operation{
		OperationID: "get-dataset-profile", Method: http.MethodGet, Path: base + "/{name}/profile", Tags: tags,
		Summary: "Get the statistical profile of a dataset's content",
	}, func(ctx context.Context, in *NamePath) (*struct{ Body api.DatasetProfile }, error) {
		if _, err := s.store.Get(ctx, store.DatasetKey(in.Project, in.Name)); err != nil {
			return nil, s.storeError(ctx, store.DatasetKey(in.Project, in.Name), err)
		}
		p, _, err := load[api.DatasetProfile](ctx, s.store, store.DatasetProfileKey(in.Project, in.Name))
		if errors.Is(err, store.ErrNotFound) {
			return nil, huma.Error404NotFound(fmt.Sprintf("dataset %q has no profile: its URI is not a local file the server can read", in.Name))
		}
		if err != nil {
			return nil, s.storeError(ctx, store.DatasetProfileKey(in.Project, in.Name), err)
		}
		return &struct{ Body api.DatasetProfile }{Body: p}, nil
	})

	// update re-reads the content outside any transaction (files may be large),
	// then writes only if nobody changed the dataset meanwhile.
	update := func(ctx context.Context, project, name string, spec *api.DatasetSpec, gen int64) (*Body[api.Dataset], error) {
		k := store.DatasetKey(project, name)
		for attempt := 0; ; attempt++ {
			prev, po, err := load[api.Dataset](ctx, s.store, k)
			if err != nil {
				return nil, s.storeError(ctx, k, err)
			}
			if gen > 0 && po.Generation != gen {
				return nil, s.storeError(ctx, k, store.ErrStale)
			}
			d := prev
			if spec != nil {
				d.DatasetSpec = *spec
			}
			profile, err := s.inspectDataset(ctx, &d, &prev)
			if err != nil {
				return nil, err
			}
			o := &store.Object{Key: k, Data: encode(d)}
			err = s.store.InTx(ctx, func(tx store.Store) error {
				if err := tx.Update(ctx, o, po.Generation); err != nil {
					return err
				}
				return saveProfile(ctx, tx, project, name, profile)
			})
			if errors.Is(err, store.ErrStale) && gen == 0 && attempt < 3 {
				continue // a concurrent write won; redo on top of it
			}
			if err != nil {
				return nil, s.storeError(ctx, k, err)
			}
			d.Meta = meta(o)
			return withETag(d, o.Generation), nil
		}
	}

	register(s, accessWrite, huma.Operation{
		OperationID: "update-dataset", Method: http.MethodPut, Path: base + "/{name}", Tags: tags, Summary: "Update a dataset",
		Description: "Re-reads the content; version increases when it changed.",
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
		Body api.DatasetSpec
	}) (*Body[api.Dataset], error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		return update(ctx, in.Project, in.Name, &in.Body, gen)
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "refresh-dataset", Method: http.MethodPost, Path: base + "/{name}/refresh", Tags: tags,
		Summary: "Re-read a dataset's content now", Description: "Version increases when the content changed since the last read.",
	}, func(ctx context.Context, in *NamePath) (*Body[api.Dataset], error) {
		return update(ctx, in.Project, in.Name, nil, 0)
	})

	register(s, accessWrite, huma.Operation{
		OperationID: "delete-dataset", Method: http.MethodDelete, Path: base + "/{name}", Tags: tags,
		Summary: "Delete a dataset", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		NamePath
		IfMatch
	}) (*Empty, error) {
		gen, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		k := store.DatasetKey(in.Project, in.Name)
		err = s.store.InTx(ctx, func(tx store.Store) error {
			if err := tx.Delete(ctx, k, gen); err != nil {
				return err
			}
			err := tx.Delete(ctx, store.DatasetProfileKey(in.Project, in.Name), 0)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return nil, s.storeError(ctx, k, err)
		}
		return &Empty{}, nil
	})
}

// inspectDataset validates a dataset's spec and, for local files, reads the
// content: it checks the schema and the pinned digest, fills digest, row count
// and size, and bumps the version when the content differs from prev's.
func (s *Server) inspectDataset(ctx context.Context, d *api.Dataset, prev *api.Dataset) (*api.DatasetProfile, error) {
	if fe := d.Validate(); fe != nil {
		return nil, badRequest(fe)
	}
	d.Version, d.Digest, d.RowCount, d.SizeBytes, d.Profiled = 1, "", 0, 0, false
	if prev != nil {
		d.Version = prev.Version
	}
	path, local := dataset.LocalPath(d.URI)
	if !local {
		if prev != nil && prev.URI != d.URI {
			d.Version++
		}
		return nil, nil
	}
	path, err := s.roots.Allow(path)
	if err != nil {
		return nil, fieldError("uri", "%v", err)
	}
	res, err := dataset.Inspect(ctx, path, d.Format, d.Schema)
	if err != nil {
		var se *dataset.SchemaError
		switch {
		case errors.As(err, &se):
			return nil, fieldError("schema", "the content of %s does not match the declared schema: %s", d.URI, se.Error())
		case errors.Is(err, os.ErrNotExist):
			return nil, fieldError("uri", "%s does not exist on the server; give a path the server can read, or a remote URI", d.URI)
		case errors.Is(err, os.ErrPermission):
			return nil, fieldError("uri", "the server may not read %s; fix the file's permissions", d.URI)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, err
		}
		return nil, fieldError("uri", "cannot read %s as %s: %v", d.URI, d.Format, err)
	}
	if d.ExpectedDigest != "" && d.ExpectedDigest != res.Digest {
		return nil, fieldError("expected_digest", "the content of %s has digest %s, not the pinned %s; update expected_digest if the change is intended", d.URI, res.Digest, d.ExpectedDigest)
	}
	d.Digest, d.RowCount, d.SizeBytes, d.Profiled = res.Digest, res.RowCount, res.SizeBytes, true
	if prev != nil && (prev.Digest != res.Digest || prev.URI != d.URI) {
		d.Version = prev.Version + 1
	}
	return &api.DatasetProfile{Version: d.Version, Digest: res.Digest, RowCount: res.RowCount, Columns: res.Columns}, nil
}

// saveProfile stores a dataset's latest profile, or removes a stale one.
func saveProfile(ctx context.Context, tx store.Store, project, name string, p *api.DatasetProfile) error {
	k := store.DatasetProfileKey(project, name)
	if p == nil {
		if err := tx.Delete(ctx, k, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	o := &store.Object{Key: k, Data: encode(p)}
	err := tx.Update(ctx, o, 0)
	if errors.Is(err, store.ErrNotFound) {
		return tx.Create(ctx, o)
	}
	return err
}
