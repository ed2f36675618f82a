package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// pages serves List from n named objects, a page at a time; the rest of
// the Store interface is not needed.
type pages struct {
	store.Store
	n     int
	calls int
}

func (p *pages) List(_ context.Context, q store.ListQuery) ([]*store.Object, string, error) {
	p.calls++
	start := 0
	if q.PageToken != "" {
		start, _ = strconv.Atoi(q.PageToken)
	}
	end := min(start+q.Limit, p.n)
	var out []*store.Object
	for i := start; i < end; i++ {
		out = append(out, &store.Object{Key: store.Key{Kind: q.Kind, Name: fmt.Sprint(i)}})
	}
	next := ""
	if end < p.n {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}

func TestEachVisitsEveryPageInOrder(t *testing.T) {
	p := &pages{n: 1234}
	var seen []string
	err := store.Each(context.Background(), p, store.ListQuery{Kind: store.KindDataset, Limit: 7}, func(o *store.Object) error {
		seen = append(seen, o.Name)
		return nil
	})
	if err != nil || len(seen) != 1234 || p.calls != 3 {
		t.Fatalf("visited %d objects in %d pages, err %v; want 1234 in 3 pages of 500", len(seen), p.calls, err)
	}
	for i, n := range seen {
		if n != fmt.Sprint(i) {
			t.Fatalf("object %d is %s: out of order", i, n)
		}
	}
	stop := errors.New("stop")
	n := 0
	err = store.Each(context.Background(), &pages{n: 1234}, store.ListQuery{}, func(*store.Object) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("after an error from fn: err %v, %d calls; want it returned at once", err, n)
	}
}
