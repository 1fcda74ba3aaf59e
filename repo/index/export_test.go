package index

import "github.com/cockroachdb/pebble/v2"

// RawSet writes v under k with the raw Pebble handle, bypassing the typed
// encoders, so tests can plant values the decoders must refuse.
func (x *Index) RawSet(k, v []byte) error { return x.db.Set(k, v, pebble.Sync) }
