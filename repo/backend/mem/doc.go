// Package mem is an in-memory [backend.Backend] for tests that still checks
// its callers: Put reads the payload twice and refuses one that does not yield
// exactly Len() bytes or yields different bytes (by BLAKE3) the second time,
// and it stores a copy; Get returns copies, so no caller can alter stored
// objects through a shared slice. It also records Object Lock retention
// ([backend.Retainer]) so that lock code can be tested without S3.
package mem
