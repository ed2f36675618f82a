package predlog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store/storetest"
)

func TestRows(t *testing.T) {
	cases := map[string]int{
		`{"instances":[{"a":1},{"a":2},"x"]}`: 2,
		`[{"a":1},{"b":"x"}]`:                 2,
		`{"a":1}`:                             1,
		`"text"`:                              0,
		`not json`:                            0,
		`{"instances":"nope"}`:                1, // one object with a key named instances
	}
	for body, want := range cases {
		if got := len(Rows([]byte(body))); got != want {
			t.Errorf("%s: %d rows, want %d", body, got, want)
		}
	}
}

func TestColumnsFromRows(t *testing.T) {
	cols := toColumns([]map[string]any{
		{"age": 31.0, "plan": "pro", "vip": true},
		{"age": 45.0, "plan": nil},
		{"plan": "basic", "nested": map[string]any{"x": 1}},
	})
	byName := map[string]int{}
	for i, c := range cols {
		byName[c.Name] = i
	}
	age, plan, vip := cols[byName["age"]], cols[byName["plan"]], cols[byName["vip"]]
	if !age.Numeric || len(age.Numbers) != 2 || age.Missing != 1 {
		t.Errorf("age: %+v", age)
	}
	if plan.Numeric || plan.Counts["pro"] != 1 || plan.Counts["basic"] != 1 || plan.Missing != 1 {
		t.Errorf("plan: %+v", plan)
	}
	if vip.Counts["true"] != 1 || vip.Missing != 2 {
		t.Errorf("vip: %+v", vip)
	}
	if n := cols[byName["nested"]]; n.Missing != 3 {
		t.Errorf("nested values are not features: %+v", n)
	}
}

func TestRecordKeepsTheNewestEntries(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	d := api.Deployment{Project: "default", Name: "d", DeploymentSpec: api.DeploymentSpec{
		Model: "m", Version: 1, PredictionLogging: &api.PredictionLogging{SampleRate: 1, MaxEntries: 5},
	}}
	raw := []byte(fmt.Sprintf(`{"project":"default","name":"d","model":"m","version":1,"prediction_logging":{"sample_rate":1,"max_entries":%d}}`, d.PredictionLogging.MaxEntries))
	if err := st.Create(ctx, &store.Object{Key: store.DeploymentKey("default", "d"), Data: raw}); err != nil {
		t.Fatal(err)
	}
	l := New(st, nil)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go l.Run(runCtx)
	for i := range 12 {
		l.Record("default/d", 1, []byte(fmt.Sprintf(`{"instances":[{"i":%d}]}`, i)))
	}
	l.Record("default/gone", 1, []byte(`{"i":1}`)) // an unknown deployment logs nothing
	var cols []float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		vals, rows, err := Columns(ctx, st, "default", "d", 100)
		if err != nil {
			t.Fatal(err)
		}
		if rows == 5 && len(vals) == 1 && len(vals[0].Numbers) == 5 && vals[0].Numbers[0] == 11 {
			cols = vals[0].Numbers
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows %d: %+v", rows, vals)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fmt.Sprint(cols) != "[11 10 9 8 7]" {
		t.Fatalf("newest first, five kept: %v", cols)
	}
	if vals, rows, _ := Columns(ctx, st, "default", "d", 2); rows != 2 || len(vals[0].Numbers) != 2 {
		t.Fatalf("window of 2: %d rows", rows)
	}
	if objs, _, _ := st.List(ctx, store.ListQuery{Kind: store.KindPredictionLog, Project: "default", Parent: "gone"}); len(objs) != 0 {
		t.Fatalf("logged for a deployment that does not exist: %d", len(objs))
	}
}
