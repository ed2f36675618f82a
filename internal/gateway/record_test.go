package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sampled request bodies reach Options.Record whole, after an answer below
// 500; the backend still receives every byte.
func TestRecordSamplesBodies(t *testing.T) {
	var mu sync.Mutex
	var recorded []string
	g := New(nil, Options{
		HealthInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Record: func(k string, v int64, body []byte) {
			mu.Lock()
			defer mu.Unlock()
			recorded = append(recorded, k+" "+string(body))
		},
	})
	t.Cleanup(g.Close)
	var received []string
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, string(body))
		mu.Unlock()
		if strings.Contains(string(body), "fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	send := func(body string) {
		w := httptest.NewRecorder()
		g.Serve(w, httptest.NewRequest(http.MethodPost, "/x/predict", strings.NewReader(body)), key, "/predict")
	}

	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{Version: 1, URL: mustURL(t, b.URL)}}, Sample: 1})
	send(`{"instances":[{"a":1}]}`)
	send(`{"fail":true}`)
	big := `{"a":"` + strings.Repeat("x", MaxRecordBytes) + `"}`
	send(big)
	g.Set(key, Route{Weights: map[int64]int{1: 100}, Backends: []Backend{{Version: 1, URL: mustURL(t, b.URL)}}, Sample: 0})
	send(`{"instances":[{"a":2}]}`)

	mu.Lock()
	defer mu.Unlock()
	if len(recorded) != 1 || recorded[0] != key+` {"instances":[{"a":1}]}` {
		t.Fatalf("recorded %q, want the one successful small body", recorded)
	}
	if len(received) != 4 || received[2] != big {
		t.Fatalf("the backend got %d bodies (the large one intact: %v)", len(received), len(received) > 2 && received[2] == big)
	}
}
