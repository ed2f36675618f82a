package monitoring

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/dataset"
)

// writeCSV writes rows × features normal values (shifted by mean) to a CSV.
func writeCSV(b *testing.B, path string, rows, features int, seed uint64, mean float64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	line := make([]byte, 0, 16*features)
	for j := range features {
		if j > 0 {
			line = append(line, ',')
		}
		line = fmt.Appendf(line, "f%d", j)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	for i := 0; i <= rows; i++ {
		if _, err := w.Write(append(line, '\n')); err != nil {
			b.Fatal(err)
		}
		line = line[:0]
		for j := range features {
			if j > 0 {
				line = append(line, ',')
			}
			line = strconv.AppendFloat(line, mean+r.NormFloat64(), 'f', 4, 64)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEvaluateCSV1Mx10 is one whole evaluation as the engine runs it:
// read and parse a baseline and a current CSV of 1M rows × 10 numeric
// features each, then judge every feature with PSI. rows/s counts the rows
// of both files.
func BenchmarkEvaluateCSV1Mx10(b *testing.B) {
	const rows, features = 1_000_000, 10
	dir := b.TempDir()
	basePath, curPath := filepath.Join(dir, "base.csv"), filepath.Join(dir, "cur.csv")
	writeCSV(b, basePath, rows, features, 1, 0)
	writeCSV(b, curPath, rows, features, 2, 0.05)
	spec := &api.MonitorSpec{Model: "m", BaselineDataset: "base", CurrentDataset: "cur"}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		base, _, _, err := dataset.Columns(ctx, basePath, "csv", nil)
		if err != nil {
			b.Fatal(err)
		}
		cur, _, _, err := dataset.Columns(ctx, curPath, "csv", nil)
		if err != nil {
			b.Fatal(err)
		}
		v, err := Judge(spec, base, cur)
		if err != nil || v.JudgedFeatures != features {
			b.Fatalf("%v %+v", err, v)
		}
	}
	b.ReportMetric(float64(2*rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
