package gateway

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkNginx sends the same load through nginx as a reverse proxy to the
// same kind of backend, as the yardstick for BenchmarkGateway. It is skipped
// where nginx is not installed (apt-get install nginx-light).
func BenchmarkNginx(b *testing.B) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			b.Skip("nginx is not installed")
		}
		bin = "/usr/sbin/nginx"
	}
	backend := benchBackend(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir := b.TempDir()
	// Comparable to the gateway: one process per core, keep-alive to the
	// backend, no logging, the Authorization header dropped.
	conf := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s;
  proxy_temp_path %[1]s;
  upstream backend { server %[2]s; keepalive 64; }
  server {
    listen 127.0.0.1:%[3]d;
    location %[4]s/ {
      proxy_pass http://backend/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
    }
  }
}
`, dir, strings.TrimPrefix(backend.URL, "http://"), port, benchPrefix)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d%s/predict", port, benchPrefix)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("nginx did not come up: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	benchLoad(b, url)
}
