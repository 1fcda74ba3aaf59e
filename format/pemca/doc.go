// Package pemca decodes a PEM bundle of CA certificates into a pool: the
// client's --ca-file, a replication target's ca_file, and the CA bundle a
// ReplicateRequest may carry (SPEC.md §12.2, §12.5).
package pemca
