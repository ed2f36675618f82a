package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The gateway benchmarks send the same load to one loopback backend that
// answers a small JSON body, once directly (BenchmarkDirect) and once
// through the gateway (BenchmarkGateway: client -> httptest server calling
// Gateway.Serve -> backend), at concurrency 1 and 32. The difference is the
// gateway's cost: one more loopback hop plus routing, header rewriting and
// statistics. Client, gateway and backend share the machine's CPUs.
//
// One iteration is MLOPS_BENCH_REQUESTS (default 20000) requests, so that
// -benchtime 1x still gives stable percentiles. Reported: req/s, and p50-µs
// / p99-µs of the latency the client saw (all iterations together).

const benchPrefix = "/v1/projects/p/deployments/d"

func benchRequests(b *testing.B) int {
	v := os.Getenv("MLOPS_BENCH_REQUESTS")
	if v == "" {
		return 20000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("MLOPS_BENCH_REQUESTS=%q: want a positive number", v)
	}
	return n
}

func benchBackend(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"predictions":[[0.12,0.88]],"model":"churn","version":1}`)
	}))
	b.Cleanup(s.Close)
	return s
}

func BenchmarkDirect(b *testing.B) {
	backend := benchBackend(b)
	benchLoad(b, backend.URL+"/predict")
}

func BenchmarkGateway(b *testing.B) {
	backend := benchBackend(b)
	g := New(prometheus.NewRegistry(), Options{Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(g.Close)
	g.Set("p/d", Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{1, mustURL(b, backend.URL)}}})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Serve(w, r, "p/d", strings.TrimPrefix(r.URL.Path, benchPrefix))
	}))
	b.Cleanup(front.Close)
	benchLoad(b, front.URL+benchPrefix+"/predict")
}

func benchLoad(b *testing.B, url string) {
	for _, c := range []int{1, 32} {
		b.Run(fmt.Sprintf("c%d", c), func(b *testing.B) {
			// Enough idle connections that every worker keeps its own.
			tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			n := benchRequests(b)
			fire(b, client, url, c, 10*c) // warm up: open the connections
			var lat []time.Duration
			var elapsed time.Duration
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				lat = append(lat, fire(b, client, url, c, n)...)
				elapsed += time.Since(start)
			}
			b.StopTimer()
			slices.Sort(lat)
			us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(us(lat[(len(lat)-1)/2]), "p50-µs")
			b.ReportMetric(us(lat[(len(lat)*99+99)/100-1]), "p99-µs")
		})
	}
}

// fire sends n POSTs from c goroutines (exactly c, whatever GOMAXPROCS is)
// and returns their latencies.
func fire(b *testing.B, client *http.Client, url string, c, n int) []time.Duration {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"inputs":[[1.5,2,0.3,4]]}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer mlopsd-token")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return lat
}
