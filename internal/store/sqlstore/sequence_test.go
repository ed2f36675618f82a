package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

// On PostgreSQL a change that took an audit id must not hold the next one
// back until it commits: every change takes one, so that would queue all
// writers behind each other's commits.
func TestPostgresAuditIDsDoNotWaitForCommits(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	first, err := s.NextSequence(ctx, store.AuditScope)
	if err != nil {
		t.Fatal(err)
	}
	if first != 1 {
		t.Fatalf("first audit id %d, want 1", first)
	}
	release := make(chan struct{})
	held := make(chan int64)
	done := make(chan error)
	go func() {
		done <- s.InTx(ctx, func(tx store.Store) error {
			id, err := tx.NextSequence(ctx, store.AuditScope)
			if err != nil {
				return err
			}
			held <- id
			<-release
			return nil
		})
	}()
	var open int64
	select {
	case open = <-held:
	case err := <-done:
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	next, err := s.NextSequence(wctx, store.AuditScope)
	close(release)
	if err != nil {
		t.Fatalf("audit id while another transaction holds one: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if open != 2 || next != 3 {
		t.Fatalf("ids %d then %d, want 2 then 3", open, next)
	}
	// Other scopes keep their transactional counter.
	if v, err := s.NextSequence(ctx, "model_version:p/m"); err != nil || v != 1 {
		t.Fatalf("another scope: %d, %v; want 1", v, err)
	}
}
