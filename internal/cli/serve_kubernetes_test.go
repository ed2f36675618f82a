package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// fakeAPIServer answers SelfSubjectAccessReviews like a cluster whose Role
// lets mlopsd do everything but read pod logs when denyLogs is set.
func fakeAPIServer(t *testing.T, denyLogs bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
			http.NotFound(w, r)
			return
		}
		// client-go sends protobuf; the universal deserializer reads it (and JSON).
		body, _ := io.ReadAll(r.Body)
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
		review, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
		if err != nil || !ok {
			http.Error(w, "not a SelfSubjectAccessReview", http.StatusBadRequest)
			return
		}
		ra := review.Spec.ResourceAttributes
		review.Status.Allowed = ra.Namespace == "ml-jobs" && (!denyLogs || ra.Subresource != "log")
		review.APIVersion, review.Kind = "authorization.k8s.io/v1", "SelfSubjectAccessReview"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(review)
	}))
	t.Cleanup(srv.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "` + srv.URL + `"}}]
users: [{name: test, user: {token: test}}]
contexts: [{name: test, context: {cluster: test, user: test, namespace: ml-jobs}}]
current-context: test
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

func TestServeKubernetesExecutor(t *testing.T) {
	bin := buildMlopsd(t)
	db := func() string { return "sqlite://" + filepath.Join(t.TempDir(), "mlops.db") }

	// The namespace comes from the kubeconfig context; the preflight passes.
	_, _, logs := startServe(t, bin, nil, "--database", db(), "--data-dir", t.TempDir(),
		"--executor", "kubernetes", "--kubeconfig", fakeAPIServer(t, false))
	if !strings.Contains(logs.String(), "kubernetes executor") || !strings.Contains(logs.String(), "namespace=ml-jobs") {
		t.Fatalf("logs do not show the kubernetes executor in ml-jobs:\n%s", logs.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--executor", "kubernetes", "--kubeconfig", fakeAPIServer(t, true)}, `may not get pods/log in namespace "ml-jobs"`},
		{[]string{"--executor", "kubernetes", "--kubeconfig", fakeAPIServer(t, false), "--kubernetes-namespace", "other"}, `in namespace "other"`},
		{[]string{"--executor", "local", "--kubernetes-namespace", "ml-jobs"}, "--kubernetes-namespace apply to --executor kubernetes only"},
		{[]string{"--executor", "kubernetes", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "kubernetes"},
	} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--database", db(), "--data-dir", t.TempDir()}, tc.args...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("mlopsd %v: err=%v output=%s; want an error mentioning %q", tc.args, err, out, tc.want)
		}
	}
}
