package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/server"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// countingStore counts the reads pages make.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, k store.Key) (*store.Object, error) {
	c.reads.Add(1)
	return c.Store.Get(ctx, k)
}

func (c *countingStore) List(ctx context.Context, q store.ListQuery) ([]*store.Object, string, error) {
	c.reads.Add(1)
	return c.Store.List(ctx, q)
}

func (c *countingStore) ListTokens(ctx context.Context) ([]*store.Token, error) {
	c.reads.Add(1)
	return c.Store.ListTokens(ctx)
}

func (c *countingStore) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	c.reads.Add(1)
	return c.Store.TokenByHash(ctx, hash)
}

// seedRuns gives pipeline name n finished runs in one transaction.
func seedRuns(t testing.TB, s *site, name string, n int) {
	t.Helper()
	s.put(store.PipelineKey("default", name), 0, api.Pipeline{Project: "default", Name: name, Revision: 1,
		PipelineSpec: api.PipelineSpec{Steps: trainSteps}})
	err := s.st.InTx(context.Background(), func(tx store.Store) error {
		for i := 1; i <= n; i++ {
			state := api.RunSucceeded
			if i%7 == 0 {
				state = api.RunFailed
			}
			r := s.run(name, int64(i), state, nil, s.t0.Add(time.Duration(i)*time.Minute))
			data, _ := json.Marshal(r)
			if err := tx.Create(context.Background(), &store.Object{Key: store.PipelineRunKey("default", name, int64(i)), Ordinal: int64(i), Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var (
	runLinkRE = regexp.MustCompile(`/runs/(\d+)">#`)
	olderRE   = regexp.MustCompile(`<a href="([^"]+)" rel="next">Older`)
)

// A pipeline with 1,000 runs renders its page in as many reads as one with
// 10: one page of runs, newest first, and a cursor to the next.
func TestPipelinePageWith1000RunsIsBounded(t *testing.T) {
	var cs *countingStore
	s := newSite(t, func(c *server.Config) { cs = &countingStore{Store: c.Store}; c.Store = cs })
	seedRuns(t, s, "small", 10)
	seedRuns(t, s, "big", 1000)
	b := s.browser()
	b.login(s.viewer)
	load := func(path string) (page, int64, time.Duration) {
		cs.reads.Store(0)
		start := time.Now()
		p := b.get(path).want(t, http.StatusOK)
		return p, cs.reads.Load(), time.Since(start)
	}

	_, small, _ := load("/ui/p/default/pipelines/small")
	big, reads, took := load("/ui/p/default/pipelines/big")
	t.Logf("pipeline page with 1,000 runs: %d store reads, %v", reads, took)
	if reads != small || reads > 4 {
		t.Fatalf("%d reads with 1,000 runs, %d with 10: want the same few (session, project, pipeline, one page of runs)", reads, small)
	}
	wantRuns(t, big, 1000, 951)

	m := olderRE.FindStringSubmatch(big.body)
	if m == nil {
		t.Fatal("no link to older runs")
	}
	older, reads, _ := load(html.UnescapeString(m[1]))
	if reads != small {
		t.Fatalf("second page: %d reads", reads)
	}
	wantRuns(t, older, 950, 901)
	older.want(t, http.StatusOK, "← Newest")

	// ?limit= asks for more per page, within a bound.
	wantRuns(t, b.get("/ui/p/default/pipelines/big?limit=500"), 1000, 801)
}

func wantRuns(t *testing.T, p page, first, last int) {
	t.Helper()
	ids := runLinkRE.FindAllStringSubmatch(p.body, -1)
	if len(ids) != first-last+1 || ids[0][1] != itoa(int64(first)) || ids[len(ids)-1][1] != itoa(int64(last)) {
		t.Fatalf("runs shown: %d from #%s to #%s, want #%d down to #%d", len(ids), ids[0][1], ids[len(ids)-1][1], first, last)
	}
}

func BenchmarkPipelinePage1000Runs(b *testing.B) {
	s := newSite(b)
	seedRuns(b, s, "big", 1000)
	br := s.browser()
	br.login(s.viewer)
	b.ResetTimer()
	for b.Loop() {
		if p := br.get("/ui/p/default/pipelines/big"); p.status != http.StatusOK {
			b.Fatal(p.status)
		}
	}
}
