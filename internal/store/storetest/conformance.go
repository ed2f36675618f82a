package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Run checks that a store behaves as store.Store promises. open returns a
// fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := map[string]func(*testing.T, store.Store){
		"CreateGet":        testCreateGet,
		"CreateDuplicate":  testCreateDuplicate,
		"CreateSeveral":    testCreateSeveral,
		"CreateFresh":      testCreateFresh,
		"CreateNumbered":   testCreateNumbered,
		"UpdateGeneration": testUpdateGeneration,
		"DeleteGeneration": testDeleteGeneration,
		"ListPaging":       testListPaging,
		"ListOrdinalDesc":  testListOrdinalDesc,
		"ListScopes":       testListScopes,
		"DeleteChildren":   testDeleteChildren,
		"Children":         testChildren,
		"CountProject":     testCountProject,
		"Sequences":        testSequences,
		"SequenceRace":     testSequenceRace,
		"TxCommitRollback": testTx,
		"UpdateRace":       testUpdateRace,
		"Tokens":           testTokens,
		"Idempotency":      testIdempotency,
		"IdempotencyRace":  testIdempotencyRace,
		"IdempotencyCrash": testIdempotencyCrash,
		"IdempotencyTx":    testIdempotencyRequestTx,
		"Ping":             func(t *testing.T, s store.Store) { mustNil(t, s.Ping(context.Background())) },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func mustIs(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func obj(kind store.Kind, project, parent, name, data string) *store.Object {
	return &store.Object{Key: store.Key{Kind: kind, Project: project, Parent: parent, Name: name}, Data: []byte(data)}
}

func testCreateGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	o := obj(store.KindDataset, "p", "", "d1", `{"uri":"file:///x"}`)
	mustNil(t, s.Create(ctx, o))
	if o.Generation != 1 || o.CreatedAt.Before(before) || !o.CreatedAt.Equal(o.UpdatedAt) {
		t.Fatalf("created object bookkeeping = gen %d, created %v, updated %v", o.Generation, o.CreatedAt, o.UpdatedAt)
	}
	got, err := s.Get(ctx, o.Key)
	mustNil(t, err)
	if string(got.Data) != `{"uri":"file:///x"}` || got.Generation != 1 || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("Get = %+v, want what was created %+v", got, o)
	}
	_, err = s.Get(ctx, store.Key{Kind: store.KindDataset, Project: "p", Name: "other"})
	mustIs(t, err, store.ErrNotFound)
	// The same name under another kind or project is another object.
	_, err = s.Get(ctx, store.Key{Kind: store.KindPipeline, Project: "p", Name: "d1"})
	mustIs(t, err, store.ErrNotFound)
	_, err = s.Get(ctx, store.Key{Kind: store.KindDataset, Project: "q", Name: "d1"})
	mustIs(t, err, store.ErrNotFound)
}

func testCreateDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustNil(t, s.Create(ctx, obj(store.KindModel, "p", "", "m", `{"a":1}`)))
	mustIs(t, s.Create(ctx, obj(store.KindModel, "p", "", "m", `{"a":2}`)), store.ErrExists)
	got, err := s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "m"})
	mustNil(t, err)
	if string(got.Data) != `{"a":1}` {
		t.Fatalf("duplicate create changed the stored object: %s", got.Data)
	}
}

func testUpdateGeneration(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := obj(store.KindModel, "p", "", "m", `{"v":1}`)
	mustNil(t, s.Create(ctx, o))
	created := o.CreatedAt
	time.Sleep(2 * time.Millisecond)
	o.Data = []byte(`{"v":2}`)
	mustNil(t, s.Update(ctx, o, 1))
	if o.Generation != 2 || !o.CreatedAt.Equal(created) || !o.UpdatedAt.After(created) {
		t.Fatalf("after update: gen %d created %v updated %v", o.Generation, o.CreatedAt, o.UpdatedAt)
	}
	o.Data = []byte(`{"v":3}`)
	mustIs(t, s.Update(ctx, o, 1), store.ErrStale)
	got, _ := s.Get(ctx, o.Key)
	if string(got.Data) != `{"v":2}` || got.Generation != 2 {
		t.Fatalf("stale update wrote: %s gen %d", got.Data, got.Generation)
	}
	// Without a precondition the write goes through.
	mustNil(t, s.Update(ctx, o, 0))
	if o.Generation != 3 {
		t.Fatalf("generation = %d, want 3", o.Generation)
	}
	missing := obj(store.KindModel, "p", "", "nope", `{}`)
	mustIs(t, s.Update(ctx, missing, 0), store.ErrNotFound)
	mustIs(t, s.Update(ctx, missing, 4), store.ErrNotFound)
}

func testDeleteGeneration(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := obj(store.KindModel, "p", "", "m", `{}`)
	mustNil(t, s.Create(ctx, o))
	mustIs(t, s.Delete(ctx, o.Key, 7), store.ErrStale)
	mustNil(t, s.Delete(ctx, o.Key, 1))
	mustIs(t, s.Delete(ctx, o.Key, 0), store.ErrNotFound)
	_, err := s.Get(ctx, o.Key)
	mustIs(t, err, store.ErrNotFound)
}

func testListPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		mustNil(t, s.Create(ctx, obj(store.KindDataset, "p", "", fmt.Sprintf("d%02d", i), `{}`)))
	}
	var names []string
	token := ""
	pages := 0
	for {
		page, next, err := s.List(ctx, store.ListQuery{Kind: store.KindDataset, Project: "p", Limit: 10, PageToken: token})
		mustNil(t, err)
		pages++
		for _, o := range page {
			names = append(names, o.Name)
		}
		if next == "" {
			break
		}
		token = next
	}
	if pages != 3 || len(names) != 25 {
		t.Fatalf("paged %d pages, %d names; want 3 pages, 25 names", pages, len(names))
	}
	for i, n := range names {
		if n != fmt.Sprintf("d%02d", i) {
			t.Fatalf("names[%d] = %s; listing must be sorted and complete", i, n)
		}
	}
	all, next, err := s.List(ctx, store.ListQuery{Kind: store.KindDataset, Project: "p"})
	mustNil(t, err)
	if len(all) != 25 || next != "" {
		t.Fatalf("unbounded list = %d items, next %q", len(all), next)
	}
	_, _, err = s.List(ctx, store.ListQuery{Kind: store.KindDataset, Project: "p", PageToken: "%%garbage"})
	if err == nil {
		t.Fatal("a garbage page token must be refused")
	}
}

func testListOrdinalDesc(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, v := range []int64{1, 2, 10, 11, 3} {
		o := obj(store.KindModelVersion, "p", "m", fmt.Sprint(v), `{}`)
		o.Ordinal = v
		mustNil(t, s.Create(ctx, o))
	}
	asc, _, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m"})
	mustNil(t, err)
	if got := names(asc); got != "1,2,3,10,11" {
		t.Fatalf("ascending by ordinal = %s", got)
	}
	first, next, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m", Desc: true, Limit: 2})
	mustNil(t, err)
	rest, _, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m", Desc: true, PageToken: next})
	mustNil(t, err)
	if got := names(first) + "|" + names(rest); got != "11,10|3,2,1" {
		t.Fatalf("descending pages = %s", got)
	}
}

func names(objs []*store.Object) string {
	out := ""
	for i, o := range objs {
		if i > 0 {
			out += ","
		}
		out += o.Name
	}
	return out
}

func testListScopes(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustNil(t, s.Create(ctx, obj(store.KindModelVersion, "p", "a", "1", `{}`)))
	mustNil(t, s.Create(ctx, obj(store.KindModelVersion, "p", "b", "1", `{}`)))
	mustNil(t, s.Create(ctx, obj(store.KindModelVersion, "q", "a", "1", `{}`)))
	mustNil(t, s.Create(ctx, obj(store.KindModelAlias, "p", "a", "x", `{}`)))
	got, _, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "a"})
	mustNil(t, err)
	if len(got) != 1 || got[0].Project != "p" || got[0].Parent != "a" || got[0].Kind != store.KindModelVersion {
		t.Fatalf("list leaked across scopes: %+v", got)
	}
}

func testDeleteChildren(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		mustNil(t, s.Create(ctx, obj(store.KindModelVersion, "p", "m", fmt.Sprint(i), `{}`)))
	}
	mustNil(t, s.Create(ctx, obj(store.KindModelVersion, "p", "other", "1", `{}`)))
	mustNil(t, s.DeleteChildren(ctx, store.KindModelVersion, "p", "m"))
	left, _, _ := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m"})
	kept, _, _ := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "other"})
	if len(left) != 0 || len(kept) != 1 {
		t.Fatalf("DeleteChildren left %d, kept %d; want 0 and 1", len(left), len(kept))
	}
}

func testCountProject(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustNil(t, s.Create(ctx, obj(store.KindProject, "", "", "p", `{}`)))
	n, err := s.CountProject(ctx, "p")
	mustNil(t, err)
	if n != 0 {
		t.Fatalf("empty project counts %d objects", n)
	}
	mustNil(t, s.Create(ctx, obj(store.KindDataset, "p", "", "d", `{}`)))
	mustNil(t, s.Create(ctx, obj(store.KindModelVersion, "p", "m", "1", `{}`)))
	n, err = s.CountProject(ctx, "p")
	mustNil(t, err)
	if n != 2 {
		t.Fatalf("CountProject = %d, want 2", n)
	}
}

func testSequences(t *testing.T, s store.Store) {
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		got, err := s.NextSequence(ctx, "a")
		mustNil(t, err)
		if got != want {
			t.Fatalf("NextSequence = %d, want %d", got, want)
		}
	}
	if got, _ := s.NextSequence(ctx, "b"); got != 1 {
		t.Fatalf("a new scope starts at %d, want 1", got)
	}
	mustNil(t, s.ResetSequence(ctx, "a"))
	if got, _ := s.NextSequence(ctx, "a"); got != 1 {
		t.Fatalf("after reset NextSequence = %d, want 1", got)
	}
}

// testCreateSeveral: several objects in one Create are all stored or none.
func testCreateSeveral(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := obj(store.KindAudit, "", "", "1", `{"id":1}`), obj(store.KindAudit, "", "p", "1", `{"id":1}`)
	mustNil(t, s.Create(ctx, a, b))
	for _, o := range []*store.Object{a, b} {
		got, err := s.Get(ctx, o.Key)
		mustNil(t, err)
		if got.Generation != 1 || o.Generation != 1 || string(got.Data) != `{"id":1}` || !got.CreatedAt.Equal(o.CreatedAt) {
			t.Fatalf("stored %+v, returned %+v", got, o)
		}
	}
	c := obj(store.KindAudit, "", "", "2", `{}`)
	mustIs(t, s.Create(ctx, c, obj(store.KindAudit, "", "p", "1", `{}`)), store.ErrExists)
	if _, err := s.Get(ctx, c.Key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other object of a failed Create was kept: %v", err)
	}
	mustNil(t, s.Create(ctx)) // nothing to create
}

// testCreateFresh: CreateFresh starts the scope again, unless the create fails.
func testCreateFresh(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Not in a project that does not exist: ErrNotFound, and the count stays.
	_, err := s.NextSequence(ctx, "m/versions")
	mustNil(t, err)
	mustIs(t, s.CreateFresh(ctx, obj(store.KindModel, "p", "", "m", `{}`), "m/versions"), store.ErrNotFound)
	if _, err := s.Get(ctx, store.ModelKey("p", "m")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateFresh in a missing project kept its object: %v", err)
	}
	mustNil(t, s.Create(ctx, obj(store.KindProject, "", "", "p", `{}`)))
	for range 2 {
		_, err := s.NextSequence(ctx, "m/versions")
		mustNil(t, err)
	}
	m := obj(store.KindModel, "p", "", "m", `{}`)
	mustNil(t, s.CreateFresh(ctx, m, "m/versions"))
	if m.Generation != 1 || m.CreatedAt.IsZero() {
		t.Fatalf("CreateFresh returned %+v", m)
	}
	if got, _ := s.NextSequence(ctx, "m/versions"); got != 1 {
		t.Fatalf("after CreateFresh NextSequence = %d, want 1", got)
	}
	// Taken: nothing changes, the count stays.
	mustIs(t, s.CreateFresh(ctx, obj(store.KindModel, "p", "", "m", `{}`), "m/versions"), store.ErrExists)
	if got, _ := s.NextSequence(ctx, "m/versions"); got != 2 {
		t.Fatalf("after a failed CreateFresh NextSequence = %d, want 2", got)
	}
	// In a transaction, it rolls back with it.
	boom := errors.New("boom")
	mustIs(t, s.InTx(ctx, func(tx store.Store) error {
		mustNil(t, tx.CreateFresh(ctx, obj(store.KindModel, "p", "", "n", `{}`), "m/versions"))
		return boom
	}), boom)
	if got, _ := s.NextSequence(ctx, "m/versions"); got != 3 {
		t.Fatalf("after a rolled back CreateFresh NextSequence = %d, want 3", got)
	}
	if _, err := s.Get(ctx, store.ModelKey("p", "n")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled back CreateFresh kept its object: %v", err)
	}
}

// testCreateNumbered: objects numbered by a sequence, the audit's and any other.
func testCreateNumbered(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, scope := range []string{store.AuditScope, "runs/p/train"} {
		var last int64
		for range 3 {
			a, b := obj(store.KindAudit, "", fmt.Sprint(i), "", `{"a":1}`), obj(store.KindAudit, "", fmt.Sprint(i, "p"), "", `{"a":1}`)
			n, err := s.CreateNumbered(ctx, scope, a, b)
			mustNil(t, err)
			if n <= last {
				t.Fatalf("%s: CreateNumbered = %d after %d", scope, n, last)
			}
			last = n
			for _, o := range []*store.Object{a, b} {
				if o.Name != fmt.Sprint(n) || o.Ordinal != n || o.Generation != 1 {
					t.Fatalf("%s: returned %+v, want number %d", scope, o, n)
				}
				got, err := s.Get(ctx, o.Key)
				mustNil(t, err)
				if got.Ordinal != n || string(got.Data) != `{"a":1}` || !got.CreatedAt.Equal(o.CreatedAt) {
					t.Fatalf("%s: stored %+v", scope, got)
				}
			}
		}
		if got, _ := s.NextSequence(ctx, scope); got <= last {
			t.Fatalf("%s: NextSequence after CreateNumbered = %d, want more than %d", scope, got, last)
		}
	}
	// All or none: a taken key fails the whole create.
	taken := obj(store.KindAudit, "", "q", "", `{}`)
	n, err := s.CreateNumbered(ctx, "numbers", taken)
	mustNil(t, err)
	mustNil(t, s.ResetSequence(ctx, "numbers"))
	other := obj(store.KindAudit, "", "r", "", `{}`)
	_, err = s.CreateNumbered(ctx, "numbers", other, obj(store.KindAudit, "", "q", "", `{}`))
	mustIs(t, err, store.ErrExists)
	if _, err := s.Get(ctx, store.Key{Kind: store.KindAudit, Parent: "r", Name: fmt.Sprint(n)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other object of a failed CreateNumbered was kept: %v", err)
	}
}

func testSequenceRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers, each = 8, 10
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v, err := s.NextSequence(ctx, "race")
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if seen[v] {
					errs <- fmt.Errorf("value %d handed out twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != workers*each {
		t.Fatalf("%d distinct values, want %d", len(seen), workers*each)
	}
}

func testTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Store) error {
		mustNil(t, tx.Create(ctx, obj(store.KindModel, "p", "", "rolled-back", `{}`)))
		return boom
	})
	mustIs(t, err, boom)
	_, err = s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "rolled-back"})
	mustIs(t, err, store.ErrNotFound)

	mustNil(t, s.InTx(ctx, func(tx store.Store) error {
		if err := tx.Create(ctx, obj(store.KindModel, "p", "", "a", `{}`)); err != nil {
			return err
		}
		// Nested InTx joins the outer transaction.
		return tx.InTx(ctx, func(tx2 store.Store) error {
			return tx2.Create(ctx, obj(store.KindModel, "p", "", "b", `{}`))
		})
	}))
	for _, n := range []string{"a", "b"} {
		_, err := s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: n})
		mustNil(t, err)
	}
}

// testUpdateRace: of concurrent writers holding the same generation, exactly one wins.
func testUpdateRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := obj(store.KindModel, "p", "", "m", `{"w":-1}`)
	mustNil(t, s.Create(ctx, o))
	const writers = 6
	var wg sync.WaitGroup
	results := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := obj(store.KindModel, "p", "", "m", fmt.Sprintf(`{"w":%d}`, w))
			results <- s.Update(ctx, mine, 1)
		}(w)
	}
	wg.Wait()
	close(results)
	wins, stale := 0, 0
	for err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrStale):
			stale++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 || stale != writers-1 {
		t.Fatalf("wins=%d stale=%d; want exactly one winner", wins, stale)
	}
	got, _ := s.Get(ctx, o.Key)
	if got.Generation != 2 {
		t.Fatalf("generation = %d, want 2", got.Generation)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := &store.Token{ID: "t1", Hash: "h1", Role: "editor", Project: "p", Description: "ci"}
	mustNil(t, s.CreateToken(ctx, tok))
	got, err := s.TokenByHash(ctx, "h1")
	mustNil(t, err)
	if got.ID != "t1" || got.Role != "editor" || got.Project != "p" || got.Description != "ci" || got.CreatedAt.IsZero() {
		t.Fatalf("TokenByHash = %+v", got)
	}
	_, err = s.TokenByHash(ctx, "nope")
	mustIs(t, err, store.ErrNotFound)
	byID, err := s.TokenByID(ctx, "t1")
	mustNil(t, err)
	if *byID != *got {
		t.Fatalf("TokenByID = %+v, want %+v", byID, got)
	}
	_, err = s.TokenByID(ctx, "nope")
	mustIs(t, err, store.ErrNotFound)
	mustIs(t, s.CreateToken(ctx, &store.Token{ID: "t2", Hash: "h1", Role: "viewer"}), store.ErrExists)
	mustNil(t, s.CreateToken(ctx, &store.Token{ID: "t2", Hash: "h2", Role: "viewer"}))
	all, err := s.ListTokens(ctx)
	mustNil(t, err)
	if len(all) != 2 {
		t.Fatalf("ListTokens = %d tokens, want 2", len(all))
	}
	mustNil(t, s.DeleteToken(ctx, "t1"))
	mustIs(t, s.DeleteToken(ctx, "t1"), store.ErrNotFound)
	_, err = s.TokenByHash(ctx, "h1")
	mustIs(t, err, store.ErrNotFound)
	_, err = s.TokenByID(ctx, "t1")
	mustIs(t, err, store.ErrNotFound)
}

// idem records a 201 whose body is what the request did.
func idem(body string) *store.IdempotentResponse {
	return &store.IdempotentResponse{RequestHash: "h", Status: 201, Header: []byte(`{"ETag":["\"1\""]}`), Body: []byte(body)}
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := context.Background()
	calls := 0
	create := func(name string) func(context.Context) *store.IdempotentResponse {
		return func(ctx context.Context) *store.IdempotentResponse {
			calls++
			mustNil(t, s.Create(ctx, obj(store.KindModel, "p", "", name, `{}`)))
			return idem(name)
		}
	}
	prior, err := s.Idempotent(ctx, "tok", "k1", "h", create("a"))
	mustNil(t, err)
	if prior != nil || calls != 1 {
		t.Fatalf("first request: prior=%+v calls=%d", prior, calls)
	}
	_, err = s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "a"})
	mustNil(t, err)
	// A retry gets the recorded response and runs nothing.
	prior, err = s.Idempotent(ctx, "tok", "k1", "h", create("a"))
	mustNil(t, err)
	if calls != 1 || prior == nil || prior.Status != 201 || string(prior.Body) != "a" || prior.RequestHash != "h" || string(prior.Header) != `{"ETag":["\"1\""]}` {
		t.Fatalf("retry: calls=%d prior=%+v", calls, prior)
	}
	// The same key under another scope (token) is another request.
	prior, err = s.Idempotent(ctx, "other", "k1", "h", create("b"))
	mustNil(t, err)
	if prior != nil || calls != 2 {
		t.Fatal("keys must be scoped")
	}
	// A response not recorded (a server error) rolls the request's writes back; a retry runs again.
	prior, err = s.Idempotent(ctx, "tok", "k2", "h", func(ctx context.Context) *store.IdempotentResponse {
		mustNil(t, s.Create(ctx, obj(store.KindModel, "p", "", "failed", `{}`)))
		return nil
	})
	mustNil(t, err)
	if prior != nil {
		t.Fatalf("unrecorded request: prior=%+v", prior)
	}
	_, err = s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "failed"})
	mustIs(t, err, store.ErrNotFound)
	prior, _ = s.Idempotent(ctx, "tok", "k2", "h", create("c"))
	if prior != nil || calls != 3 {
		t.Fatal("a key whose response was not recorded must run again")
	}
	mustNil(t, s.PurgeIdempotent(ctx, time.Now().Add(time.Hour)))
	prior, _ = s.Idempotent(ctx, "tok", "k1", "h", create("d"))
	if prior != nil || calls != 4 {
		t.Fatal("a purged key must run again")
	}
}

// testIdempotencyCrash: a request cut short after its writes (here by a
// panic; a SIGKILL ends the transaction the same way) leaves no write and no
// claim behind, so the retry runs afresh and numbers its object 1, not 2.
func testIdempotencyCrash(t *testing.T, s store.Store) {
	ctx := context.Background()
	register := func(crash bool) func(context.Context) *store.IdempotentResponse {
		return func(ctx context.Context) *store.IdempotentResponse {
			var n int64
			mustNil(t, s.InTx(ctx, func(tx store.Store) error {
				var err error
				if n, err = tx.NextSequence(ctx, "versions"); err != nil {
					return err
				}
				return tx.Create(ctx, &store.Object{Key: store.Key{Kind: store.KindModelVersion, Project: "p", Parent: "m", Name: fmt.Sprint(n)}, Ordinal: n, Data: []byte(`{}`)})
			}))
			if crash {
				panic("killed")
			}
			return idem(fmt.Sprint(n))
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		_, _ = s.Idempotent(ctx, "tok", "k", "h", register(true))
	}()
	objs, _, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m"})
	mustNil(t, err)
	if len(objs) != 0 {
		t.Fatalf("the crashed request left %d versions", len(objs))
	}
	prior, err := s.Idempotent(ctx, "tok", "k", "h", register(false))
	mustNil(t, err)
	if prior != nil {
		t.Fatalf("the retry after the crash was answered %+v instead of running", prior)
	}
	prior, err = s.Idempotent(ctx, "tok", "k", "h", register(false))
	mustNil(t, err)
	if prior == nil || string(prior.Body) != "1" {
		t.Fatalf("second retry = %+v, want the recorded version 1", prior)
	}
	objs, _, _ = s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m"})
	if len(objs) != 1 || objs[0].Name != "1" {
		t.Fatalf("versions = %s, want just 1", names(objs))
	}
}

// testIdempotencyRequestTx: within a request, a failed call (a duplicate
// create, a failed InTx) undoes only its own writes and the request goes on
// in the same transaction, reading what it wrote.
func testIdempotencyRequestTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustNil(t, s.Create(ctx, obj(store.KindModel, "p", "", "taken", `{}`)))
	boom := errors.New("boom")
	prior, err := s.Idempotent(ctx, "tok", "k", "h", func(ctx context.Context) *store.IdempotentResponse {
		// A read before any write, then a write read back before the commit.
		_, err := s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "taken"})
		mustNil(t, err)
		mustNil(t, s.Create(ctx, obj(store.KindModel, "p", "", "kept", `{}`)))
		_, err = s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "kept"})
		mustNil(t, err)
		mustIs(t, s.Create(ctx, obj(store.KindModel, "p", "", "taken", `{}`)), store.ErrExists)
		mustIs(t, s.InTx(ctx, func(tx store.Store) error {
			mustNil(t, tx.Create(ctx, obj(store.KindModel, "p", "", "undone", `{}`)))
			return boom
		}), boom)
		mustIs(t, s.Update(ctx, obj(store.KindModel, "p", "", "kept", `{"v":2}`), 7), store.ErrStale)
		mustNil(t, s.Update(ctx, obj(store.KindModel, "p", "", "kept", `{"v":2}`), 1))
		return &store.IdempotentResponse{RequestHash: "h", Status: 409, Body: []byte("conflict")}
	})
	mustNil(t, err)
	if prior != nil {
		t.Fatalf("prior = %+v", prior)
	}
	kept, err := s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "kept"})
	mustNil(t, err)
	if kept.Generation != 2 || string(kept.Data) != `{"v":2}` {
		t.Fatalf("kept = generation %d %s", kept.Generation, kept.Data)
	}
	_, err = s.Get(ctx, store.Key{Kind: store.KindModel, Project: "p", Name: "undone"})
	mustIs(t, err, store.ErrNotFound)
	prior, _ = s.Idempotent(ctx, "tok", "k", "h", func(context.Context) *store.IdempotentResponse {
		t.Fatal("a recorded 409 must be replayed")
		return nil
	})
	if prior == nil || prior.Status != 409 {
		t.Fatalf("replay = %+v", prior)
	}
	// Outside the request, nothing joins a transaction.
	mustNil(t, s.Create(ctx, obj(store.KindModel, "p", "", "after", `{}`)))
}

// testIdempotencyRace: concurrent requests with one key, each registering a
// numbered object: exactly one is recorded and keeps its object; the others'
// writes are rolled back and they get its response.
func testIdempotencyRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	type result struct {
		own   string // the body this request would have recorded
		prior *store.IdempotentResponse
		err   error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res result
			res.prior, res.err = s.Idempotent(ctx, "tok", "same", "h", func(ctx context.Context) *store.IdempotentResponse {
				v, err := s.NextSequence(ctx, "versions")
				if err != nil {
					t.Errorf("NextSequence: %v", err)
					return nil
				}
				res.own = fmt.Sprint(v)
				if err := s.Create(ctx, &store.Object{Key: store.Key{Kind: store.KindModelVersion, Project: "p", Parent: "m", Name: res.own}, Ordinal: v, Data: []byte(`{}`)}); err != nil {
					t.Errorf("Create: %v", err)
					return nil
				}
				return idem(res.own)
			})
			results <- res
		}()
	}
	wg.Wait()
	close(results)
	won, winner := 0, ""
	var replayed []string
	for r := range results {
		mustNil(t, r.err)
		if r.prior == nil {
			won++
			winner = r.own
		} else {
			replayed = append(replayed, string(r.prior.Body))
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent requests with one key were recorded, want 1", won)
	}
	for _, b := range replayed {
		if b != winner {
			t.Fatalf("a concurrent request got %q, want the recorded %q", b, winner)
		}
	}
	objs, _, err := s.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: "p", Parent: "m"})
	mustNil(t, err)
	if len(objs) != 1 || objs[0].Name != winner {
		t.Fatalf("objects = %s, want just %s", names(objs), winner)
	}
}
