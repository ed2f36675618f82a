package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// trafficRows reads features of a CSV file (the quickstart's churn.csv) as
// request rows: numbers become JSON numbers, anything else stays a string.
func trafficRows(path string, features []string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := make([]int, len(features))
	for i, name := range features {
		if col[i] = slices.Index(header, name); col[i] < 0 {
			return nil, fmt.Errorf("%s has no column %q", path, name)
		}
	}
	var rows []map[string]any
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := make(map[string]any, len(features))
		for i, name := range features {
			v := rec[col[i]]
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				row[name] = x
			} else {
				row[name] = v
			}
		}
		rows = append(rows, row)
	}
}

// driftedRows are n customers unlike churn.csv's: new (1-4 months), spending
// 160-260 a month (churn.csv tops out at 144), filing 5-9 tickets (it has at
// most 5), mostly on enterprise plans. Three of the monitor's four features
// leave the baseline's range, so it drifts even while older normal rows still
// fill most of its window.
func driftedRows(n int, seed uint64) []map[string]any {
	rng := rand.New(rand.NewPCG(seed, seed))
	plans := []string{"enterprise", "enterprise", "enterprise", "pro", "pro", "basic"}
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{
			"tenure_months":   float64(1 + rng.IntN(4)),
			"monthly_spend":   math.Round((160+100*rng.Float64())*100) / 100,
			"plan":            plans[rng.IntN(len(plans))],
			"support_tickets": float64(5 + rng.IntN(5)),
		}
	}
	return rows
}

// predictBody is a /predict request scoring rows as one batch.
func predictBody(rows []map[string]any) ([]byte, error) {
	return json.Marshal(map[string]any{"instances": rows})
}

// trafficCounts are what the generator saw over some span.
type trafficCounts struct {
	requests, errors int
	// byVersion counts answers by their X-Mlops-Version header.
	byVersion map[int64]int
	// churned of scored rows were predicted to churn.
	churned, scored int
	lastError       string
}

func (c *trafficCounts) add(version int64, churned, scored int, failure string) {
	c.requests++
	if failure != "" {
		c.errors++
		c.lastError = failure
		return
	}
	if c.byVersion == nil {
		c.byVersion = map[int64]int{}
	}
	c.byVersion[version]++
	c.churned += churned
	c.scored += scored
}

// versions lists the answers per version, oldest version first: "v1 362, v2 40".
func (c *trafficCounts) versions() string {
	vs := make([]int64, 0, len(c.byVersion))
	for v := range c.byVersion {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("v%d %d", v, c.byVersion[v])
	}
	return strings.Join(parts, ", ")
}

// traffic sends batches of rows to a deployment's /predict through the
// gateway: churn.csv's customers until drift is switched on, then customers
// unlike them. Every request carries all 120 rows of churn.csv, so whichever
// requests the gateway samples, the monitor sees the baseline's exact
// distribution and cannot drift by chance on normal traffic.
type traffic struct {
	url, token string
	hc         *http.Client
	normal     []byte
	drifted    []byte
	drift      atomic.Bool

	mu     sync.Mutex
	total  trafficCounts
	window trafficCounts // since the last report
	since  time.Time
}

func newTraffic(url, token string, normal, drifted []byte) *traffic {
	return &traffic{url: url, token: token, normal: normal, drifted: drifted,
		hc: &http.Client{Timeout: 10 * time.Second}, since: time.Now()}
}

// run sends about rate requests a second until ctx ends, from a few workers
// so that one slow answer does not stall the rest.
func (t *traffic) run(ctx context.Context, rate int) {
	const workers = 4
	every := time.Duration(workers) * time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					t.send(ctx)
				}
			}
		})
	}
	wg.Wait()
}

// send makes one request and counts its answer.
func (t *traffic) send(ctx context.Context) {
	body := t.normal
	if t.drift.Load() {
		body = t.drifted
	}
	version, churned, scored, err := t.predict(ctx, body)
	if ctx.Err() != nil {
		return // stopping: not the deployment's failure
	}
	failure := ""
	if err != nil {
		failure = err.Error()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total.add(version, churned, scored, failure)
	t.window.add(version, churned, scored, failure)
}

// predict posts body and returns the version that answered and how many of
// the scored rows it predicted to churn.
func (t *traffic) predict(ctx context.Context, body []byte) (version int64, churned, scored int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/predict", bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	version, _ = strconv.ParseInt(resp.Header.Get("X-Mlops-Version"), 10, 64)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return version, 0, 0, fmt.Errorf("%s, reading the answer of v%d: %w", resp.Status, version, err)
	}
	if resp.StatusCode != http.StatusOK {
		return version, 0, 0, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var out struct {
		Predictions []struct {
			Churned bool `json:"churned"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return version, 0, 0, fmt.Errorf("answer is not predictions: %w", err)
	}
	for _, p := range out.Predictions {
		if p.Churned {
			churned++
		}
	}
	return version, churned, len(out.Predictions), nil
}

// report says what was sent since the last report and starts a new window.
func (t *traffic) report() string {
	t.mu.Lock()
	w, since := t.window, t.since
	t.window, t.since = trafficCounts{}, time.Now()
	t.mu.Unlock()
	rows := "churn.csv's customers"
	if t.drift.Load() {
		rows = "drifted customers"
	}
	s := fmt.Sprintf("traffic: %d requests in %s", w.requests, formatDuration(time.Since(since)))
	if w.requests > w.errors {
		s += " (" + w.versions() + ")"
	}
	s += fmt.Sprintf(", %d errors; %s", w.errors, rows)
	if w.scored > 0 {
		s += fmt.Sprintf(", %.0f%% predicted to churn", 100*float64(w.churned)/float64(w.scored))
	}
	if w.lastError != "" {
		s += "; last error: " + w.lastError
	}
	return s
}

// totals is everything sent so far.
func (t *traffic) totals() trafficCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.total
	c.byVersion = make(map[int64]int, len(t.total.byVersion))
	for v, n := range t.total.byVersion {
		c.byVersion[v] = n
	}
	return c
}
