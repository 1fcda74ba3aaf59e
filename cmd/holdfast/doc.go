// Command holdfast is the thin Holdfast client: a static binary (no cgo, no
// Pebble) that backs up paths, Docker volumes and containers, and Kubernetes
// volumes to a holdfastd server and restores them. See CONTRACT.md for the
// commands; the work is done by package client.
package main
