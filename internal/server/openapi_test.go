package server_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the checked-in openapi.json")

// TestOpenAPIIsCheckedIn keeps openapi.json at the repository root equal to
// what the server serves; run `go test ./internal/server -run OpenAPI -update` after API changes.
func TestOpenAPIIsCheckedIn(t *testing.T) {
	e := newEnv(t)
	got, err := e.ts.Server.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("..", "..", "openapi.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run with -update to create it)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("openapi.json is out of date: run go test ./internal/server -run OpenAPI -update")
	}
	served := e.do("GET", "/openapi.json", "", nil)
	if served.status != 200 || !bytes.Contains(served.body, []byte(`"/v1/projects/{project}/models/{model}/aliases/{alias}"`)) {
		t.Fatalf("served document: %d", served.status)
	}
}
