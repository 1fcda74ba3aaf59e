package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// SetRetention implements [backend.Retainer] with PutObjectRetention on the
// object's current version. S3 refuses it on a bucket without Object Lock,
// and refuses to shorten a compliance retention ([backend.ErrPermission]).
func (b *Backend) SetRetention(ctx context.Context, name backend.Name, mode backend.RetentionMode, until time.Time) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: set retention %s: %w", name, err)
	}
	var m types.ObjectLockRetentionMode
	switch mode {
	case backend.RetentionGovernance:
		m = types.ObjectLockRetentionModeGovernance
	case backend.RetentionCompliance:
		m = types.ObjectLockRetentionModeCompliance
	default:
		return fmt.Errorf("s3: set retention %s: unknown mode %q", name, mode)
	}
	_, err := b.client.PutObjectRetention(ctx, &s3sdk.PutObjectRetentionInput{
		Bucket: aws.String(b.cfg.Bucket),
		Key:    b.key(name),
		Retention: &types.ObjectLockRetention{
			Mode:            m,
			RetainUntilDate: aws.Time(until.UTC()),
		},
	})
	if err != nil {
		return wrapErr("set retention", string(name), err)
	}
	return nil
}
