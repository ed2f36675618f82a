// Package chaos is the reliability suite that `make chaos` runs (and CI, with
// bounded sizes). It has no code of its own: its tests build the real mlopsd
// and provider binaries and break them from the outside.
//
//   - Crash during apply: terraform applies hundreds of resources while mlopsd
//     is SIGKILLed and restarted; the server must end up holding exactly the
//     declared objects and the next plan must be empty.
//   - Races: concurrent writers with If-Match, and two Terraform working
//     directories managing one object; the loser must get a clear conflict.
//   - Load: concurrent Go clients on SQLite and PostgreSQL; no 5xx, and every
//     acknowledged write reads back intact.
//   - Database outage: a private PostgreSQL stopped under load; the API answers
//     503 with Retry-After, never hangs, and recovers by itself.
//   - Graceful shutdown: SIGTERM under load with a long pipeline step running.
//
// The tests skip unless MLOPS_CHAOS=1 (set by `make chaos`), so `go test ./...`
// stays fast. Sizes come from MLOPS_CHAOS_RESOURCES, MLOPS_CHAOS_KILLS,
// MLOPS_LOAD_CLIENTS, MLOPS_LOAD_SECONDS and MLOPS_CHAOS_OUTAGE_SECONDS; every
// scenario prints "CHAOS ..." lines with its figures.
package chaos
