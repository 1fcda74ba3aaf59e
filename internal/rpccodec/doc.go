// Package rpccodec is the Connect codec of the server's upload service: the
// standard binary protobuf codec, except that the envelopes of a
// PutChunksRequest are decoded into pooled buffers (package envbuf).
//
// proto.Unmarshal gives every envelope a fresh allocation. A 2 GiB first
// backup sends about 1.5 GB of envelopes, each copied once more into the
// open pack right after it is checked, so those allocations are pure
// churn: page faults on fresh memory, zeroing, garbage collection.
//
// Only the plain encoding takes the pooled path (every field of the
// schema, each with its wire type, nothing else). Anything else, such as
// an unknown field, a field under the wrong wire type or a repo that is
// not UTF-8, goes through proto.Unmarshal whole, so the codec accepts and
// refuses exactly what the standard one does, with equal results
// (FuzzPutChunksCodec).
package rpccodec
