// Package dataset writes deterministic benchmark data sets shaped like the
// volumes Holdfast backs up, and changes them in place, deterministically.
//
// A data set of Config.Size bytes (default 2 GiB) holds, by bytes:
//
//	~24%  small text files (≥ 50,000 at 2 GiB): a source tree, 64 B–64 KiB,
//	      log-uniform sizes, in nested package directories; zstd packs
//	      them to about a third
//	~36%  large half-compressible files: 32 KiB random, 32 KiB text, repeated
//	~30%  incompressible files: a few large ones and many 1–8 MiB "media"
//	~10%  duplicates: copies of some small files (vendored) and whole
//	      copies of one large and one incompressible file
//
// The same Config always yields the same bytes, names and mtimes, so runs on
// different machines and days back up the same data. [Generate] writes a
// set and returns its [Manifest] (every file with its size and BLAKE3-256);
// [Mutate] changes a fraction of the bytes in place; [Scan] builds the
// manifest of a directory (and times BLAKE3 over its bytes, the baseline
// the benchmarks report next to their throughput); [Verify] checks that a
// directory holds exactly a manifest's files, bit for bit.
//
// The issue #5 scenario runner is bench/cmd/issue5; see its doc comment for
// how the numbers are measured.
package dataset
