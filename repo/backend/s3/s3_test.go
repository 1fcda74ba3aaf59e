package s3_test

import (
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/backendtest"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
)

func TestConformance(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	// More than two parts of the minimum size, with a short last part.
	large := backendtest.LargeSize(2*s3.MinPartSize + 12345)
	t.Run("Prefix", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend { return srv.NewBackend(t, false) }, large)
	})
	t.Run("NoPrefix", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			b, err := s3.New(t.Context(), srv.Config(srv.NewBucket(t, false), ""))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, large)
	})
}
