package cli_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildMlopsd compiles the real binary once per test run.
func buildMlopsd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlopsd")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mlopsd").CombinedOutput()
	if err != nil {
		t.Fatalf("build mlopsd: %v\n%s", err, out)
	}
	return bin
}

// startServe runs `mlopsd serve` and returns its base URL once it listens.
func startServe(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	logs := &strings.Builder{}
	urlc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`url=(https?://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return cmd, u, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("mlopsd did not start:\n%s", logs.String())
	}
	return nil, "", nil
}

func TestServeBootstrapAndGracefulShutdown(t *testing.T) {
	bin := buildMlopsd(t)
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "mlops.db")
	const admin = "bootstrap-admin-token-0123456789"

	if out, err := exec.Command(bin, "migrate", "--database", db).CombinedOutput(); err != nil || !strings.Contains(string(out), "up to date") {
		t.Fatalf("migrate: %v %s", err, out)
	}
	cmd, base, logs := startServe(t, bin, []string{"MLOPSD_ADMIN_TOKEN=" + admin, "MLOPSD_DATABASE=" + db})

	get := func(path, token string) int {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/readyz", ""); s != http.StatusOK {
		t.Fatalf("readyz = %d", s)
	}
	if s := get("/v1/projects", admin); s != http.StatusOK {
		t.Fatalf("the bootstrap admin token does not work: %d", s)
	}
	if s := get("/v1/projects", "wrong"); s != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", s)
	}

	// token create writes to the same database; the new token works at once.
	out, err := exec.Command(bin, "token", "create", "--role", "viewer", "--project", "default", "--database", db).Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	viewer := strings.TrimSpace(string(out))
	if !strings.HasPrefix(viewer, "mlops_") || get("/v1/projects/default", viewer) != http.StatusOK || get("/v1/tokens", viewer) != http.StatusForbidden {
		t.Fatalf("viewer token %q does not behave as a viewer", viewer)
	}

	// SIGTERM: the server stops cleanly and says so.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("mlopsd did not stop after SIGTERM")
	}
	if strings.Contains(logs.String(), admin) || strings.Contains(logs.String(), viewer) {
		t.Fatal("a token appears in the server's logs")
	}
}

func TestServeTLS(t *testing.T) {
	bin := buildMlopsd(t)
	dir := t.TempDir()
	certFile, keyFile := writeSelfSignedCert(t, dir)
	_, base, _ := startServe(t, bin, nil, "--database", "sqlite://"+filepath.Join(dir, "m.db"), "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("TLS server announced %s", base)
	}
	pool := x509.NewCertPool()
	certPEM, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(certPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz over TLS = %d", resp.StatusCode)
	}
}

func TestServeRejectsBadSettings(t *testing.T) {
	bin := buildMlopsd(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--database", "mysql://x"}, "sqlite://"},
		{[]string{"serve", "--database", "sqlite://" + filepath.Join(t.TempDir(), "x.db"), "--tls-cert", "c.pem"}, "--tls-key"},
		{[]string{"token", "create", "--role", "owner", "--database", "sqlite://" + filepath.Join(t.TempDir(), "y.db")}, "not a role"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("mlopsd %v: err=%v output=%s; want an error mentioning %q", tc.args, err, out, tc.want)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "mlopsd ") {
		t.Errorf("version: %v %s", err, out)
	}
}

func writeSelfSignedCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}
