package format

// Limits every decoder enforces. They bound what a hostile or damaged object
// can make a reader allocate, and they are part of the format: an encoder
// never produces anything larger (SPEC.md §2.3).
const (
	// MaxChunkSize is the largest plaintext chunk of any repository. The
	// chunker's Max parameter may not exceed it.
	MaxChunkSize = 16 << 20

	// MaxEnvelopeSize is the largest sealed chunk envelope: a chunk that
	// does not compress is stored as is, plus a fixed header and tag.
	MaxEnvelopeSize = MaxChunkSize + 1024

	// MaxPackSize is the largest pack. The pack writer's target is far
	// below it (SPEC.md §8); this bound only protects readers.
	MaxPackSize = 1 << 30

	// MaxNameLen bounds a file name, user or group name, host, tag or
	// source name.
	MaxNameLen = 4096
)
