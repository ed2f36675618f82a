package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// BenchmarkAPI measures the API over HTTP on each database: for every
// operation and concurrency (1, 8, 32 clients, each a goroutine with its own
// keep-alive connection) it sends requests for MLOPS_BENCH_API_MS
// milliseconds (default 2000) after a warm-up of a tenth of that, and
// reports req/s, p50-ms and p99-ms (latency the client saw) and cpu-µs/op
// (CPU time of this process per request: client, server and, for SQLite,
// the database; PostgreSQL's own processes are not counted); ns/op is the
// mean time per request.
//
// Operations:
//   - create: POST …/models with an Idempotency-Key, as the provider sends it.
//     The server checks the project, claims the key, creates the model, writes
//     the audit record and records the response for replays.
//   - get: GET …/models/{name} of a random one of MLOPS_BENCH_API_MODELS
//     (default 1000) models seeded before, each with two versions and an
//     alias (the answer must show them).
//   - list: GET …/models, the default page (100 models, each with its latest
//     version and aliases).
//   - floor-insert: the floor for writes, measured on the same database and
//     table: one raw single-row INSERT into objects per operation, committed
//     on its own (database/sql on the store's pool, no HTTP).
//   - floor-select: the floor for get: one raw SELECT of a model's row by
//     primary key, as the store's Get does.
//   - floor-page: the floor for list: one raw SELECT of the first 100 models'
//     rows in the order a list returns them.
//
// Before each measurement the benchmark vacuums and analyzes the tables
// (see settle). Client, server and database share the machine's CPUs.
func BenchmarkAPI(b *testing.B) {
	for _, db := range databases {
		b.Run(db.name, func(b *testing.B) {
			inst := startServer(b, db.url(b))
			models := benchEnv(b, "MLOPS_BENCH_API_MODELS", 1000)
			seedModels(b, inst.store, models)
			a := &apiBench{inst: inst, models: models}
			for _, op := range []struct {
				name string
				do   func(c *http.Client, r *rand.Rand) error
			}{
				{"floor-insert", a.floorInsert},
				{"floor-select", a.floorSelect},
				{"floor-page", a.floorPage},
				{"create", a.create},
				{"get", a.get},
				{"list", a.list},
			} {
				b.Run(op.name, func(b *testing.B) {
					for _, c := range []int{1, 8, 32} {
						b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
							a.settle(b)
							before := inst.store.DB().Stats().MaxIdleClosed
							measure(b, c, op.do)
							if churn := inst.store.DB().Stats().MaxIdleClosed - before; churn > 0 {
								b.Logf("the pool closed %d connections as idle and opened new ones", churn)
							}
						})
					}
				})
			}
		})
	}
}

type apiBench struct {
	inst   *instance
	models int
	seq    atomic.Int64 // numbers the objects the benchmark creates
}

// settle vacuums and analyzes the tables the operations use, as
// autovacuum would between bursts of writes (some PostgreSQL servers, this
// machine's among them, run without it). Left unanalyzed, the tables grew
// under the planner's feet: after a create run the next get's rate fell by
// half or more, from plans made for an empty table.
func (a *apiBench) settle(b *testing.B) {
	q := `ANALYZE`
	if a.postgres() {
		q = `VACUUM (ANALYZE) objects, idempotency, sequences`
	}
	if _, err := a.inst.store.DB().ExecContext(context.Background(), q); err != nil {
		b.Fatalf("%s: %v", q, err)
	}
}

// postgres says whether the store takes $n placeholders.
func (a *apiBench) postgres() bool { return a.inst.store.Dialect() == "postgres" }

func (a *apiBench) floorInsert(_ *http.Client, _ *rand.Rand) error {
	q := `INSERT INTO objects (kind, project, parent, name, ordinal, generation, data, created_at, updated_at) VALUES (?, ?, '', ?, 0, 1, ?, ?, ?)`
	if a.postgres() {
		q = `INSERT INTO objects (kind, project, parent, name, ordinal, generation, data, created_at, updated_at) VALUES ($1, $2, '', $3, 0, 1, $4, $5, $6)`
	}
	name := fmt.Sprintf("f-%08d", a.seq.Add(1))
	now := time.Now().UnixMicro()
	_, err := a.inst.store.DB().ExecContext(context.Background(), q, "bench_floor", benchProject, name, floorData, now, now)
	return err
}

// floorData is what a model's row holds: its JSON.
var floorData, _ = json.Marshal(api.Model{Project: benchProject, Name: "f-00000000", ModelSpec: benchSpec()})

func (a *apiBench) floorSelect(_ *http.Client, r *rand.Rand) error {
	q := `SELECT kind, project, parent, name, ordinal, generation, data, created_at, updated_at FROM objects WHERE kind = ? AND project = ? AND parent = ? AND name = ?`
	if a.postgres() {
		q = `SELECT kind, project, parent, name, ordinal, generation, data, created_at, updated_at FROM objects WHERE kind = $1 AND project = $2 AND parent = $3 AND name = $4`
	}
	var kind, project, parent, name string
	var ordinal, generation, created, updated int64
	var data []byte
	return a.inst.store.DB().QueryRowContext(context.Background(), q, string(store.KindModel), benchProject, "", seedName(r.IntN(a.models))).
		Scan(&kind, &project, &parent, &name, &ordinal, &generation, &data, &created, &updated)
}

func (a *apiBench) floorPage(_ *http.Client, _ *rand.Rand) error {
	q := `SELECT kind, project, parent, name, ordinal, generation, data, created_at, updated_at FROM objects
		WHERE kind = ? AND project = ? AND parent = ? ORDER BY ordinal, name LIMIT 100`
	if a.postgres() {
		q = `SELECT kind, project, parent, name, ordinal, generation, data, created_at, updated_at FROM objects
		WHERE kind = $1 AND project = $2 AND parent = $3 ORDER BY ordinal, name LIMIT 100`
	}
	rows, err := a.inst.store.DB().QueryContext(context.Background(), q, string(store.KindModel), benchProject, "")
	if err != nil {
		return err
	}
	defer rows.Close()
	var kind, project, parent, name string
	var ordinal, generation, created, updated int64
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&kind, &project, &parent, &name, &ordinal, &generation, &data, &created, &updated); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (a *apiBench) create(c *http.Client, _ *rand.Rand) error {
	body, _ := json.Marshal(api.CreateModelRequest{Name: fmt.Sprintf("b-%08d", a.seq.Add(1)), ModelSpec: benchSpec()})
	req, _ := http.NewRequest(http.MethodPost, a.inst.url+"/v1/projects/"+benchProject+"/models", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var key [16]byte
	_, _ = crand.Read(key[:])
	req.Header.Set("Idempotency-Key", hex.EncodeToString(key[:]))
	return a.do(c, req, http.StatusCreated)
}

func (a *apiBench) get(c *http.Client, r *rand.Rand) error {
	req, _ := http.NewRequest(http.MethodGet, a.inst.url+"/v1/projects/"+benchProject+"/models/"+seedName(r.IntN(a.models)), nil)
	body, err := a.send(c, req, http.StatusOK)
	if err == nil && !bytes.Contains(body, seededFamily) {
		err = fmt.Errorf("GET %s: no %s in %s", req.URL.Path, seededFamily, body)
	}
	return err
}

// seededFamily is what every seeded model's answer holds: its versions and alias.
var seededFamily = []byte(`"latest_version":2,"aliases":{"champion":2}`)

func (a *apiBench) list(c *http.Client, _ *rand.Rand) error {
	req, _ := http.NewRequest(http.MethodGet, a.inst.url+"/v1/projects/"+benchProject+"/models", nil)
	return a.do(c, req, http.StatusOK)
}

// do sends an authenticated request and reads the whole answer.
func (a *apiBench) do(c *http.Client, req *http.Request, want int) error {
	_, err := a.send(c, req, want)
	return err
}

// send is do returning the answer's body.
func (a *apiBench) send(c *http.Client, req *http.Request, want int) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+a.inst.token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, body)
	}
	return body, nil
}

// httpClient keeps one idle connection per worker.
func httpClient(c int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * c, MaxIdleConnsPerHost: 2 * c}}
}

// measure runs op from c workers and reports throughput and latency.
func measure(b *testing.B, c int, op func(*http.Client, *rand.Rand) error) {
	d := time.Duration(benchEnv(b, "MLOPS_BENCH_API_MS", 2000)) * time.Millisecond
	client := httpClient(c)
	defer client.CloseIdleConnections()
	drive(b, client, c, d/10, op) // warm-up: connections, statement caches
	var lat []time.Duration
	var elapsed time.Duration
	cpu := selfCPU()
	b.ResetTimer()
	for range b.N {
		l, e := drive(b, client, c, d, op)
		lat, elapsed = append(lat, l...), elapsed+e
	}
	b.StopTimer()
	cpu = selfCPU() - cpu
	if len(lat) == 0 {
		b.Fatal("no request finished")
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(elapsed)/float64(len(lat)), "ns/op")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(lat[(len(lat)-1)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99+99)/100-1]), "p99-ms")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(len(lat)), "cpu-µs/op")
}

// drive calls op from exactly c goroutines until d has passed, and returns
// every call's latency and the time until the last call returned.
func drive(b *testing.B, client *http.Client, c int, d time.Duration, op func(*http.Client, *rand.Rand) error) ([]time.Duration, time.Duration) {
	var (
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range c {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			lat := make([]time.Duration, 0, 1024)
			for !failed.Load() {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if err := op(client, r); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return all, time.Since(start)
}
