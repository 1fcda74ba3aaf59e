package client

import holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"

// putMessage is the PutChunks message an upload loop is filling.
type putMessage struct {
	items  []*bkChunk
	chunks []*holdfastv1.Chunk
	size   int // encoded size bound of chunks
}

// wireSize bounds the encoded size of chunk it within a message.
func wireSize(it *bkChunk) int { return len(it.env) + bkChunkOverhead }

// overflows reports whether adding it would take a non-empty message past
// bkMaxPutMessage: the message must be sent first. A chunk larger than the
// bound on its own still goes, alone.
func (m *putMessage) overflows(it *bkChunk) bool {
	return len(m.items) > 0 && m.size+wireSize(it) > bkMaxPutMessage
}

func (m *putMessage) add(it *bkChunk) {
	m.items = append(m.items, it)
	m.chunks = append(m.chunks, &holdfastv1.Chunk{Id: it.id[:], Envelope: it.env, Checksum: it.sum[:]})
	m.size += wireSize(it)
}

// full reports whether the message is worth sending without waiting for
// more: within a sixteenth of the bound, where the next chunk of average
// size would overflow it anyway.
func (m *putMessage) full() bool { return m.size >= bkMaxPutMessage-bkMaxPutMessage/16 }

func (m *putMessage) reset() {
	clear(m.chunks) // drop the envelopes' references
	m.items, m.chunks, m.size = m.items[:0], m.chunks[:0], 0
}
