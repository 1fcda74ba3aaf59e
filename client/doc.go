// Package client is the thin Holdfast client library behind cmd/holdfast:
// it chunks, hashes, seals and uploads files (backup), and streams chunks
// back into a directory, a Docker volume or a tar stream (restore). All
// encryption happens here; the server sees only sealed chunks and the clear
// snapshot header. It must not import Pebble or package repo, so the client
// binary stays small and static (SPEC.md §9, CONTRACT.md).
package client
