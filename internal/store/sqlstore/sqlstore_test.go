package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/sqlstore"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.Postgres(t) })
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	s := storetest.SQLite(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite://", "./file.db"} {
		_, err := sqlstore.Open(context.Background(), u, false)
		if err == nil || !strings.Contains(err.Error(), "sqlite://") {
			t.Errorf("Open(%q) error = %v; want one that shows the accepted forms", u, err)
		}
	}
}
