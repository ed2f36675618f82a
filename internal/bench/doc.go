// Package bench is `make bench`: the benchmarks that span packages and the
// report that turns every benchmark's output into one table.
//
// Its tests hold the benchmarks that need the whole server or Terraform:
//
//   - BenchmarkAPI: HTTP throughput and latency of create, get and list at
//     concurrency 1, 8 and 32 against an in-process mlopsd on SQLite and on
//     PostgreSQL (MLOPS_TEST_POSTGRES_URL; skipped without it), next to the
//     floor measured on the same database: raw single-row INSERTs and
//     primary-key SELECTs on the objects table.
//   - BenchmarkTerraform: terraform apply and plan (with refresh) of 200
//     mlops_model resources against 200 terraform_data resources, Terraform's
//     own no-op resource, with the same -parallelism.
//
// Report reads `go test -bench` output (this package's and the scheduler,
// drift, monitoring and gateway benchmarks') and renders the table in
// docs/performance.md; cmd/benchtable is its command.
package bench
