package client

import (
	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// pinParent reads the parent's reference list and passes it through
// FilterMissing, in the server's batches of at most 10,000 IDs. Every
// chunk the server holds is pinned for this session, so a garbage
// collection between the two backups or during this one cannot remove
// what unchanged files reuse; those IDs become the known set, which
// offer and the walker consult without another round trip. IDs the
// server lacks are left out of it: files that used them are read again.
func (p *backupPipe) pinParent(id format.ID) error {
	stream, err := p.r.Conn.Snapshots.ReadRefs(p.ctx, connect.NewRequest(&holdfastv1.ReadRefsRequest{Repo: p.r.Repo(), Id: id[:]}))
	if err != nil {
		return fromRPC("read parent references", err)
	}
	defer stream.Close()
	var last format.ID
	have := false
	for stream.Receive() {
		ids := stream.Msg().Ids
		for start := 0; start < len(ids); start += bkMaxFilterIDs {
			batch := ids[start:min(start+bkMaxFilterIDs, len(ids))]
			missing, err := p.sess.filterMissing(p.ctx, batch)
			if err != nil {
				return err
			}
			for i, raw := range batch {
				id, err := format.IDFromBytes(raw)
				if err != nil {
					return format.Corruptf("parent references: %v", err)
				}
				if have && id.Compare(last) <= 0 {
					return format.Corruptf("parent references are not in ascending order")
				}
				last, have = id, true
				if !missing[i] {
					p.known = append(p.known, id)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		return fromRPC("read parent references", err)
	}
	return nil
}
