//go:build ignore

// gen_monitor_data writes monitor_baseline.csv and monitor_drifted.csv, the
// data of the drift monitor acceptance tests. They are committed; rerun this
// only to change them (the output is the same on every run):
//
//	cd internal/provider/testdata && go run gen_monitor_data.go
package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
)

const rows = 500

// population describes one side: normal age and income, and plan shares.
type population struct {
	ageMean, incomeMean float64
	plans               []string
	shares              []float64
}

var (
	baseline = population{ageMean: 40, incomeMean: 50000,
		plans: []string{"basic", "standard", "premium"}, shares: []float64{0.5, 0.35, 0.15}}
	// Drifted: older, richer customers, and a plan the baseline never saw.
	drifted = population{ageMean: 52, incomeMean: 65000,
		plans: []string{"basic", "standard", "premium", "enterprise"}, shares: []float64{0.25, 0.3, 0.2, 0.25}}
)

func write(name string, p population, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var b strings.Builder
	b.WriteString("age,income,plan\n")
	for range rows {
		age := int(math.Round(max(18, min(90, p.ageMean+10*r.NormFloat64()))))
		income := math.Round(max(5000, p.incomeMean+15000*r.NormFloat64())*100) / 100
		u, plan := r.Float64(), p.plans[len(p.plans)-1]
		for i, s := range p.shares {
			if u < s {
				plan = p.plans[i]
				break
			}
			u -= s
		}
		fmt.Fprintf(&b, "%d,%.2f,%s\n", age, income, plan)
	}
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
}

func main() {
	write("monitor_baseline.csv", baseline, 1)
	write("monitor_drifted.csv", drifted, 2)
}
