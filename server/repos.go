package server

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/keys"
)

// RepoService creates and lists repositories and keeps their key files
// (SPEC.md §12.2). Every handler authorizes before it reads anything else.
type RepoService struct{ *Server }

var _ holdfastv1connect.RepoServiceHandler = (*RepoService)(nil)

// CreateRepo creates a repository. Server admin only.
func (s *RepoService) CreateRepo(ctx context.Context, req *connect.Request[holdfastv1.CreateRepoRequest]) (*connect.Response[holdfastv1.CreateRepoResponse], error) {
	const op = "CreateRepo"
	if _, _, err := s.auth.authorize(req.Header(), "", ActServerAdmin); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	name := req.Msg.GetName()
	if _, err := s.repo.CreateRepository(ctx, name); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	s.log.Info("repository created", "repo", name)
	return connect.NewResponse(&holdfastv1.CreateRepoResponse{Name: name}), nil
}

// ListRepos lists every repository name, in name order. Server admin only.
func (s *RepoService) ListRepos(_ context.Context, req *connect.Request[holdfastv1.ListReposRequest]) (*connect.Response[holdfastv1.ListReposResponse], error) {
	const op = "ListRepos"
	if _, _, err := s.auth.authorize(req.Header(), "", ActServerAdmin); err != nil {
		return nil, toConnect(s.log, op, err)
	}
	resp := &holdfastv1.ListReposResponse{}
	err := s.repo.Index().Repos(func(name string, _ indexkey.RepoRecord) error {
		resp.Names = append(resp.Names, name)
		return nil
	})
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(resp), nil
}

// PutKeyFile stores a key file. The server cannot open a key file, but it
// can read its clear header (keys.Inspect), so garbage is refused here
// rather than found by a client that cannot unlock its repository.
func (s *RepoService) PutKeyFile(ctx context.Context, req *connect.Request[holdfastv1.PutKeyFileRequest]) (*connect.Response[holdfastv1.PutKeyFileResponse], error) {
	const op = "PutKeyFile"
	_, id, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActPutKey)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	blob := req.Msg.GetKeyFile()
	if len(blob) == 0 || len(blob) > indexkey.MaxKeyFileSize {
		return nil, toConnect(s.log, op, fmt.Errorf("%w: key file must be 1 to %d bytes", errBadRequest, indexkey.MaxKeyFileSize))
	}
	if _, err := keys.Inspect(blob); err != nil {
		// %v, not %w: a bad upload is the client's mistake, not stored
		// data gone corrupt, so it must not classify as data loss.
		return nil, toConnect(s.log, op, fmt.Errorf("%w: not a key file: %v", errBadRequest, err))
	}
	kid, err := s.repo.PutKeyFile(ctx, id, blob)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(&holdfastv1.PutKeyFileResponse{Id: kid[:]}), nil
}

// ListKeyFiles returns every key file of the repository. Any role of it.
func (s *RepoService) ListKeyFiles(_ context.Context, req *connect.Request[holdfastv1.ListKeyFilesRequest]) (*connect.Response[holdfastv1.ListKeyFilesResponse], error) {
	const op = "ListKeyFiles"
	_, id, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActList)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	resp := &holdfastv1.ListKeyFilesResponse{}
	err = s.repo.KeyFiles(id, func(kid format.ID, blob []byte) error {
		resp.KeyFiles = append(resp.KeyFiles, &holdfastv1.KeyFile{
			Id:      append([]byte(nil), kid[:]...),
			KeyFile: append([]byte(nil), blob...), // the index may reuse blob
		})
		return nil
	})
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(resp), nil
}

// GetStats counts what the repository holds. Any role of it.
//
// Cost: three bounded scans of the repository's 's', 'c' and 'p' key
// ranges, so time grows with the number of chunks (about a second per
// few million chunks, from the page cache). Fine for an occasional
// `holdfast stats`; a dashboard polling it should get counters kept in
// the index instead (TODO(server): maintain per-repository totals).
func (s *RepoService) GetStats(ctx context.Context, req *connect.Request[holdfastv1.GetStatsRequest]) (*connect.Response[holdfastv1.GetStatsResponse], error) {
	const op = "GetStats"
	_, id, err := s.auth.authorize(req.Header(), req.Msg.GetRepo(), ActList)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	st, err := repoStats(ctx, s.Server, id)
	if err != nil {
		return nil, toConnect(s.log, op, err)
	}
	return connect.NewResponse(st), nil
}

// repoStats scans repository id's index ranges. It checks ctx every
// statsCheckEvery entries, so a client that gives up stops the scan.
func repoStats(ctx context.Context, s *Server, id uint32) (*holdfastv1.GetStatsResponse, error) {
	const statsCheckEvery = 1 << 14
	st := &holdfastv1.GetStatsResponse{}
	x := s.repo.Index()
	err := x.Snapshots(id, func(format.ID, indexkey.SnapshotRecord) error {
		st.Snapshots++
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = x.Chunks(id, func(format.ID, indexkey.ChunkLoc) error {
		st.Chunks++
		if st.Chunks%statsCheckEvery == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = x.Packs(id, func(_ format.ID, p indexkey.PackRecord) error {
		st.Packs++
		st.LiveBytes += p.LiveBytes
		st.PackBytes += uint64(p.Length)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
