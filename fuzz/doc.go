// Package fuzz holds the fuzz targets for every decoder in format/ and for
// the chunker's invariants. They run with `make fuzz` (bounded time per
// target) and in CI; seed corpora live in testdata/fuzz/<Target>/ and a seed
// that once crashed a decoder names the issue it came from.
package fuzz
