package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/client"
)

// TestRaceIfMatch lets writers race on one object, on each store: in every
// round all of them update it with the same If-Match, and exactly one wins
// while the others get 412 saying it was changed by someone else; then all of
// them create the same name, and exactly one gets it while the others get 409.
// The outcome does not depend on timing, so the assertion is deterministic.
func TestRaceIfMatch(t *testing.T) {
	enabled(t)
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { raceIfMatch(t, db) })
	}
}

func raceIfMatch(t *testing.T, db database) {
	const rounds, writers = 20, 8
	srv := startServer(t, serverOptions{database: db.url(t), env: unlimited})
	ctx := context.Background()
	c := srv.Client(t, -1, nil)
	const p = api.DefaultProject
	if _, err := c.CreatePipeline(ctx, p, api.CreatePipelineRequest{Name: "contended", PipelineSpec: spec("initial", "0")}); err != nil {
		t.Fatal(err)
	}
	var v violations
	requests, conflicts := 0, 0
	race := func(n int, do func(i int) error) []error {
		errs := make([]error, n)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-start
				errs[i] = do(i)
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		requests += n
		return errs
	}
	for r := range rounds {
		cur, err := c.GetPipeline(ctx, p, "contended")
		if err != nil {
			t.Fatal(err)
		}
		desc := func(i int) string { return fmt.Sprintf("round %d writer %d", r, i) }
		errs := race(writers, func(i int) error {
			_, err := c.UpdatePipeline(ctx, p, "contended", spec(desc(i), fmt.Sprint(r)), cur.Generation)
			return err
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				v.add("round %d: writers %d and %d both updated generation %d", r, winner, i, cur.Generation)
			case err == nil:
				winner = i
			case errors.Is(err, client.ErrPreconditionFailed):
				conflicts++
				if !strings.Contains(err.Error(), "changed by someone else") {
					v.add("round %d: the 412 does not say what happened: %v", r, err)
				}
			default:
				v.add("round %d: writer %d: %v", r, i, err)
			}
		}
		after, err := c.GetPipeline(ctx, p, "contended")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case winner < 0:
			v.add("round %d: no writer won", r)
		case after.Generation != cur.Generation+1 || after.Description != desc(winner):
			v.add("round %d: after the race the pipeline is gen %d %q, want gen %d %q", r, after.Generation, after.Description, cur.Generation+1, desc(winner))
		}

		name := fmt.Sprintf("fresh-%02d", r)
		errs = race(writers, func(i int) error {
			_, err := c.CreatePipeline(ctx, p, api.CreatePipelineRequest{Name: name, PipelineSpec: spec(desc(i), "0")})
			return err
		})
		created := 0
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, client.ErrConflict):
				conflicts++
				if !strings.Contains(err.Error(), "already exists") {
					v.add("round %d: the 409 does not say what happened: %v", r, err)
				}
			default:
				v.add("round %d: creator %d: %v", r, i, err)
			}
		}
		if created != 1 {
			v.add("round %d: %d of %d concurrent creates of %s succeeded, want exactly 1", r, created, writers, name)
		}
	}
	all, err := c.ListPipelines(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != rounds+1 {
		v.add("%d pipelines exist, want %d (contended and one per round)", len(all), rounds+1)
	}
	report("race-if-match/"+db.name, "rounds=%d writers=%d requests=%d conflicts (412/409)=%d objects checked=%d violations=%d",
		rounds, writers, requests, conflicts, len(all), v.count())
	v.fail(t)
}

// TestRaceTerraform has two working directories, each with its own state,
// manage the same pipeline.
//
//  1. Both apply a create of it at once: exactly one succeeds, the other fails
//     saying it already exists and to import it.
//  2. The loser imports it (an import block) and applies its description.
//  3. The winner plans a change and saves the plan; the loser applies another
//     change; the winner applies its now stale plan. It must fail with a
//     conflict (412, "changed by someone else") instead of silently undoing
//     the loser's change.
//  4. After that, the winner's plan shows the truth: the loser's description,
//     to be changed to its own.
//
// The order of steps 3 and 4 is fixed, so the outcome does not depend on timing.
func TestRaceTerraform(t *testing.T) {
	enabled(t)
	t.Parallel() // runs beside the other parallel scenarios, after the measured ones
	terraformPath(t)
	srv := startServer(t, serverOptions{database: databases[0].url(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	config := func(desc string, imported bool) string {
		s := fmt.Sprintf(`terraform {
  required_providers {
    mlops = { source = "mlopsplane/mlops" }
  }
}

provider "mlops" {}

resource "mlops_pipeline" "shared" {
  name        = "shared"
  description = %q
  steps       = [{ name = "fit", command = ["true"] }]
}
`, desc)
		if imported {
			s += `
import {
  to = mlops_pipeline.shared
  id = "default/shared"
}
`
		}
		return s
	}
	dirs := [2]*workdir{newWorkdir(t, srv), newWorkdir(t, srv)}
	var v violations
	runs := 0

	// 1. Both create it at once.
	var outs [2]string
	var codes [2]int
	var wg sync.WaitGroup
	for i, w := range dirs {
		w.write("main.tf", config(fmt.Sprintf("from %c", 'a'+i), false))
		wg.Go(func() { outs[i], codes[i] = w.run(ctx, "apply", "-auto-approve", "-input=false") })
	}
	wg.Wait()
	runs += 2
	if (codes[0] == 0) == (codes[1] == 0) {
		t.Fatalf("concurrent creates: exit codes %d and %d, want exactly one success\n--- a:\n%s\n--- b:\n%s", codes[0], codes[1], outs[0], outs[1])
	}
	win, lose := 0, 1
	if codes[0] != 0 {
		win, lose = 1, 0
	}
	if !strings.Contains(outs[lose], "already exists") || !strings.Contains(outs[lose], "import") {
		v.add("the losing create does not say that the pipeline exists and to import it:\n%s", tail0(outs[lose], 20))
	}

	// 2. The loser imports it and applies its own description.
	loserDesc := fmt.Sprintf("from %c", 'a'+lose)
	dirs[lose].write("main.tf", config(loserDesc, true))
	if out, code := dirs[lose].run(ctx, "apply", "-auto-approve", "-input=false"); code != 0 {
		t.Fatalf("import and apply in the losing directory: exit %d\n%s", code, out)
	}
	runs++
	c := srv.Client(t, 0, nil)
	expect := func(step, desc string) *api.Pipeline {
		t.Helper()
		p, err := c.GetPipeline(ctx, api.DefaultProject, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if p.Description != desc {
			v.add("%s: the server's description is %q, want %q", step, p.Description, desc)
		}
		return p
	}
	expect("after the import", loserDesc)

	// 3. The winner saves a plan; the loser changes the pipeline; the winner
	// applies its stale plan.
	dirs[win].write("main.tf", config("winner's second thought", false))
	if out, code := dirs[win].run(ctx, "plan", "-out=stale.tfplan", "-input=false"); code != 0 {
		t.Fatalf("plan in the winning directory: exit %d\n%s", code, out)
	}
	dirs[lose].write("main.tf", config("loser's change", true))
	if out, code := dirs[lose].run(ctx, "apply", "-auto-approve", "-input=false"); code != 0 {
		t.Fatalf("apply in the losing directory: exit %d\n%s", code, out)
	}
	runs += 2
	out, code := dirs[win].run(ctx, "apply", "-input=false", "stale.tfplan")
	runs++
	staleRefused := code != 0 && (strings.Contains(out, "changed by someone else") || strings.Contains(out, "412"))
	after := expect("after the stale apply", "loser's change")
	if !staleRefused {
		v.add("the stale plan was not refused with a conflict (412, changed by someone else): exit %d\n%s", code, tail0(out, 20))
	}

	// 4. A fresh plan in the winner's directory shows the truth.
	out, code = dirs[win].run(ctx, "plan", "-detailed-exitcode", "-input=false")
	if code != 2 || !strings.Contains(out, `"loser's change" -> "winner's second thought"`) {
		v.add("after the conflict, plan should show the loser's description to be changed back (exit 2), got exit %d:\n%s", code, tail0(out, 30))
	}
	runs++
	report("race-terraform/sqlite", "terraform runs=%d concurrent creates: 1 won, 1 refused (409); stale plan refused=%v (server gen %d %q) violations=%d",
		runs, staleRefused, after.Generation, after.Description, v.count())
	v.fail(t)
}
