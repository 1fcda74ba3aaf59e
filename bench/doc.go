// Package bench holds the benchmark tooling of Holdfast: deterministic
// data sets (bench/dataset), a harness that runs the real holdfast and
// holdfastd binaries as processes and measures them (bench/harness), and
// the scenario commands built on both (bench/cmd/...).
//
// Nothing in here is linked into the shipped binaries.
package bench
