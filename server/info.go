package server

import (
	"context"

	"connectrpc.com/connect"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
)

// HealthCheck reports problems that stop the server from serving; an empty
// result means healthy. Each problem is one line without internal paths.
type HealthCheck func(ctx context.Context) []string

// InfoService answers GetInfo and Health. It needs no token.
type InfoService struct {
	formats map[string]uint32
	check   HealthCheck
}

var _ holdfastv1connect.InfoServiceHandler = (*InfoService)(nil)

// NewInfoService returns the info service. formats lists the format versions
// the server writes (name → version); check may be nil.
func NewInfoService(formats map[string]uint32, check HealthCheck) *InfoService {
	return &InfoService{formats: formats, check: check}
}

// GetInfo returns versions.
func (s *InfoService) GetInfo(context.Context, *connect.Request[holdfastv1.GetInfoRequest]) (*connect.Response[holdfastv1.GetInfoResponse], error) {
	return connect.NewResponse(&holdfastv1.GetInfoResponse{
		ServerVersion:  format.Version,
		ApiVersion:     format.APIVersion,
		FormatVersions: s.formats,
	}), nil
}

// Health runs the health check.
func (s *InfoService) Health(ctx context.Context, _ *connect.Request[holdfastv1.HealthRequest]) (*connect.Response[holdfastv1.HealthResponse], error) {
	resp := &holdfastv1.HealthResponse{Status: holdfastv1.HealthResponse_STATUS_SERVING}
	if s.check != nil {
		if problems := s.check(ctx); len(problems) > 0 {
			resp.Status = holdfastv1.HealthResponse_STATUS_NOT_SERVING
			resp.Problems = problems
		}
	}
	return connect.NewResponse(resp), nil
}
