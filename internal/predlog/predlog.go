// Package predlog keeps a sample of the requests a deployment's gateway
// served: the JSON rows of their bodies, per deployment, with bounded
// retention, so that a drift monitor can compare live traffic with its
// baseline. Recording never blocks a request: bodies queue in memory and
// one writer stores them; when the queue is full they are dropped and counted.
package predlog

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Defaults of a deployment's prediction logging.
const (
	DefaultMaxEntries = 10_000
	queueSize         = 1024
	// MaxRows bounds the rows one entry keeps (a huge batch is truncated).
	MaxRows = 1000
)

// Entry is one logged request.
type Entry struct {
	Version int64            `json:"version"`
	At      time.Time        `json:"at"`
	Rows    []map[string]any `json:"rows"`
}

type item struct {
	project, deployment string
	version             int64
	body                []byte
	at                  time.Time
}

// Log records request bodies into a store.
type Log struct {
	st      store.Store
	log     *slog.Logger
	queue   chan item
	dropped atomic.Int64
}

// New makes a Log; Run must be running for records to be stored.
func New(st store.Store, logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{st: st, log: logger, queue: make(chan item, queueSize)}
}

// Record queues one request body of deployment key ("project/name"); it never blocks.
func (l *Log) Record(key string, version int64, body []byte) {
	project, name, ok := strings.Cut(key, "/")
	if !ok {
		return
	}
	select {
	case l.queue <- item{project: project, deployment: name, version: version, body: append([]byte(nil), body...), at: time.Now().UTC()}:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many records found the queue full.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Run stores queued records until ctx ends.
func (l *Log) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-l.queue:
			if err := l.store(ctx, it); err != nil && ctx.Err() == nil {
				l.log.Warn("prediction log write failed", "deployment", it.project+"/"+it.deployment, "err", err)
			}
		}
	}
}

func (l *Log) store(ctx context.Context, it item) error {
	rows := Rows(it.body)
	if len(rows) == 0 {
		return nil // not JSON rows: nothing a monitor could read
	}
	return l.st.InTx(ctx, func(tx store.Store) error {
		o, err := tx.Get(ctx, store.DeploymentKey(it.project, it.deployment))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var d api.Deployment
		if err := json.Unmarshal(o.Data, &d); err != nil {
			return err
		}
		keep := DefaultMaxEntries
		if d.PredictionLogging != nil && d.PredictionLogging.MaxEntries > 0 {
			keep = d.PredictionLogging.MaxEntries
		}
		n, err := tx.NextSequence(ctx, scope(it.project, it.deployment))
		if err != nil {
			return err
		}
		raw, err := json.Marshal(Entry{Version: it.version, At: it.at, Rows: rows})
		if err != nil {
			return err
		}
		if err := tx.Create(ctx, &store.Object{Key: key(it.project, it.deployment, n), Ordinal: n, Data: raw}); err != nil {
			return err
		}
		// One in, one out: the entry that fell out of the retention window.
		if old := n - int64(keep); old > 0 {
			if err := tx.Delete(ctx, key(it.project, it.deployment, old), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

func key(project, deployment string, n int64) store.Key {
	return store.Key{Kind: store.KindPredictionLog, Project: project, Parent: deployment, Name: strconv.FormatInt(n, 10)}
}

func scope(project, deployment string) string { return "prediction_log/" + project + "/" + deployment }

// Rows reads the rows of a prediction request body: {"instances": [...]},
// a JSON array of objects, or one object. Anything else has none.
func Rows(body []byte) []map[string]any {
	var probe any
	if json.Unmarshal(body, &probe) != nil {
		return nil
	}
	var list []any
	switch v := probe.(type) {
	case map[string]any:
		if inst, ok := v["instances"].([]any); ok {
			list = inst
		} else {
			list = []any{v}
		}
	case []any:
		list = v
	}
	var rows []map[string]any
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			rows = append(rows, m)
			if len(rows) == MaxRows {
				break
			}
		}
	}
	return rows
}

// Delete drops a deployment's logged entries.
func Delete(ctx context.Context, tx store.Store, project, deployment string) error {
	return tx.DeleteChildren(ctx, store.KindPredictionLog, project, deployment)
}

// Columns reads the newest logged rows of a deployment (at most maxRows) as
// dataset columns: numbers are numeric, strings and booleans categorical, an
// absent key or null a missing value.
func Columns(ctx context.Context, st store.Store, project, deployment string, maxRows int) ([]dataset.Values, int64, error) {
	var rows []map[string]any
	token := ""
	for len(rows) < maxRows {
		objs, next, err := st.List(ctx, store.ListQuery{Kind: store.KindPredictionLog, Project: project, Parent: deployment, Desc: true, Limit: 500, PageToken: token})
		if err != nil {
			return nil, 0, err
		}
		for _, o := range objs {
			var e Entry
			if err := json.Unmarshal(o.Data, &e); err != nil {
				return nil, 0, err
			}
			rows = append(rows, e.Rows...)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(rows) > maxRows {
		rows = rows[:maxRows]
	}
	return toColumns(rows), int64(len(rows)), nil
}

func toColumns(rows []map[string]any) []dataset.Values {
	type col struct {
		nums    []float64
		counts  map[string]int64
		texts   int // non-numeric values seen
		present int64
	}
	cols := map[string]*col{}
	for _, r := range rows {
		for k, v := range r {
			c := cols[k]
			if c == nil {
				c = &col{counts: map[string]int64{}}
				cols[k] = c
			}
			switch x := v.(type) {
			case nil:
				continue
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					continue
				}
				c.nums = append(c.nums, x)
				c.counts[strconv.FormatFloat(x, 'g', -1, 64)]++
			case bool:
				c.counts[strconv.FormatBool(x)]++
				c.texts++
			case string:
				c.counts[x]++
				c.texts++
			default:
				continue // nested values are not features
			}
			c.present++
		}
	}
	names := make([]string, 0, len(cols))
	for k := range cols {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]dataset.Values, 0, len(names))
	for _, name := range names {
		c := cols[name]
		v := dataset.Values{Name: name, Missing: int64(len(rows)) - c.present}
		if c.texts == 0 && len(c.nums) > 0 {
			v.Type, v.Numeric, v.Numbers = "number", true, c.nums
		} else {
			v.Type, v.Counts = "string", c.counts
		}
		out = append(out, v)
	}
	return out
}
