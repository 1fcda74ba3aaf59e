// Package server holds the Connect-RPC handlers of holdfastd: it translates
// between the API types in format/gen and the storage engine in package repo,
// authenticates every request, and maps errors to Connect codes in one place.
// It serves Connect, gRPC and gRPC-Web over HTTP/1.1, h2c and TLS
// (SPEC.md §9). cmd/holdfastd only wires it up. Replication's RPCs and
// configured targets are here (replicate*.go); the pushing itself is
// package server/replication (SPEC.md §12.5).
package server
