// Package replication pushes a repository's snapshots from the server it
// runs in to another Holdfast server (SPEC.md §12.5).
//
// The source reads its own storage engine directly ([repo.Repo]) and talks
// to the target through the target's ordinary Connect API with a
// `replicate` token, exactly as a backup client would, except that the
// chunks it uploads are the sealed envelopes as stored: neither server
// holds a key. For each snapshot the target lacks, oldest first:
//
//	key files       ListKeyFiles / PutKeyFile (once per pass)
//	session         BeginSession, KeepAlive while it runs
//	negotiate       ReadRefs (source engine) -> FilterMissing, 10,000 IDs at a time
//	stream          ReadChunk (source engine) -> PutChunks, N parallel streams, token bucket
//	commit          Commit with the same header bytes and reference list -> same snapshot ID
//
// A [Pusher] does one pass ([Pusher.Pass]) or runs continuously
// ([Pusher.Run]): a pass after every commit notification and every rescan
// interval, with capped exponential backoff and jitter while the target
// fails. Its [Stats] feed the server's metrics.
//
// Neighbours: server (the ReplicationService handler, configured targets,
// commit notifications and metrics), repo (the source engine). The target
// is reached with [Dial], which speaks the API the way package client does
// (server may not import client: client's tests import server).
package replication
