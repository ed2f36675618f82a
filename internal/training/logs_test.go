package training_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/testserver"
)

// TestRunLogsFollow streams a run's output while it runs and ends with the run.
func TestRunLogsFollow(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c, ctx := ts.Client, context.Background()
	if _, err := c.CreatePipeline(ctx, "default", api.CreatePipelineRequest{Name: "chatty", PipelineSpec: api.PipelineSpec{Steps: []api.Step{
		sh("talk", "for i in 1 2 3; do echo line-$i; sleep 1; done"),
	}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRun(ctx, "default", "chatty", nil); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, ts.URL+"/v1/projects/default/pipelines/chatty/runs/1/logs?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+ts.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type = %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("stream ended with %v after %q", err, body)
	}
	text := string(body)
	for _, want := range []string{"[talk] line-1\n", "[talk] line-2\n", "[talk] line-3\n", "run 1 succeeded\n"} {
		if !strings.Contains(text, want) {
			t.Fatalf("stream %q lacks %q", text, want)
		}
	}
	if strings.Count(text, "line-1") != 1 {
		t.Fatalf("a line was sent twice: %q", text)
	}
}
