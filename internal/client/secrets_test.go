package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// recordingLogger keeps everything retryablehttp logs.
type recordingLogger struct {
	mu  sync.Mutex
	out strings.Builder
}

func (l *recordingLogger) log(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(&l.out, append([]any{msg}, kv...)...)
}
func (l *recordingLogger) Error(msg string, kv ...any) { l.log(msg, kv...) }
func (l *recordingLogger) Info(msg string, kv ...any)  { l.log(msg, kv...) }
func (l *recordingLogger) Debug(msg string, kv ...any) { l.log(msg, kv...) }
func (l *recordingLogger) Warn(msg string, kv ...any)  { l.log(msg, kv...) }

func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	logger := &recordingLogger{}
	fast := func(cfg *Config) { cfg.Logger = logger; cfg.RetryMax = 1 }
	// Servers and proxies that echo the Authorization header back.
	echoProblem := func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.Problem{Status: 401, Title: "Unauthorized", Detail: "token " + r.Header.Get("Authorization") + " is revoked",
			Errors: []api.ProblemError{{Location: "header.Authorization", Message: "bad " + r.Header.Get("Authorization"), Value: r.Header.Get("Authorization")}}})
	}
	echoText := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_ = r.Header.Write(w)
	}
	echoOK := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "not json "+r.Header.Get("Authorization"))
	}

	var errs []error
	for i, h := range []http.HandlerFunc{echoProblem, echoText, echoOK} {
		c, _ := newTestClient(t, h, fast)
		_, err := c.GetProject(context.Background(), "p")
		errs = append(errs, err)
		if e, ok := err.(*Error); ok {
			errs = append(errs, fmt.Errorf("%+v", *e)) // the struct itself, as a debugger would print it
		}
		if i < 2 { // echoOK answers 200, which is ready
			errs = append(errs, c.Ready(context.Background()))
		}
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c, err := New(Config{Endpoint: dead.URL, Token: testToken, Logger: logger, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateProject(context.Background(), api.Project{Name: "p"})
	errs = append(errs, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs = append(errs, c.DeleteProject(ctx, "p", 1))

	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: want an error", i)
			continue
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("case %d: token in error: %s", i, err)
		}
	}
	if logger.out.Len() == 0 {
		t.Error("the logger saw nothing; the test proves nothing about logs")
	}
	if strings.Contains(logger.out.String(), testToken) {
		t.Errorf("token in logs:\n%s", logger.out.String())
	}
}
