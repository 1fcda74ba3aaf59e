package shard

import (
	"fmt"
	"strings"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// PackDir is the directory of a repository's shard objects; listing
// repo + "/" + PackDir + "/" on a store finds them all.
const PackDir = "packs"

// ObjectName returns the store object name of shard index of a pack:
//
//	<repo>/packs/<first 2 hex digits of pack ID>/<pack ID hex>.<index, 2 digits>
//
// The two-digit fan-out keeps directories of local stores small (256 per
// repository) and spreads S3 keys. repo must satisfy
// indexkey.ValidRepoName and index must be below MaxShards.
func ObjectName(repo string, pack format.ID, index int) string {
	h := pack.String()
	return fmt.Sprintf("%s/%s/%s/%s.%02d", repo, PackDir, h[:2], h, index)
}

// Prefix returns the object name prefix of every shard of a repository.
func Prefix(repo string) string { return repo + "/" + PackDir + "/" }

// ParseObjectName parses an ObjectName. It accepts only the exact form
// ObjectName produces (lower-case hex, matching fan-out directory, two-digit
// index below MaxShards), so a name maps to one shard and back.
func ParseObjectName(name string) (repo string, pack format.ID, index int, err error) {
	bad := func(why string) (string, format.ID, int, error) {
		return "", format.ID{}, 0, format.Corruptf("shard object name: %s", why)
	}
	repo, rest, ok := strings.Cut(name, "/")
	if !ok || !indexkey.ValidRepoName(repo) {
		return bad("bad repository")
	}
	rest, ok = strings.CutPrefix(rest, PackDir+"/")
	const tail = 2 + 1 + 2*format.IDSize + 1 + 2 // "xx/<hex>.NN"
	if !ok || len(rest) != tail || rest[2] != '/' || rest[tail-3] != '.' {
		return bad("not a shard name")
	}
	pack, err = format.ParseID(rest[3 : tail-3])
	if err != nil {
		return bad("bad pack ID")
	}
	d1, d2 := rest[tail-2], rest[tail-1]
	if d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' {
		return bad("bad index")
	}
	index = int(d1-'0')*10 + int(d2-'0')
	if index >= MaxShards {
		return bad("index out of range")
	}
	// Reject upper-case hex and a mismatched fan-out directory.
	if ObjectName(repo, pack, index) != name {
		return bad("not canonical")
	}
	return repo, pack, index, nil
}
