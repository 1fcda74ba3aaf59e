package snaptest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/client"
	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// Builder collects the chunks of one snapshot and commits it. It is not
// safe for concurrent use. Errors are sticky: the first one is returned by
// Commit.
type Builder struct {
	r      *client.Repository
	ctx    context.Context
	chunks map[format.ID][]byte // sealed envelopes by ID
	err    error
}

// New starts a snapshot in r.
func New(ctx context.Context, r *client.Repository) *Builder {
	return &Builder{r: r, ctx: ctx, chunks: map[format.ID][]byte{}}
}

// Put seals plain as a chunk of type typ and returns its extent.
func (b *Builder) Put(typ seal.Type, plain []byte) tree.Extent {
	id := b.r.Sealer.ID(plain)
	env, err := b.r.Sealer.Seal(nil, typ, id, plain, nil)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("seal: %w", err)
	}
	b.chunks[id] = env
	return tree.Extent{ID: id, Length: uint64(len(plain))}
}

// File returns the entry of a regular file holding data in one chunk.
func (b *Builder) File(name string, mode uint32, data []byte) tree.Entry {
	e := entry(name, tree.File, mode)
	e.Size = uint64(len(data))
	if len(data) > 0 {
		e.Content = []tree.Extent{b.Put(seal.TypeData, data)}
	}
	return e
}

// Dir returns the entry of a directory holding kids.
func (b *Builder) Dir(name string, mode uint32, kids ...tree.Entry) tree.Entry {
	e := entry(name, tree.Dir, mode)
	e.Links = 2
	e.Subtree = b.Listing(kids...)
	return e
}

// Symlink returns the entry of a symbolic link to target.
func (b *Builder) Symlink(name, target string) tree.Entry {
	e := entry(name, tree.Symlink, 0o777)
	e.LinkTarget = target
	return e
}

func entry(name string, typ tree.Type, mode uint32) tree.Entry {
	const t = int64(1_700_000_000_000_000_000)
	return tree.Entry{Name: name, Type: typ, Mode: mode, MTime: t, ATime: t, CTime: t, Links: 1}
}

// Listing encodes entries (sorted by name) as a directory listing and
// stores it.
func (b *Builder) Listing(entries ...tree.Entry) []tree.Extent {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(x, y tree.Entry) int { return bytes.Compare([]byte(x.Name), []byte(y.Name)) })
	raw, err := tree.Encode(entries)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("encode listing: %w", err)
	}
	return b.Tree(raw)
}

// Tree stores raw listing bytes as they are (see [RawTree]).
func (b *Builder) Tree(raw []byte) []tree.Extent {
	return []tree.Extent{b.Put(seal.TypeTree, raw)}
}

// Record returns the encoded record (length prefix and body) of one entry,
// for [RawTree].
func Record(e tree.Entry) ([]byte, error) {
	raw, err := tree.Encode([]tree.Entry{e})
	if err != nil {
		return nil, err
	}
	return raw[len(tree.Magic)+1 : len(raw)-1-1-blake3.New().Size()], nil // magic+version … end marker, count 1, checksum
}

// RawTree splices encoded records into a listing with a valid trailer: the
// way to make listings the encoder refuses to write (duplicates, bad
// names, wrong order).
func RawTree(records ...[]byte) []byte {
	out := []byte(tree.Magic + "\x01")
	for _, r := range records {
		out = append(out, r...)
	}
	out = append(out, 0)
	out = binary.AppendUvarint(out, uint64(len(records)))
	sum := blake3.Sum256(out)
	return append(out, sum[:]...)
}

// Commit uploads every chunk in one session and commits a signed snapshot
// whose root listing is root. It returns the snapshot ID.
func (b *Builder) Commit(root []tree.Extent) (format.ID, error) {
	if b.err != nil {
		return format.ID{}, b.err
	}
	repo := b.r.Repo()
	begin, err := b.r.Upload.BeginSession(b.ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: repo}))
	if err != nil {
		return format.ID{}, fmt.Errorf("begin session: %w", err)
	}
	sid := begin.Msg.SessionId
	refs := make([]format.ID, 0, len(b.chunks))
	stream := b.r.Upload.PutChunks(b.ctx)
	for id, env := range b.chunks {
		refs = append(refs, id)
		sum := blake3.Sum256(env)
		err := stream.Send(&holdfastv1.PutChunksRequest{Repo: repo, SessionId: sid,
			Chunks: []*holdfastv1.Chunk{{Id: bytes.Clone(id[:]), Envelope: env, Checksum: sum[:]}}})
		if err != nil {
			break // CloseAndReceive says why
		}
	}
	if _, err := stream.CloseAndReceive(); err != nil {
		return format.ID{}, fmt.Errorf("put chunks: %w", err)
	}
	slices.SortFunc(refs, format.ID.Compare)
	sum, err := snapshot.RefsHash(refs)
	if err != nil {
		return format.ID{}, err
	}
	h := &snapshot.Header{Time: time.Now().UnixNano(), Host: "snaptest",
		Source: snapshot.Source{Kind: snapshot.KindPath, Name: "/snaptest"}, Paths: []string{"/snaptest"},
		Root: root, ClientVersion: "snaptest", RefCount: uint64(len(refs)), RefsHash: sum}
	h.Sign(b.r.Keys.MAC)
	ids := make([][]byte, len(refs))
	for i := range refs {
		ids[i] = bytes.Clone(refs[i][:])
	}
	commit := b.r.Upload.Commit(b.ctx)
	if err := commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Header{Header: &holdfastv1.CommitHeader{Repo: repo, SessionId: sid, Header: h.Encode()}}}); err == nil {
		commit.Send(&holdfastv1.CommitRequest{Msg: &holdfastv1.CommitRequest_Refs{Refs: &holdfastv1.RefsBatch{Ids: ids}}})
	}
	resp, err := commit.CloseAndReceive()
	if err != nil {
		return format.ID{}, fmt.Errorf("commit: %w", err)
	}
	return format.ID(resp.Msg.SnapshotId), nil
}
