package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// benchEnv reads a positive number from the environment, or def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// database is a store the API benchmarks run on.
type database struct {
	name string
	url  func(b *testing.B) string
}

// databases: SQLite in a temp dir, and a throwaway schema on
// MLOPS_TEST_POSTGRES_URL (the PostgreSQL benchmarks skip without it).
var databases = []database{
	{"sqlite", func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "mlops.db") }},
	{"postgres", func(b *testing.B) string { return storetest.PostgresURL(b) }},
}

// instance is an in-process mlopsd API.
type instance struct {
	url   string
	token string // an admin token
	store *sqlstore.Store
}

// benchProject holds the models the benchmarks read and write.
const benchProject = "bench"

// startServer runs the API as `mlopsd serve` builds it: the store with its
// own pool settings (not the tests' smaller PostgreSQL pool), every
// middleware, a text logger whose lines are formatted but discarded, and no
// rate limit (the benchmarks measure the API, not the limiter). It runs no
// job engine: none of the measured operations reaches it.
func startServer(b *testing.B, databaseURL string) *instance {
	b.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, databaseURL, true)
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() { _ = st.Close() })
	srv, err := server.New(ctx, server.Config{
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "bench",
		Registry: prometheus.NewRegistry(), DataRoots: []string{os.TempDir()},
	})
	if err != nil {
		b.Fatalf("new server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	admin, err := server.IssueToken(ctx, st, api.RoleAdmin, "", "bench")
	if err != nil {
		b.Fatalf("issue token: %v", err)
	}
	return &instance{url: hs.URL, token: admin.Secret, store: st}
}

// seedName is the name of the i-th model seedModels writes.
func seedName(i int) string { return fmt.Sprintf("a-%05d", i) }

// seedModels writes the project and n models straight into the store, as
// the API would have stored them, in a few transactions. Each model has two
// versions and a champion alias on the second, as models in use do: a get
// reads them too, and the database's statistics see many parents, not one.
func seedModels(b *testing.B, st *sqlstore.Store, n int) {
	b.Helper()
	ctx := context.Background()
	put := func(tx store.Store, k store.Key, ordinal int64, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Create(ctx, &store.Object{Key: k, Ordinal: ordinal, Data: data})
	}
	if err := put(st, store.ProjectKey(benchProject), 0, api.Project{Name: benchProject}); err != nil {
		b.Fatal(err)
	}
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		err := st.InTx(ctx, func(tx store.Store) error {
			for i := lo; i < min(lo+batch, n); i++ {
				m := api.Model{Project: benchProject, Name: seedName(i), ModelSpec: benchSpec()}
				if err := put(tx, store.ModelKey(benchProject, m.Name), 0, m); err != nil {
					return err
				}
				for v := int64(1); v <= 2; v++ {
					mv := api.ModelVersion{Project: benchProject, Model: m.Name, Version: v, ModelVersionSpec: api.ModelVersionSpec{
						ArtifactURI: fmt.Sprintf("s3://models/%s/%d", m.Name, v), Metrics: map[string]float64{"auc": 0.9},
					}}
					if err := put(tx, store.ModelVersionKey(benchProject, m.Name, v), v, mv); err != nil {
						return err
					}
				}
				a := api.ModelAlias{Project: benchProject, Model: m.Name, Alias: "champion", Version: 2}
				if err := put(tx, store.ModelAliasKey(benchProject, m.Name, a.Alias), 0, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchSpec is the spec of every model the benchmarks write: a typical
// one, with a description, two labels and a gate.
func benchSpec() api.ModelSpec {
	return api.ModelSpec{
		Description: "Predicts churn in the next 30 days",
		Labels:      map[string]string{"team": "growth", "tier": "gold"},
		Gates:       []api.Gate{{Metric: "auc", Op: ">=", Threshold: 0.8}},
	}
}
