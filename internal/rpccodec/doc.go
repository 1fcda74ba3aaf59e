// Package rpccodec is the Connect codec of the envelope streams: the
// standard binary protobuf codec, except that the envelopes of a
// PutChunksRequest (the server receiving an upload) and of a
// ReadChunksResponse (the client receiving a restore) are decoded into
// pooled buffers (package envbuf).
//
// proto.Unmarshal gives every envelope a fresh allocation. A 2 GiB first
// backup sends about 1.5 GB of envelopes, each copied into the open pack
// right after it is checked, and a restore receives as many, each opened
// into a plaintext buffer at once, so those allocations are pure churn:
// page faults on fresh memory, zeroing, garbage collection.
//
// Only the plain encoding takes the pooled path (every field of the
// schema, each with its wire type, nothing else). Anything else, such as
// an unknown field, a field under the wrong wire type or a repo that is
// not UTF-8, goes through proto.Unmarshal whole, so the codec accepts and
// refuses exactly what the standard one does, with equal results
// (FuzzPutChunksCodec, FuzzReadChunksCodec).
package rpccodec
