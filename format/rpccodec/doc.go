// Package rpccodec is the protobuf codec the client and the server give
// connect (connect.WithCodec). It encodes every message, and decodes every
// message but two, exactly as connect's own binary codec does. The two are
// the bulk messages, which carry almost every byte a backup or a restore
// moves:
//
//   - PutChunksRequest (the server receives them during a backup): every
//     bytes field of a message is copied into one pooled buffer instead of
//     a fresh allocation each. The server calls [ReleasePut] once the
//     message's chunks are in a pack.
//   - ReadChunksResponse (the client receives one per chunk during a
//     restore): the envelope is copied into a pooled buffer, which the
//     client hands back with [ReleaseEnvelope] once it has opened it.
//
// Why: the generated decoder allocates every received byte again, so a
// backup or restore of a few GiB produced as much garbage, which cost the
// collector and, on virtual machines that hand freed memory back to their
// host, a page fault for nearly every page.
//
// The wire format is unchanged, and the decoders read fields as the
// generated code does: the last occurrence of a singular field wins,
// repeated fields append, a known field number with another wire type is
// an unknown field, unknown fields are skipped (not kept), and a string
// that is not UTF-8 is refused. fuzz/rpccodec_test.go holds both decoders
// to the generated code's results.
package rpccodec
