package chunker

import (
	"fmt"
	"math/bits"

	"github.com/holdfast-backup/holdfast/format"
)

// Params are a repository's content-defined chunking parameters. They are
// fixed when the repository is created (stored in every key file, SPEC.md
// §4) because changing them would change every chunk boundary and so defeat
// deduplication against existing data.
type Params struct {
	Min int // no cut before Min bytes (except at end of input)
	Avg int // normalization point; a power of two
	Max int // a cut is forced at Max bytes
}

// DefaultParams are the parameters of a new repository: 512 KiB / 1 MiB /
// 8 MiB, a good fit for volume data where most bytes live in large files.
var DefaultParams = Params{Min: 512 << 10, Avg: 1 << 20, Max: 8 << 20}

// Limits on parameters any repository may use.
const (
	MinAvg = 256 // smallest allowed Avg; below that the index costs more than dedup saves
)

// Validate reports whether p can be used: MinAvg <= Avg, Avg a power of two,
// 64 <= Min <= Avg <= Max <= format.MaxChunkSize.
func (p Params) Validate() error {
	switch {
	case p.Avg < MinAvg || bits.OnesCount(uint(p.Avg)) != 1:
		return fmt.Errorf("chunker: average size %d must be a power of two >= %d", p.Avg, MinAvg)
	case p.Min < 64 || p.Min > p.Avg:
		return fmt.Errorf("chunker: minimum size %d must be in [64, average %d]", p.Min, p.Avg)
	case p.Max < p.Avg || p.Max > format.MaxChunkSize:
		return fmt.Errorf("chunker: maximum size %d must be in [average %d, %d]", p.Max, p.Avg, format.MaxChunkSize)
	}
	return nil
}

// String formats p as min/avg/max in bytes.
func (p Params) String() string { return fmt.Sprintf("%d/%d/%d", p.Min, p.Avg, p.Max) }
