package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// wire counts every HTTP exchange of a workload's clients, below the client's
// own logic, so that no 5xx goes unseen.
type wire struct {
	base        http.RoundTripper
	requests    atomic.Int64
	byStatus    sync.Map // int → *atomic.Int64
	transport   atomic.Int64
	noRetryHint atomic.Int64 // 503 without Retry-After
	slowest     atomic.Int64 // nanoseconds
	mu          sync.Mutex
	examples    []string // requests answered 503 without Retry-After
	// since, when set, makes slowestSince track only requests started after it.
	since        atomic.Int64
	slowestSince atomic.Int64
}

func newWire() *wire {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &wire{base: tr}
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := w.base.RoundTrip(req)
	d := int64(time.Since(start))
	w.requests.Add(1)
	maxInt64(&w.slowest, d)
	if s := w.since.Load(); s != 0 && start.UnixNano() >= s {
		maxInt64(&w.slowestSince, d)
	}
	if err != nil {
		if req.Context().Err() == nil { // not the workload's own end
			w.transport.Add(1)
		}
		return nil, err
	}
	c, _ := w.byStatus.LoadOrStore(resp.StatusCode, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		if w.noRetryHint.Add(1) <= 3 {
			w.mu.Lock()
			w.examples = append(w.examples, req.Method+" "+req.URL.Path)
			w.mu.Unlock()
		}
	}
	return resp, nil
}

func maxInt64(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func (w *wire) status(code int) int64 {
	if c, ok := w.byStatus.Load(code); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// count5xx sums the 5xx answers other than except.
func (w *wire) count5xx(except int) int64 {
	var n int64
	w.byStatus.Range(func(k, v any) bool {
		if code := k.(int); code >= 500 && code != except {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

// tracked is what a client last got acknowledged for a pipeline.
type tracked struct {
	gen   int64
	desc  string
	epoch string
}

// workload is N clients mixing creates, If-Match updates, reads and lists of
// pipelines against one server, remembering every acknowledged write so that
// verify can read each back. Each client owns the pipelines it creates (so an
// update of its own must never meet a 412, and a read must return exactly the
// last write); a few hot pipelines are updated by all of them with If-Match.
type workload struct {
	srv     *server
	clients int
	// tolerant makes 503s and transport errors expected (outage, shutdown):
	// such a write's outcome is unknown, and verify accepts either result.
	tolerant bool
	wire     *wire
	lat      latencies
	v        *violations

	mu        sync.Mutex
	owned     map[string]*tracked  // acknowledged state
	unsure    map[string][]tracked // writes with a lost answer: any of these, or owned, may be current
	maybe     map[string]bool      // creates with a lost answer: may or may not exist
	hotAcked  map[string]int       // acknowledged updates per hot pipeline
	hotUnsure map[string]int       // hot updates with a lost answer
	hotLast   map[string]tracked   // the acknowledged update with the highest generation
	seq       []int                // per client: creates so far, so names stay unique across runs
	conflicts atomic.Int64         // 412s on hot pipelines (expected)
	failed    atomic.Int64         // tolerated failures (503 or transport)
	acked     atomic.Int64         // acknowledged writes
	firstOK   atomic.Int64         // unix nanos of the first acknowledged write after markRecovery
	recover   atomic.Int64
}

const hotPipelines = 4

// workloadName matches the pipelines a workload creates.
var workloadName = regexp.MustCompile(`^(c\d{2}-\d{5}|hot-\d+)$`)

func newWorkload(t *testing.T, srv *server, clients int, tolerant bool, v *violations) *workload {
	t.Helper()
	w := &workload{srv: srv, clients: clients, tolerant: tolerant, wire: newWire(), v: v,
		owned: map[string]*tracked{}, unsure: map[string][]tracked{}, maybe: map[string]bool{},
		hotAcked: map[string]int{}, hotUnsure: map[string]int{}, hotLast: map[string]tracked{}, seq: make([]int, clients)}
	c := srv.Client(t, 0, nil)
	for i := range hotPipelines {
		name := fmt.Sprintf("hot-%d", i)
		p, err := c.CreatePipeline(context.Background(), api.DefaultProject, api.CreatePipelineRequest{Name: name, PipelineSpec: spec("hot", "0")})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		w.hotLast[name] = tracked{gen: p.Generation, desc: "hot", epoch: "0"}
	}
	return w
}

func spec(desc, epoch string) api.PipelineSpec {
	return api.PipelineSpec{Description: desc, Parameters: map[string]string{"epoch": epoch},
		Steps: []api.Step{{Name: "fit", Command: []string{"true"}}}}
}

// run drives the clients until ctx ends.
func (w *workload) run(ctx context.Context, t *testing.T) {
	var wg sync.WaitGroup
	for i := range w.clients {
		c := w.srv.Client(t, -1, &http.Client{Transport: w.wire, Timeout: 30 * time.Second})
		wg.Go(func() { w.client(ctx, i, c) })
	}
	wg.Wait()
}

// markRecovery starts watching for the first acknowledged write from now on.
func (w *workload) markRecovery() { w.firstOK.Store(0); w.recover.Store(time.Now().UnixNano()) }

func (w *workload) ack() {
	w.acked.Add(1)
	if w.recover.Load() != 0 {
		w.firstOK.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// lost says whether err is an answer-less failure the workload tolerates; any
// other error is a violation.
func (w *workload) lost(op string, err error) bool {
	var apiErr *client.Error
	unavailable := errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusServiceUnavailable
	transport := !errors.As(err, &apiErr)
	if w.tolerant && (unavailable || transport) {
		w.failed.Add(1)
		time.Sleep(20 * time.Millisecond) // as a client backs off before trying again
		return true
	}
	w.v.add("%s: %v", op, err)
	return false
}

func (w *workload) client(ctx context.Context, id int, c *client.Client) {
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	var mine []string
	const p = api.DefaultProject
	for ctx.Err() == nil {
		op := rng.IntN(100)
		if len(mine) == 0 {
			op = 0
		}
		start := time.Now()
		switch {
		case op < 15: // create
			w.seq[id]++
			name := fmt.Sprintf("c%02d-%05d", id, w.seq[id])
			desc := fmt.Sprintf("%s created", name)
			got, err := c.CreatePipeline(ctx, p, api.CreatePipelineRequest{Name: name, PipelineSpec: spec(desc, "0")})
			if ctx.Err() != nil && err != nil {
				w.markMaybe(name)
				return
			}
			w.lat.add("create", time.Since(start))
			if err != nil {
				if w.lost("create "+name, err) {
					w.markMaybe(name)
				}
				continue
			}
			if got.Name != name || got.Description != desc || got.Generation != 1 {
				w.v.add("create %s answered %s gen %d %q", name, got.Name, got.Generation, got.Description)
			}
			w.mu.Lock()
			w.owned[name] = &tracked{gen: got.Generation, desc: desc, epoch: "0"}
			w.mu.Unlock()
			w.ack()
			mine = append(mine, name)
		case op < 45: // update an own pipeline with If-Match
			i := rng.IntN(len(mine))
			name := mine[i]
			w.mu.Lock()
			cur := *w.owned[name]
			w.mu.Unlock()
			next := tracked{gen: cur.gen + 1, desc: fmt.Sprintf("%s update %d", name, cur.gen), epoch: strconv.FormatInt(cur.gen, 10)}
			got, err := c.UpdatePipeline(ctx, p, name, spec(next.desc, next.epoch), cur.gen)
			if ctx.Err() != nil && err != nil {
				w.markUnsure(name, next)
				return
			}
			w.lat.add("update", time.Since(start))
			if err != nil {
				if w.lost("update "+name, err) {
					// Its outcome is unknown: stop touching it, verify accepts either.
					w.markUnsure(name, next)
					mine = append(mine[:i], mine[i+1:]...)
				}
				continue
			}
			if got.Generation != next.gen || got.Description != next.desc || got.Parameters["epoch"] != next.epoch {
				w.v.add("update %s at gen %d answered gen %d %q (want gen %d %q)", name, cur.gen, got.Generation, got.Description, next.gen, next.desc)
			}
			w.mu.Lock()
			w.owned[name] = &next
			w.mu.Unlock()
			w.ack()
		case op < 75: // read an own pipeline back
			name := mine[rng.IntN(len(mine))]
			got, err := c.GetPipeline(ctx, p, name)
			if ctx.Err() != nil && err != nil {
				return
			}
			w.lat.add("read", time.Since(start))
			if err != nil {
				w.lost("read "+name, err)
				continue
			}
			w.mu.Lock()
			cur := *w.owned[name]
			w.mu.Unlock()
			if got.Generation != cur.gen || got.Description != cur.desc || got.Parameters["epoch"] != cur.epoch {
				w.v.add("read %s: gen %d %q epoch %s, but the last acknowledged write was gen %d %q epoch %s",
					name, got.Generation, got.Description, got.Parameters["epoch"], cur.gen, cur.desc, cur.epoch)
			}
		case op < 85: // update a hot pipeline that every client writes
			name := fmt.Sprintf("hot-%d", rng.IntN(hotPipelines))
			cur, err := c.GetPipeline(ctx, p, name)
			if err == nil {
				desc := fmt.Sprintf("hot by c%02d at %d", id, cur.Generation)
				var got *api.Pipeline
				got, err = c.UpdatePipeline(ctx, p, name, spec(desc, "0"), cur.Generation)
				if err == nil {
					w.lat.add("update-hot", time.Since(start))
					w.mu.Lock()
					w.hotAcked[name]++
					if got.Generation > w.hotLast[name].gen {
						w.hotLast[name] = tracked{gen: got.Generation, desc: desc, epoch: "0"}
					}
					w.mu.Unlock()
					w.ack()
					continue
				}
				if errors.Is(err, client.ErrPreconditionFailed) {
					w.lat.add("update-hot", time.Since(start))
					w.conflicts.Add(1)
					continue
				}
				// Cut short by the end of the run, or answer-less: it may have been applied.
				if ctx.Err() != nil || w.lost("update "+name, err) {
					w.mu.Lock()
					w.hotUnsure[name]++
					w.mu.Unlock()
				}
				continue
			}
			if ctx.Err() == nil {
				w.lost("read "+name, err)
			}
		default: // list one page
			err := w.listPage(ctx)
			if ctx.Err() != nil {
				return
			}
			w.lat.add("list", time.Since(start))
			if err != nil {
				w.lost("list", err)
			}
		}
	}
}

func (w *workload) markMaybe(name string) {
	w.mu.Lock()
	w.maybe[name] = true
	w.mu.Unlock()
}

func (w *workload) markUnsure(name string, t tracked) {
	w.mu.Lock()
	w.unsure[name] = append(w.unsure[name], t)
	w.mu.Unlock()
}

// listPage reads the first page of pipelines (as a UI would) through the same
// counted transport.
func (w *workload) listPage(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.URL+"/v1/projects/default/pipelines?page_size=50", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.srv.Token)
	resp, err := (&http.Client{Transport: w.wire, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &client.Error{StatusCode: resp.StatusCode, Method: http.MethodGet, Path: req.URL.Path,
			Problem: api.Problem{Detail: string(body)}}
	}
	var page api.List[api.Pipeline]
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return fmt.Errorf("list: decoding: %w", err)
	}
	if len(page.Items) == 0 {
		return errors.New("list: an empty first page, but pipelines exist")
	}
	return nil
}

// verify reads every pipeline back and checks it against the acknowledged
// writes; it returns how many objects it checked.
func (w *workload) verify(t *testing.T) int {
	t.Helper()
	c := w.srv.Client(t, 0, nil)
	all, err := c.ListPipelines(context.Background(), api.DefaultProject)
	if err != nil {
		t.Fatalf("list pipelines to verify: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	onServer := map[string]api.Pipeline{}
	for _, p := range all {
		onServer[p.Name] = p
	}
	same := func(p api.Pipeline, want tracked) bool {
		return p.Generation == want.gen && p.Description == want.desc && p.Parameters["epoch"] == want.epoch
	}
	for name, want := range w.owned {
		got, ok := onServer[name]
		switch {
		case !ok:
			w.v.add("lost write: pipeline %s was acknowledged (gen %d) but is gone", name, want.gen)
		case same(got, *want):
		default:
			okUnsure := false
			for _, u := range w.unsure[name] {
				okUnsure = okUnsure || same(got, u)
			}
			if !okUnsure {
				w.v.add("lost or torn write: pipeline %s is gen %d %q epoch %s, the last acknowledged write was gen %d %q epoch %s",
					name, got.Generation, got.Description, got.Parameters["epoch"], want.gen, want.desc, want.epoch)
			}
		}
	}
	for name, last := range w.hotLast {
		got, ok := onServer[name]
		if !ok {
			w.v.add("hot pipeline %s is gone", name)
			continue
		}
		acked, unsure := int64(w.hotAcked[name]), int64(w.hotUnsure[name])
		// Every acknowledged update raised the generation by exactly one.
		if got.Generation-1 < acked || got.Generation-1 > acked+unsure {
			w.v.add("hot pipeline %s is at gen %d after %d acknowledged updates (+%d unknown): a write was lost or doubled",
				name, got.Generation, acked, unsure)
		}
		if got.Generation == last.gen && got.Description != last.desc {
			w.v.add("torn write: hot pipeline %s gen %d reads %q, acknowledged as %q", name, got.Generation, got.Description, last.desc)
		}
	}
	for name := range onServer {
		if !workloadName.MatchString(name) {
			continue // the scenario's own pipelines
		}
		_, owned := w.owned[name]
		_, hot := w.hotLast[name]
		if !owned && !hot && !w.maybe[name] {
			w.v.add("pipeline %s exists but no create of it was attempted without an answer or acknowledged", name)
		}
	}
	return len(all)
}
