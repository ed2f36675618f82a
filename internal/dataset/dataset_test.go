package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func digestOf(content string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(content)))
}

func inspect(t *testing.T, format, content string, schema []api.Column) (*Result, error) {
	t.Helper()
	return Inspect(context.Background(), writeFile(t, "data."+format, content), format, schema)
}

func mustInspect(t *testing.T, format, content string, schema []api.Column) *Result {
	t.Helper()
	res, err := inspect(t, format, content, schema)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if res.Digest != digestOf(content) {
		t.Errorf("Digest = %s, want %s", res.Digest, digestOf(content))
	}
	if res.SizeBytes != int64(len(content)) {
		t.Errorf("SizeBytes = %d, want %d", res.SizeBytes, len(content))
	}
	// The profile is served as JSON: it must always encode.
	if _, err := json.Marshal(res.Columns); err != nil {
		t.Errorf("profile does not encode as JSON: %v", err)
	}
	return res
}

func col(t *testing.T, res *Result, name string) api.ColumnProfile {
	t.Helper()
	for _, c := range res.Columns {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no column %q in %v", name, columnNames(res))
	return api.ColumnProfile{}
}

func columnNames(res *Result) []string {
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	return names
}

const tol = 1e-9

func near(a, b float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

type numericWant struct {
	typ                   string
	count, missing        int64
	min, max, mean, stdev float64
	deciles               []float64
	edges                 []float64
	counts                []int64
}

func checkNumeric(t *testing.T, p api.ColumnProfile, w numericWant) {
	t.Helper()
	if p.Kind != "numeric" || p.Type != w.typ {
		t.Fatalf("%s: kind/type = %s/%s, want numeric/%s", p.Name, p.Kind, p.Type, w.typ)
	}
	if p.Count != w.count || p.Missing != w.missing {
		t.Errorf("%s: count/missing = %d/%d, want %d/%d", p.Name, p.Count, p.Missing, w.count, w.missing)
	}
	if p.Min == nil || p.Max == nil || p.Mean == nil || p.Stddev == nil {
		t.Fatalf("%s: missing statistics: %+v", p.Name, p)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"min", *p.Min, w.min}, {"max", *p.Max, w.max}, {"mean", *p.Mean, w.mean}, {"stddev", *p.Stddev, w.stdev}} {
		if !near(c.got, c.want) {
			t.Errorf("%s: %s = %v, want %v", p.Name, c.name, c.got, c.want)
		}
	}
	if len(p.Quantiles) != len(w.deciles) {
		t.Fatalf("%s: quantiles = %v, want %v", p.Name, p.Quantiles, w.deciles)
	}
	for i := range w.deciles {
		if !near(p.Quantiles[i], w.deciles[i]) {
			t.Errorf("%s: quantile %d = %v, want %v", p.Name, i+1, p.Quantiles[i], w.deciles[i])
		}
	}
	h := p.Histogram
	if h == nil || len(h.Edges) != len(w.edges) || len(h.Counts) != len(w.counts) {
		t.Fatalf("%s: histogram = %+v, want edges %v counts %v", p.Name, h, w.edges, w.counts)
	}
	for i := range w.edges {
		if !near(h.Edges[i], w.edges[i]) {
			t.Errorf("%s: edge %d = %v, want %v", p.Name, i, h.Edges[i], w.edges[i])
		}
	}
	var sum int64
	for i := range w.counts {
		sum += h.Counts[i]
		if h.Counts[i] != w.counts[i] {
			t.Errorf("%s: histogram counts = %v, want %v", p.Name, h.Counts, w.counts)
			break
		}
	}
	if sum != p.Count {
		t.Errorf("%s: histogram counts sum to %d, want Count %d", p.Name, sum, p.Count)
	}
}

func checkCategorical(t *testing.T, p api.ColumnProfile, typ string, count, missing int64, cats map[string]int64, other int64) {
	t.Helper()
	if p.Kind != "categorical" || p.Type != typ {
		t.Fatalf("%s: kind/type = %s/%s, want categorical/%s", p.Name, p.Kind, p.Type, typ)
	}
	if p.Count != count || p.Missing != missing {
		t.Errorf("%s: count/missing = %d/%d, want %d/%d", p.Name, p.Count, p.Missing, count, missing)
	}
	if len(p.Categories) != len(cats) {
		t.Errorf("%s: categories = %v, want %v", p.Name, p.Categories, cats)
	}
	for k, n := range cats {
		if p.Categories[k] != n {
			t.Errorf("%s: categories[%q] = %d, want %d (all: %v)", p.Name, k, p.Categories[k], n, p.Categories)
		}
	}
	if p.OtherCount != other {
		t.Errorf("%s: other count = %d, want %d", p.Name, p.OtherCount, other)
	}
	if p.Min != nil || p.Histogram != nil || p.Quantiles != nil {
		t.Errorf("%s: categorical column has numeric statistics: %+v", p.Name, p)
	}
}

// The same ten rows as CSV and as JSON Lines. id is 1..10; score is
// 0,0,1,2,5,10 with four missing; name and active have missing values too.
const profileCSV = "id,score,name,active\r\n" +
	"1,0,alice,true\r\n" +
	"2,0.0,bob,false\r\n" +
	"3,1,alice,TRUE\r\n" +
	"4,2,,False\r\n" +
	"5,5.0,carol,\r\n" +
	"6,10,alice,true\r\n" +
	"7,,bob,false\r\n" +
	"8,,,true\r\n" +
	"9,,alice,\r\n" +
	"10,,,true\r\n"

const profileJSONL = `{"id":1,"score":0,"name":"alice","active":true}
{"id":2,"score":0.0,"name":"bob","active":false}

{"id":3,"score":1,"name":"alice","active":"TRUE"}
{"id":4,"score":2,"name":null,"active":"False"}
{"id":5,"score":5.0,"name":"carol"}
  {"id":6,"score":10,"name":"alice","active":true}
{"id":7,"score":null,"name":"bob","active":false}
{"id":8,"active":true}
{"id":9,"name":"alice","active":null}
{"active":true,"id":10}
`

func TestInspectProfile(t *testing.T) {
	for _, tc := range []struct {
		format, content string
	}{
		{"csv", profileCSV},
		{"jsonl", profileJSONL},
	} {
		t.Run(tc.format, func(t *testing.T) {
			res := mustInspect(t, tc.format, tc.content, nil)
			if res.RowCount != 10 {
				t.Errorf("RowCount = %d, want 10", res.RowCount)
			}
			if got := strings.Join(columnNames(res), ","); got != "id,score,name,active" {
				t.Errorf("columns = %s, want id,score,name,active", got)
			}
			// Population variance of 1..10 is (10²-1)/12 = 8.25. Deciles by
			// h=(n-1)p: 0.1 → h=0.9 → 1+0.9·(2-1) = 1.9, and so on.
			checkNumeric(t, col(t, res, "id"), numericWant{
				typ: "integer", count: 10, min: 1, max: 10, mean: 5.5, stdev: math.Sqrt(8.25),
				deciles: []float64{1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1},
				edges:   []float64{1, 1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1, 10},
				counts:  []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
			})
			// score = 0,0,1,2,5,10: mean 18/6 = 3; squared deviations
			// 9+9+4+1+4+49 = 76, variance 76/6. h = 5p: 0.1 → 0.5 → 0;
			// 0.3 → 1.5 → 0.5; 0.7 → 3.5 → (2+5)/2; 0.9 → 4.5 → (5+10)/2.
			// Bins of width 1 over [0,10]: 0,0 | 1 | 2 | . | . | 5 | ... | 10.
			checkNumeric(t, col(t, res, "score"), numericWant{
				typ: "number", count: 6, missing: 4, min: 0, max: 10, mean: 3, stdev: math.Sqrt(76.0 / 6),
				deciles: []float64{0, 0, 0.5, 1, 1.5, 2, 3.5, 5, 7.5},
				edges:   []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
				counts:  []int64{2, 1, 1, 0, 0, 1, 0, 0, 0, 1},
			})
			checkCategorical(t, col(t, res, "name"), "string", 7, 3,
				map[string]int64{"alice": 4, "bob": 2, "carol": 1}, 0)
			checkCategorical(t, col(t, res, "active"), "boolean", 8, 2,
				map[string]int64{"true": 5, "false": 3}, 0)
		})
	}
}

func TestInspectTopCategories(t *testing.T) {
	// "top" 5 times, then v000..v149 once each: the 99 kept after "top" are
	// the ties with the smallest values, v000..v098; the other 51 are summed.
	var csvb, jsonb strings.Builder
	csvb.WriteString("k\n")
	for range 5 {
		csvb.WriteString("top\n")
		jsonb.WriteString(`{"k":"top"}` + "\n")
	}
	for i := 149; i >= 0; i-- { // reverse order: ties must not depend on it
		fmt.Fprintf(&csvb, "v%03d\n", i)
		fmt.Fprintf(&jsonb, `{"k":"v%03d"}`+"\n", i)
	}
	want := map[string]int64{"top": 5}
	for i := range 99 {
		want[fmt.Sprintf("v%03d", i)] = 1
	}
	for _, tc := range []struct{ format, content string }{{"csv", csvb.String()}, {"jsonl", jsonb.String()}} {
		t.Run(tc.format, func(t *testing.T) {
			res := mustInspect(t, tc.format, tc.content, nil)
			if res.RowCount != 155 {
				t.Errorf("RowCount = %d, want 155", res.RowCount)
			}
			checkCategorical(t, col(t, res, "k"), "string", 155, 0, want, 51)
		})
	}
}

func TestTypeInference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string // CSV cells; "" is missing
		want   string
	}{
		{"integers", []string{"1", "-2", "+3", ""}, "integer"},
		{"integer with spaces", []string{" 42", "7 "}, "integer"},
		{"numbers", []string{"1", "2.5"}, "number"},
		{"exponent", []string{"1e3"}, "number"},
		{"beyond int64", []string{"9223372036854775808"}, "number"},
		{"booleans", []string{"true", "False", "TRUE"}, "boolean"},
		{"words", []string{"a", "b"}, "string"},
		{"number then word", []string{"1", "2", "x"}, "string"},
		{"boolean then word", []string{"true", "x"}, "string"},
		{"boolean and number", []string{"true", "1"}, "string"},
		{"dates are strings unless declared", []string{"2024-01-01"}, "string"},
		{"NaN is not a number", []string{"1", "NaN"}, "string"},
		{"infinity is not a number", []string{"Inf"}, "string"},
		{"hex is not a number", []string{"0x10"}, "string"},
		{"all missing", []string{"", ""}, "string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := "c,other\n"
			for _, v := range tc.values {
				content += v + ",x\n"
			}
			res := mustInspect(t, "csv", content, nil)
			if got := col(t, res, "c").Type; got != tc.want {
				t.Errorf("type = %s, want %s", got, tc.want)
			}
		})
	}
}

// A column that looks numeric until a late word is profiled as a string with
// exact counts for the early values (which a second pass recovers).
func TestInferenceLateStringCountsEveryValue(t *testing.T) {
	var csvb, jsonb strings.Builder
	csvb.WriteString("zip,n\n")
	for i := range 5000 {
		fmt.Fprintf(&csvb, "%d,%d\n", 100+i%3, i)
		fmt.Fprintf(&jsonb, `{"zip":%d,"n":%d}`+"\n", 100+i%3, i)
	}
	csvb.WriteString("A1,5000\n")
	jsonb.WriteString(`{"zip":"A1","n":5000}` + "\n")
	// 100+i%3 over i = 0..4999: 1667 × "100", 1667 × "101", 1666 × "102".
	want := map[string]int64{"100": 1667, "101": 1667, "102": 1666, "A1": 1}
	for _, tc := range []struct{ format, content string }{{"csv", csvb.String()}, {"jsonl", jsonb.String()}} {
		t.Run(tc.format, func(t *testing.T) {
			res := mustInspect(t, tc.format, tc.content, nil)
			checkCategorical(t, col(t, res, "zip"), "string", 5001, 0, want, 0)
			if n := col(t, res, "n"); n.Type != "integer" || *n.Max != 5000 {
				t.Errorf("n: type %s max %v, want integer 5000", n.Type, *n.Max)
			}
		})
	}
}

func TestDeclaredSchema(t *testing.T) {
	content := "id,code,when,flag,extra\n" +
		"1,007,2024-01-02,yes,1.5\n" +
		"2,7,2024-01-02T03:04:05Z,no,2.5\n"
	schema := []api.Column{
		{Name: "id", Type: "number"},
		{Name: "code", Type: "string"},
		{Name: "when", Type: "timestamp"},
		{Name: "flag", Type: "string"},
	}
	res := mustInspect(t, "csv", content, schema)
	if p := col(t, res, "id"); p.Type != "number" || p.Kind != "numeric" {
		t.Errorf("id: %s/%s, want numeric/number (declared wins over inferred integer)", p.Kind, p.Type)
	}
	checkCategorical(t, col(t, res, "code"), "string", 2, 0, map[string]int64{"007": 1, "7": 1}, 0)
	checkCategorical(t, col(t, res, "when"), "timestamp", 2, 0,
		map[string]int64{"2024-01-02": 1, "2024-01-02T03:04:05Z": 1}, 0)
	if p := col(t, res, "extra"); p.Type != "number" {
		t.Errorf("extra (undeclared): type %s, want inferred number", p.Type)
	}
}

func TestSchemaErrors(t *testing.T) {
	ageCSV := "name,age\nann,30\nbob,41\ncid,abc\ndan,x\n"
	ageJSONL := "{\"name\":\"ann\",\"age\":30}\n\n{\"name\":\"bob\",\"age\":41}\n{\"name\":\"cid\",\"age\":\"abc\"}\n"
	for _, tc := range []struct {
		name, format, content string
		schema                []api.Column
		want                  SchemaError
		msg                   string
	}{
		{
			name: "csv wrong type", format: "csv", content: ageCSV,
			schema: []api.Column{{Name: "age", Type: "integer"}},
			want:   SchemaError{Column: "age", Row: 3, Value: "abc", Message: "is not an integer"},
			msg:    `column "age": row 3: value "abc" is not an integer`,
		},
		{
			// Blank lines are not rows: the bad value is on line 4, row 3.
			name: "jsonl wrong type", format: "jsonl", content: ageJSONL,
			schema: []api.Column{{Name: "age", Type: "integer"}},
			want:   SchemaError{Column: "age", Row: 3, Value: "abc", Message: "is not an integer"},
			msg:    `column "age": row 3: value "abc" is not an integer`,
		},
		{
			name: "csv missing column", format: "csv", content: ageCSV,
			schema: []api.Column{{Name: "age", Type: "string"}, {Name: "label", Type: "string"}},
			want:   SchemaError{Column: "label", Row: 0, Message: "declared in the schema but missing from the data"},
			msg:    `column "label": declared in the schema but missing from the data`,
		},
		{
			name: "jsonl missing column", format: "jsonl", content: ageJSONL,
			schema: []api.Column{{Name: "label", Type: "string"}},
			want:   SchemaError{Column: "label", Row: 0, Message: "declared in the schema but missing from the data"},
			msg:    `column "label": declared in the schema but missing from the data`,
		},
		{
			name: "integer is not a fraction", format: "csv", content: "x\n1\n1.5\n",
			schema: []api.Column{{Name: "x", Type: "integer"}},
			want:   SchemaError{Column: "x", Row: 2, Value: "1.5", Message: "is not an integer"},
		},
		{
			name: "number", format: "csv", content: "x\n1.5\nNaN\n",
			schema: []api.Column{{Name: "x", Type: "number"}},
			want:   SchemaError{Column: "x", Row: 2, Value: "NaN", Message: "is not a finite number"},
		},
		{
			name: "boolean", format: "jsonl", content: "{\"x\":true}\n{\"x\":\"yes\"}\n",
			schema: []api.Column{{Name: "x", Type: "boolean"}},
			want:   SchemaError{Column: "x", Row: 2, Value: "yes", Message: "is not a boolean (true or false)"},
		},
		{
			name: "timestamp", format: "csv", content: "t\n2024-01-31\n2024-13-01\n",
			schema: []api.Column{{Name: "t", Type: "timestamp"}},
			want:   SchemaError{Column: "t", Row: 2, Value: "2024-13-01", Message: "is not a timestamp (RFC 3339 or YYYY-MM-DD)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inspect(t, tc.format, tc.content, tc.schema)
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want a *SchemaError", err)
			}
			if *se != tc.want {
				t.Errorf("SchemaError = %+v, want %+v", *se, tc.want)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.msg)
			}
		})
	}
}

func TestSchemaErrorTruncatesLongValues(t *testing.T) {
	long := strings.Repeat("é", 200)
	_, err := inspect(t, "csv", "x\n"+long+"\n", []api.Column{{Name: "x", Type: "integer"}})
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want a *SchemaError", err)
	}
	if len(se.Value) > maxErrorValue+len("…") || !strings.HasSuffix(se.Value, "…") || !strings.HasPrefix(long, strings.TrimSuffix(se.Value, "…")) {
		t.Errorf("Value = %q, want a valid prefix of the value followed by …", se.Value)
	}
}

func TestMalformedInput(t *testing.T) {
	for _, tc := range []struct {
		name, format, content string
		want                  []string // substrings of the error
	}{
		{"csv wrong field count", "csv", "a,b\n1,2\n3\n", []string{"line 3", "wrong number of fields"}},
		{"csv bare quote", "csv", "a,b\n1,2\n3,x\"y\n", []string{"line 3", "bare \""}},
		{"csv unterminated quote", "csv", "a,b\n1,\"2\n", []string{"line 2", "quote"}},
		{"csv duplicate header", "csv", "a,b,a\n1,2,3\n", []string{`column "a" appears twice`}},
		{"jsonl invalid", "jsonl", "{\"a\":1}\n\n{\"a\":\n", []string{"line 3", "invalid JSON"}},
		{"jsonl not an object", "jsonl", "{\"a\":1}\n[1,2]\n", []string{"line 2", "not a JSON object"}},
		{"jsonl trailing data", "jsonl", "{\"a\":1} {\"a\":2}\n", []string{"line 1", "invalid JSON"}},
		{"jsonl scalar", "jsonl", "42\n", []string{"line 1", "not a JSON object"}},
		{"parquet garbage", "parquet", "not a parquet file", []string{"malformed parquet file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := inspect(t, tc.format, tc.content, nil)
			if err == nil {
				t.Fatalf("Inspect succeeded: %+v", res)
			}
			var se *SchemaError
			if errors.As(err, &se) {
				t.Errorf("error %v is a SchemaError; want a format error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestInspectEdgeCases(t *testing.T) {
	t.Run("empty csv", func(t *testing.T) {
		res := mustInspect(t, "csv", "", nil)
		if res.RowCount != 0 || len(res.Columns) != 0 {
			t.Errorf("got %d rows, %d columns; want none", res.RowCount, len(res.Columns))
		}
	})
	t.Run("header only", func(t *testing.T) {
		res := mustInspect(t, "csv", "a,b\n", nil)
		if res.RowCount != 0 || len(res.Columns) != 2 {
			t.Fatalf("got %d rows, %d columns; want 0 and 2", res.RowCount, len(res.Columns))
		}
		checkCategorical(t, res.Columns[0], "string", 0, 0, nil, 0)
	})
	t.Run("byte order mark and quoting", func(t *testing.T) {
		res := mustInspect(t, "csv", "\uFEFFname,n\n\"smith, j\",1\n\"say \"\"hi\"\"\",2\n", nil)
		checkCategorical(t, col(t, res, "name"), "string", 2, 0, map[string]int64{"smith, j": 1, `say "hi"`: 1}, 0)
	})
	t.Run("jsonl key order, late keys, nested values, duplicate keys", func(t *testing.T) {
		res := mustInspect(t, "jsonl", `{"b":1,"a":{"x": [1, 2]}}
{"a":"s","b":2,"b":3,"c":true}
`, nil)
		if got := strings.Join(columnNames(res), ","); got != "b,a,c" {
			t.Errorf("columns = %s, want b,a,c", got)
		}
		checkCategorical(t, col(t, res, "a"), "string", 2, 0, map[string]int64{`{"x":[1,2]}`: 1, "s": 1}, 0)
		// b = 1 and 3 (the repeated key keeps its last value).
		if b := col(t, res, "b"); b.Count != 2 || *b.Max != 3 {
			t.Errorf("b: count %d max %v, want 2 and 3", b.Count, *b.Max)
		}
		checkCategorical(t, col(t, res, "c"), "boolean", 1, 1, map[string]int64{"true": 1}, 0)
	})
	t.Run("jsonl escapes and brackets inside strings", func(t *testing.T) {
		res := mustInspect(t, "jsonl", "\uFEFF"+` { "k\"1" : "a}b" , "n" : { "x" : "]\\" } , "\u00e9":"\u00e9\n" , "z" : -1.5e2 } `+"\n", nil)
		if got := strings.Join(columnNames(res), "|"); got != `k"1|n|é|z` {
			t.Errorf("columns = %s, want k\"1|n|é|z", got)
		}
		checkCategorical(t, col(t, res, `k"1`), "string", 1, 0, map[string]int64{"a}b": 1}, 0)
		checkCategorical(t, col(t, res, "n"), "string", 1, 0, map[string]int64{`{"x":"]\\"}`: 1}, 0)
		checkCategorical(t, col(t, res, "é"), "string", 1, 0, map[string]int64{"é\n": 1}, 0)
		if z := col(t, res, "z"); z.Type != "number" || *z.Min != -150 {
			t.Errorf("z = %s %v, want number -150", z.Type, *z.Min)
		}
	})
	t.Run("constant column has one bin", func(t *testing.T) {
		res := mustInspect(t, "csv", "x\n4\n4\n4\n", nil)
		checkNumeric(t, col(t, res, "x"), numericWant{
			typ: "integer", count: 3, min: 4, max: 4, mean: 4, stdev: 0,
			deciles: []float64{4, 4, 4, 4, 4, 4, 4, 4, 4},
			edges:   []float64{4, 4}, counts: []int64{3},
		})
	})
	t.Run("extreme values do not overflow", func(t *testing.T) {
		// mean 0, population stddev 1e308; the range 2e308 overflows float64.
		res := mustInspect(t, "csv", "x\n1e308\n-1e308\n", nil)
		p := col(t, res, "x")
		if !near(*p.Mean, 0) || !near(*p.Stddev, 1e308) {
			t.Errorf("mean %v stddev %v, want 0 and 1e308", *p.Mean, *p.Stddev)
		}
		if p.Histogram.Counts[0] != 1 || p.Histogram.Counts[9] != 1 || !near(p.Histogram.Edges[5], 0) {
			t.Errorf("histogram = %+v, want one value in each outer bin and a middle edge of 0", p.Histogram)
		}
		if !near(p.Quantiles[4], 0) {
			t.Errorf("median = %v, want 0", p.Quantiles[4])
		}
	})
	t.Run("unknown format", func(t *testing.T) {
		if _, err := inspect(t, "xlsx", "", nil); err == nil || !strings.Contains(err.Error(), "unsupported dataset format") {
			t.Errorf("error = %v, want unsupported dataset format", err)
		}
	})
	t.Run("unknown schema type", func(t *testing.T) {
		_, err := inspect(t, "csv", "a\n1\n", []api.Column{{Name: "a", Type: "float"}})
		if err == nil || !strings.Contains(err.Error(), `unknown type "float"`) {
			t.Errorf("error = %v, want unknown type", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := Inspect(context.Background(), filepath.Join(t.TempDir(), "nope.csv"), "csv", nil); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error = %v, want not exist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if _, err := Inspect(context.Background(), t.TempDir(), "csv", nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("error = %v, want not a regular file", err)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Run("too many csv columns", func(t *testing.T) {
		header := strings.Repeat("c,", maxColumns) + "last\n"
		_, err := inspect(t, "csv", header, nil)
		if err == nil || !strings.Contains(err.Error(), "10001 columns") {
			t.Errorf("error = %v, want a 10001 columns error", err)
		}
	})
	t.Run("too many jsonl keys", func(t *testing.T) {
		var b strings.Builder
		for i := range maxColumns + 1 {
			fmt.Fprintf(&b, "{\"k%d\":1}\n", i)
		}
		_, err := inspect(t, "jsonl", b.String(), nil)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d: more than 10000 columns", maxColumns+1)) {
			t.Errorf("error = %v, want too many columns on line %d", err, maxColumns+1)
		}
	})
	long := strings.Repeat("x", maxLineBytes+1)
	for _, tc := range []struct{ format, content string }{
		{"csv", "a\nshort\n" + long + "\nshort\n"},
		{"jsonl", "{\"a\":1}\n\n{\"a\":\"" + long + "\"}\n"},
	} {
		t.Run("long line "+tc.format, func(t *testing.T) {
			_, err := inspect(t, tc.format, tc.content, nil)
			if err == nil || !strings.Contains(err.Error(), "line 3 is longer than 16 MiB") {
				t.Errorf("error = %v, want line 3 is longer than 16 MiB", err)
			}
		})
	}
	t.Run("line of exactly 16 MiB is fine", func(t *testing.T) {
		res := mustInspect(t, "csv", "a\n"+strings.Repeat("y", maxLineBytes)+"\n", nil)
		if res.RowCount != 1 {
			t.Errorf("RowCount = %d, want 1", res.RowCount)
		}
	})
}

// cancelAfter is a context whose Err starts reporting cancellation after a
// number of calls, to show the scan checks ctx between rows and not only up
// front.
type cancelAfter struct {
	context.Context
	calls, after int
}

func (c *cancelAfter) Err() error {
	c.calls++
	if c.calls > c.after {
		return context.Canceled
	}
	return nil
}

func TestCancellation(t *testing.T) {
	var b strings.Builder
	b.WriteString("n\n")
	for i := range 3 * ctxCheckRows {
		fmt.Fprintf(&b, "%d\n", i)
	}
	path := writeFile(t, "big.csv", b.String())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Inspect(ctx, path, "csv", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("pre-cancelled: error = %v, want context.Canceled", err)
	}

	// Passes the up-front check, then sees cancellation at the first in-scan check.
	mid := &cancelAfter{Context: context.Background(), after: 1}
	if _, err := Inspect(mid, path, "csv", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled mid-scan: error = %v, want context.Canceled", err)
	}
	if mid.calls != 2 {
		t.Errorf("ctx.Err called %d times, want 2 (up front, then at row %d)", mid.calls, ctxCheckRows)
	}
}

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct {
		uri, path string
		ok        bool
	}{
		{"/data/train.csv", "/data/train.csv", true},
		{"file:///data/train.csv", "/data/train.csv", true},
		{"file://localhost/data/train.csv", "/data/train.csv", true},
		{"FILE://LOCALHOST/data/x.csv", "/data/x.csv", true},
		{"file:/data/train.csv", "/data/train.csv", true},
		{"file:///data/my%20file.csv", "/data/my file.csv", true},
		{"file:///data/100%.csv", "/data/100%.csv", true}, // not a valid escape: kept as is
		{"file:///data/a#1.csv", "/data/a#1.csv", true},
		{"file://otherhost/data/x.csv", "", false},
		{"file://localhost", "", false},
		{"file:relative.csv", "", false},
		{"relative/path.csv", "", false},
		{"", "", false},
		{"s3://bucket/key.csv", "", false},
		{"gs://bucket/key.csv", "", false},
		{"http://example.com/x.csv", "", false},
		{"https://example.com/x.csv", "", false},
	} {
		path, ok := LocalPath(tc.uri)
		if path != tc.path || ok != tc.ok {
			t.Errorf("LocalPath(%q) = %q, %v; want %q, %v", tc.uri, path, ok, tc.path, tc.ok)
		}
	}
}

func TestDeciles(t *testing.T) {
	for _, tc := range []struct {
		xs, want []float64
	}{
		{[]float64{7}, []float64{7, 7, 7, 7, 7, 7, 7, 7, 7}},
		{[]float64{0, 10}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		// 0..100 step 10: h = 10p lands exactly on ranks.
		{[]float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}},
	} {
		got := deciles(tc.xs)
		for i := range tc.want {
			if !near(got[i], tc.want[i]) {
				t.Errorf("deciles(%v) = %v, want %v", tc.xs, got, tc.want)
				break
			}
		}
	}
}

func TestColumnsGivesValuesForDrift(t *testing.T) {
	// "n" looks numeric until "x": its early values are counted on the rescan.
	content := "age,plan,flag,n\n31,basic,TRUE,1\n,pro,false,2\n45.5,pro,true,x\n"
	path := writeFile(t, "d.csv", content)
	cols, digest, rows, err := Columns(context.Background(), path, "csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if digest != digestOf(content) || rows != 3 || len(cols) != 4 {
		t.Fatalf("digest %s rows %d columns %d", digest, rows, len(cols))
	}
	age, plan, flag, n := cols[0], cols[1], cols[2], cols[3]
	if !age.Numeric || age.Type != "number" || fmt.Sprint(age.Numbers) != "[31 45.5]" || age.Missing != 1 {
		t.Errorf("age: %+v", age)
	}
	if plan.Numeric || plan.Counts["basic"] != 1 || plan.Counts["pro"] != 2 || plan.Missing != 0 {
		t.Errorf("plan: %+v", plan)
	}
	if flag.Type != "boolean" || flag.Counts["true"] != 2 || flag.Counts["false"] != 1 {
		t.Errorf("booleans are counted canonically: %+v", flag)
	}
	if n.Numeric || n.Counts["1"] != 1 || n.Counts["2"] != 1 || n.Counts["x"] != 1 {
		t.Errorf("n: %+v", n)
	}
}

func TestRootsRefuseOutside(t *testing.T) {
	inside := t.TempDir()
	outside := t.TempDir()
	in := filepath.Join(inside, "a.csv")
	out := filepath.Join(outside, "b.csv")
	for _, p := range []string{in, out} {
		if err := os.WriteFile(p, []byte("a\n1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(inside, "link.csv")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	roots, err := NewRoots([]string{inside})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roots.Allow(in); err != nil {
		t.Errorf("inside: %v", err)
	}
	for _, p := range []string{out, link, filepath.Join(inside, "..", filepath.Base(outside), "b.csv")} {
		if _, err := roots.Allow(p); err == nil || !strings.Contains(err.Error(), "--data-root") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := (Roots{}).Allow(in); err == nil || !strings.Contains(err.Error(), "reads no local files") {
		t.Errorf("no roots: %v", err)
	}
}
