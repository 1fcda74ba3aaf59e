package dataset

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"sort"
)

// The database-like file: a fixed-size file of DBPageSize pages, each a
// header and packed text records, that [MutateDB] rewrites page by page in
// place, the way an embedded database (SQLite, a Pebble/LevelDB file,
// PostgreSQL's heap) changes its file between two backups. Content-defined
// chunking must re-upload the chunks around every rewritten page, so this
// is the worst case of the data set for incremental backups: scattered
// small writes instead of [Mutate]'s few large extents.
//
// Page layout (little-endian):
//
//	0   8  magic "HFDBPAGE"
//	8   8  page number
//	16  8  LSN: 0 when written by WriteDB, MutateDB's seed + 1 when rewritten
//	24  4  record count
//	28  4  CRC-32 (IEEE) of bytes 32..DBPageSize
//	32  …  records: "id=… user=… balance=… note=…\n", zero-padded
const (
	DBPageSize = 8 << 10
	dbHeader   = 32
	dbMagic    = "HFDBPAGE"
	// dbHotShare of the rewritten pages fall in the last dbHotPct of the
	// file, the rest anywhere: recent rows and the index pages above them
	// change most, old rows rarely.
	dbHotShare = 80
	dbHotPct   = 10
)

// WriteDB writes a database-like file of size bytes (rounded down to whole
// pages, at least one) at path. The same size and seed write the same
// bytes; the mtime is fixed like Generate's.
func WriteDB(path string, size int64, seed uint64) error {
	pages := max(size/DBPageSize, 1)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("dataset: db: %w", err)
	}
	const batch = 128 // pages per write
	buf := make([]byte, 0, batch*DBPageSize)
	for p := int64(0); p < pages && err == nil; p++ {
		buf = appendPage(buf, seed, p, 0)
		if len(buf) == cap(buf) || p == pages-1 {
			_, err = f.Write(buf)
			buf = buf[:0]
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(path, baseTime, baseTime)
	}
	if err != nil {
		return fmt.Errorf("dataset: db: %w", err)
	}
	return nil
}

// MutateDB rewrites about fraction (0 < fraction ≤ 1) of the pages of the
// database-like file at path in place, with new records and LSN seed+1:
// page 0 always (a header that counts changes), then distinct pages, most
// of them near the end of the file. The size stays; the mtime moves. The
// same file, fraction and seed give the same bytes.
func MutateDB(path string, fraction float64, seed uint64) (Mutation, error) {
	if !(fraction > 0 && fraction <= 1) {
		return Mutation{}, fmt.Errorf("dataset: db: fraction %v is not in (0, 1]", fraction)
	}
	st, err := os.Stat(path)
	if err != nil {
		return Mutation{}, fmt.Errorf("dataset: db: %w", err)
	}
	pages := st.Size() / DBPageSize
	if pages == 0 || st.Size()%DBPageSize != 0 {
		return Mutation{}, fmt.Errorf("dataset: db: size %d is not a whole number of %d-byte pages", st.Size(), DBPageSize)
	}
	chosen := pickPages(pages, max(int64(float64(pages)*fraction), 1), seed)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return Mutation{}, fmt.Errorf("dataset: db: %w", err)
	}
	buf := make([]byte, 0, DBPageSize)
	for _, p := range chosen {
		buf = appendPage(buf[:0], seed, p, seed+1)
		if _, err := f.WriteAt(buf, p*DBPageSize); err != nil {
			f.Close()
			return Mutation{}, fmt.Errorf("dataset: db: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return Mutation{}, fmt.Errorf("dataset: db: %w", err)
	}
	n := int64(len(chosen))
	return Mutation{Files: 1, Regions: int(n), Bytes: n * DBPageSize, Total: st.Size()}, nil
}

// pickPages chooses n distinct pages of pages, page 0 first, then the rest
// in ascending order (the order does not change the result, only the I/O).
func pickPages(pages, n int64, seed uint64) []int64 {
	rng := rand.New(rand.NewPCG(seed, 0xdb))
	n = min(n, pages)
	set := map[int64]bool{0: true}
	hotStart := pages - max(pages*dbHotPct/100, 1)
	for int64(len(set)) < n {
		p := rng.Int64N(pages)
		if rng.IntN(100) < dbHotShare {
			p = hotStart + rng.Int64N(pages-hotStart)
		}
		set[p] = true
	}
	out := make([]int64, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var dbUsers = []string{"ada", "brian", "grace", "ken", "linus", "margaret", "rob", "dennis", "barbara", "edsger"}

// appendPage appends page p as written with LSN lsn; its records come from
// (seed, p, lsn), so a rewrite differs from the original page.
func appendPage(dst []byte, seed uint64, p int64, lsn uint64) []byte {
	rng := rand.New(rand.NewPCG(seed^uint64(p)*0x9e3779b97f4a7c15, lsn))
	start := len(dst)
	dst = append(dst, dbMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(p))
	dst = binary.LittleEndian.AppendUint64(dst, lsn)
	dst = append(dst, make([]byte, 8)...) // count and CRC, set below
	var count uint32
	for {
		rec := fmt.Appendf(nil, "id=%d user=%s balance=%d note=%x\n",
			p*64+int64(count), dbUsers[rng.IntN(len(dbUsers))], rng.Int64N(1e9), rng.Uint64())
		if len(dst)-start+len(rec) > DBPageSize {
			break
		}
		dst = append(dst, rec...)
		count++
	}
	dst = append(dst, make([]byte, DBPageSize-(len(dst)-start))...)
	page := dst[start:]
	binary.LittleEndian.PutUint32(page[24:], count)
	binary.LittleEndian.PutUint32(page[28:], crc32.ChecksumIEEE(page[dbHeader:]))
	return dst
}
