package dataset

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

type pqRow struct {
	ID     int64     `parquet:"id"`
	Score  *float64  `parquet:"score,optional"`
	Name   string    `parquet:"name"`
	Active bool      `parquet:"active"`
	When   time.Time `parquet:"when,timestamp(millisecond)"`
	// int32 days: parquet-go v0.32.0 writes a time.Time into a DATE column
	// as int32(UnixNano), which no reader (itself included) decodes correctly.
	Day   int32    `parquet:"day,date"`
	Price int64    `parquet:"price,decimal(2:10)"`
	Tags  []string `parquet:"tags,list"`
}

func writeParquet(t *testing.T, rows []pqRow) (path string, content []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "data.parquet")
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, content
}

func TestInspectParquet(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	// Same id/score/name/active columns as TestInspectProfile; NaN in score
	// counts as missing like a null does.
	scores := []*float64{f(0), f(0), f(1), f(2), f(5), f(10), nil, f(math.NaN()), nil, nil}
	names := []string{"alice", "bob", "alice", "", "carol", "alice", "bob", "", "alice", ""}
	var rows []pqRow
	for i := range 10 {
		rows = append(rows, pqRow{
			ID:     int64(i + 1),
			Score:  scores[i],
			Name:   names[i],
			Active: i%2 == 0,
			When:   day.Add(time.Duration(i%2) * 90 * time.Minute),
			Day:    int32(day.Unix()/86400) + int32(i%3),
			Price:  int64(i) * 125, // 0.00, 1.25, ..., 11.25
			Tags:   []string{"x"},
		})
	}
	path, content := writeParquet(t, rows)

	res, err := Inspect(context.Background(), path, "parquet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digestOf(string(content)) || res.SizeBytes != int64(len(content)) {
		t.Errorf("digest/size = %s/%d, want %s/%d", res.Digest, res.SizeBytes, digestOf(string(content)), len(content))
	}
	if res.RowCount != 10 {
		t.Errorf("RowCount = %d, want 10", res.RowCount)
	}
	// The repeated tags column cannot be profiled and is left out.
	if got := columnNames(res); len(got) != 7 || got[0] != "id" || got[6] != "price" {
		t.Errorf("columns = %v, want id..price without tags", got)
	}
	checkNumeric(t, col(t, res, "id"), numericWant{
		typ: "integer", count: 10, min: 1, max: 10, mean: 5.5, stdev: math.Sqrt(8.25),
		deciles: []float64{1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1},
		edges:   []float64{1, 1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1, 10},
		counts:  []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	})
	// A parquet double is a number even when every value is whole.
	checkNumeric(t, col(t, res, "score"), numericWant{
		typ: "number", count: 6, missing: 4, min: 0, max: 10, mean: 3, stdev: math.Sqrt(76.0 / 6),
		deciles: []float64{0, 0, 0.5, 1, 1.5, 2, 3.5, 5, 7.5},
		edges:   []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		counts:  []int64{2, 1, 1, 0, 0, 1, 0, 0, 0, 1},
	})
	// A required parquet string has no nulls: "" is a value, unlike in CSV.
	checkCategorical(t, col(t, res, "name"), "string", 10, 0,
		map[string]int64{"alice": 4, "bob": 2, "carol": 1, "": 3}, 0)
	checkCategorical(t, col(t, res, "active"), "boolean", 10, 0, map[string]int64{"true": 5, "false": 5}, 0)
	checkCategorical(t, col(t, res, "when"), "timestamp", 10, 0,
		map[string]int64{"2024-03-01T00:00:00Z": 5, "2024-03-01T01:30:00Z": 5}, 0)
	// i%3 over 0..9: four 0s, three 1s, three 2s.
	checkCategorical(t, col(t, res, "day"), "timestamp", 10, 0,
		map[string]int64{"2024-03-01": 4, "2024-03-02": 3, "2024-03-03": 3}, 0)
	// price = 1.25·i for i = 0..9: mean 1.25·4.5, stddev 1.25·√8.25.
	p := col(t, res, "price")
	if p.Type != "number" || !near(*p.Min, 0) || !near(*p.Max, 11.25) || !near(*p.Mean, 5.625) || !near(*p.Stddev, 1.25*math.Sqrt(8.25)) {
		t.Errorf("price = %s min %v max %v mean %v stddev %v, want number 0 11.25 5.625 %v",
			p.Type, *p.Min, *p.Max, *p.Mean, *p.Stddev, 1.25*math.Sqrt(8.25))
	}

	t.Run("schema", func(t *testing.T) {
		_, err := Inspect(context.Background(), path, "parquet", []api.Column{{Name: "name", Type: "integer"}})
		var se *SchemaError
		if !errors.As(err, &se) || se.Column != "name" || se.Row != 1 || se.Value != "alice" {
			t.Errorf("error = %v, want a SchemaError for name at row 1", err)
		}
		_, err = Inspect(context.Background(), path, "parquet", []api.Column{{Name: "tags", Type: "string"}})
		if !errors.As(err, &se) || se.Column != "tags" || se.Row != 0 {
			t.Errorf("error = %v, want a SchemaError for the repeated tags column", err)
		}
		// Declared types apply to parquet columns too: id profiled as a string.
		res, err := Inspect(context.Background(), path, "parquet", []api.Column{{Name: "id", Type: "string"}, {Name: "when", Type: "timestamp"}})
		if err != nil {
			t.Fatal(err)
		}
		if p := col(t, res, "id"); p.Kind != "categorical" || p.Categories["10"] != 1 {
			t.Errorf("id declared string: %+v", p)
		}
	})
}

func TestParquetHelpers(t *testing.T) {
	for _, tc := range []struct {
		digits string
		scale  int
		want   string
	}{
		{"12345", 2, "123.45"}, {"-12345", 2, "-123.45"}, {"5", 3, "0.005"}, {"-5", 1, "-0.5"}, {"7", 0, "7"},
	} {
		if got := decimalText(tc.digits, tc.scale); got != tc.want {
			t.Errorf("decimalText(%q, %d) = %q, want %q", tc.digits, tc.scale, got, tc.want)
		}
	}
	if got := twosComplement([]byte{0xff, 0x85}).Int64(); got != -123 {
		t.Errorf("twosComplement(ff85) = %d, want -123", got)
	}
	// binary16: 0x3c00 = 1, 0xc000 = -2, 0x3555 ≈ 1/3, 0x0001 = 2^-24.
	for h, want := range map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x3555: 0.333251953125, 0x0001: 1.0 / (1 << 24)} {
		if got := halfToFloat(h); got != want {
			t.Errorf("halfToFloat(%#x) = %v, want %v", h, got, want)
		}
	}
}
