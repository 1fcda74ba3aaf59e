// Package repotest damages what the storage engine stored, for tests of
// the readers above it (server, client) that must still return correct
// bytes. It is imported by tests only.
package repotest
