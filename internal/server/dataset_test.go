package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(content string) string {
	sum := sha256.Sum256([]byte(content))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestDatasetProfilesLocalFiles(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	content := "age,plan\n31,basic\n45,pro\n27,basic\n"
	path := writeFile(t, dir, "train.csv", content)

	r := want(t, e.admin("POST", "/v1/projects/default/datasets", map[string]any{
		"name": "train", "uri": "file://" + path, "format": "csv",
		"schema": []map[string]string{{"name": "age", "type": "integer"}, {"name": "plan", "type": "string"}},
	}), http.StatusCreated)
	var d api.Dataset
	r.decode(t, &d)
	if !d.Profiled || d.Version != 1 || d.RowCount != 3 || d.SizeBytes != int64(len(content)) || d.Digest != sha(content) {
		t.Fatalf("created dataset %+v", d)
	}
	var prof api.DatasetProfile
	want(t, e.admin("GET", "/v1/projects/default/datasets/train/profile", nil), http.StatusOK).decode(t, &prof)
	if len(prof.Columns) != 2 || prof.Columns[0].Kind != "numeric" || *prof.Columns[0].Max != 45 || prof.Columns[1].Categories["basic"] != 2 {
		t.Fatalf("profile %+v", prof)
	}

	// Changing the content and re-reading bumps the version; reading unchanged content does not.
	writeFile(t, dir, "train.csv", content+"52,pro\n")
	want(t, e.admin("POST", "/v1/projects/default/datasets/train/refresh", nil), http.StatusOK).decode(t, &d)
	if d.Version != 2 || d.RowCount != 4 {
		t.Fatalf("after content change: version %d rows %d, want 2 and 4", d.Version, d.RowCount)
	}
	want(t, e.admin("POST", "/v1/projects/default/datasets/train/refresh", nil), http.StatusOK).decode(t, &d)
	if d.Version != 2 {
		t.Fatalf("unchanged content moved version to %d", d.Version)
	}
	// A description change alone keeps the version.
	want(t, e.admin("PUT", "/v1/projects/default/datasets/train", map[string]any{"uri": "file://" + path, "format": "csv", "description": "x"}), http.StatusOK).decode(t, &d)
	if d.Version != 2 || d.Description != "x" {
		t.Fatalf("after description change: %+v", d)
	}
}

func TestDatasetValidation(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.csv", "age,plan\n31,basic\nabc,pro\n")
	base := "/v1/projects/default/datasets"
	wantProblem(t, e.admin("POST", base, map[string]any{
		"name": "d", "uri": path, "format": "csv", "schema": []map[string]string{{"name": "age", "type": "integer"}},
	}), http.StatusBadRequest, "body.schema", `column "age": row 2`)
	wantProblem(t, e.admin("POST", base, map[string]any{
		"name": "d", "uri": path, "format": "csv", "schema": []map[string]string{{"name": "label", "type": "string"}},
	}), http.StatusBadRequest, "body.schema", `"label"`)
	good := writeFile(t, dir, "good.csv", "a\n1\n")
	wantProblem(t, e.admin("POST", base, map[string]any{
		"name": "d", "uri": good, "format": "csv", "expected_digest": sha("something else"),
	}), http.StatusBadRequest, "body.expected_digest", "not the pinned")
	want(t, e.admin("POST", base, map[string]any{"name": "d", "uri": good, "format": "csv", "expected_digest": sha("a\n1\n")}), http.StatusCreated)
	wantProblem(t, e.admin("POST", base, map[string]any{"name": "e", "uri": filepath.Join(dir, "missing.csv"), "format": "csv"}), http.StatusBadRequest, "body.uri", "does not exist")
	wantProblem(t, e.admin("POST", base, map[string]any{"name": "e", "uri": "/etc/hostname", "format": "csv"}), http.StatusBadRequest, "body.uri", "outside the directories")
	wantProblem(t, e.admin("POST", base, map[string]any{"name": "e", "uri": "s3://b/k", "format": "xml"}), http.StatusBadRequest, "body.format", "")
	wantProblem(t, e.admin("POST", base, map[string]any{"name": "e", "uri": "not a uri", "format": "csv"}), http.StatusBadRequest, "body.uri", "not a URI")
	// A symbolic link cannot lead outside the data roots.
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink("/etc/passwd", link); err == nil {
		wantProblem(t, e.admin("POST", base, map[string]any{"name": "e", "uri": link, "format": "csv"}), http.StatusBadRequest, "body.uri", "outside the directories")
	}
	// Remote URIs are registered unprofiled; changing the URI is a new version.
	var d api.Dataset
	want(t, e.admin("POST", base, map[string]any{"name": "remote", "uri": "s3://bucket/a.parquet", "format": "parquet"}), http.StatusCreated).decode(t, &d)
	if d.Profiled || d.Version != 1 {
		t.Fatalf("remote dataset %+v", d)
	}
	want(t, e.admin("GET", base+"/remote/profile", nil), http.StatusNotFound)
	want(t, e.admin("PUT", base+"/remote", map[string]any{"uri": "s3://bucket/b.parquet", "format": "parquet"}), http.StatusOK).decode(t, &d)
	if d.Version != 2 {
		t.Fatalf("new remote URI: version %d, want 2", d.Version)
	}
	want(t, e.admin("DELETE", base+"/remote", nil), http.StatusNoContent)
	want(t, e.admin("DELETE", base+"/d", nil), http.StatusNoContent)
	want(t, e.admin("GET", base+"/d/profile", nil), http.StatusNotFound)
}
