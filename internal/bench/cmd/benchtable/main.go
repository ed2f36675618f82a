// Command benchtable reads `go test -bench` output (files, or stdin), prints
// the performance table and writes docs/performance.md (see internal/bench).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/mlopsplane/terraform-provider-mlops/internal/bench"
)

func main() {
	out := flag.String("o", "", "also write the document to this file, such as docs/performance.md")
	flag.Parse()
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(out string, files []string) error {
	var readers []io.Reader
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		defer fh.Close()
		readers = append(readers, fh)
	}
	if len(readers) == 0 {
		readers = append(readers, os.Stdin)
	}
	res, err := bench.Parse(io.MultiReader(readers...))
	if err != nil {
		return err
	}
	doc := bench.Document(res, runtime.NumCPU())
	fmt.Print(bench.Markdown(bench.Rows(res)))
	if out == "" {
		return nil
	}
	return os.WriteFile(out, []byte(doc), 0o644)
}
