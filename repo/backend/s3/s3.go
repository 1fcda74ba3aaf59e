package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Retainer = (*Backend)(nil)
)

// Backend is a store in an S3 bucket under a prefix.
type Backend struct {
	client    *s3sdk.Client
	cfg       Config
	keyPrefix string // cfg.Prefix + "/", or ""
	avail     availability
}

// New returns a store for cfg. It loads the AWS configuration (region,
// credentials chain) but makes no request, so it succeeds while the service
// is down.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxRetries + 1
				o.MaxBackoff = cfg.MaxBackoff
				// An endpoint that did not answer for ResponseTimeout
				// is not retried: another attempt would wait as long
				// again, and the erasure layer reads and writes around
				// a silent store (SPEC.md §10.5).
				o.Retryables = append([]retry.IsErrorRetryable{noRetryOnSilence}, o.Retryables...)
			})
		}),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithLogger(logging.Nop{}),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = cfg.ResponseTimeout
		})),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The loader's errors may name shared config files, never secrets.
		return nil, fmt.Errorf("s3: %s: load AWS configuration: %w", cfg, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3sdk.NewFromConfig(awsCfg, func(o *s3sdk.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	b := &Backend{client: client, cfg: cfg}
	if cfg.Prefix != "" {
		b.keyPrefix = cfg.Prefix + "/"
	}
	return b, nil
}

// String implements [backend.Backend]: "s3://bucket/prefix".
func (b *Backend) String() string { return b.cfg.String() }

func (b *Backend) key(name backend.Name) *string { return aws.String(b.keyPrefix + string(name)) }

// Get implements [backend.Backend] with a ranged GetObject.
func (b *Backend) Get(ctx context.Context, name backend.Name, offset, length int64) (io.ReadCloser, error) {
	if err := name.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", name, err)
	}
	if offset < 0 || (length > 0 && offset > math.MaxInt64-length) {
		return nil, fmt.Errorf("s3: get %s: offset %d length %d: %w", name, offset, length, backend.ErrRange)
	}
	if length == 0 {
		// S3 has no empty range: check existence and bounds with a HEAD.
		return b.emptyRange(ctx, name, offset, length)
	}
	in := &s3sdk.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: b.key(name)}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		err = wrapErr("get", string(name), err)
		if errors.Is(err, backend.ErrRange) {
			// Starting exactly at the end is an empty read, not an error;
			// S3 cannot express it.
			return b.emptyRange(ctx, name, offset, length)
		}
		return nil, err
	}
	if length > 0 {
		got := aws.ToInt64(out.ContentLength)
		switch {
		case got < length:
			out.Body.Close()
			return nil, fmt.Errorf("s3: get %s: offset %d length %d: object ends after %d bytes: %w",
				name, offset, length, got, backend.ErrRange)
		case got > length:
			out.Body.Close()
			return nil, fmt.Errorf("s3: get %s: server ignored the range (sent %d bytes, asked %d)", name, got, length)
		}
	}
	return out.Body, nil
}

// emptyRange answers a Get that S3 cannot express as a range: it is empty if
// the object exists and offset is at most its size (for length < 0: exactly
// its size).
func (b *Backend) emptyRange(ctx context.Context, name backend.Name, offset, length int64) (io.ReadCloser, error) {
	fi, err := b.stat(ctx, "get", name)
	if err != nil {
		return nil, err
	}
	if offset > fi.Size || (length < 0 && offset != fi.Size) {
		return nil, fmt.Errorf("s3: get %s: offset %d length %d of %d bytes: %w",
			name, offset, length, fi.Size, backend.ErrRange)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// Stat implements [backend.Backend] with HeadObject.
func (b *Backend) Stat(ctx context.Context, name backend.Name) (backend.Info, error) {
	if err := name.Validate(); err != nil {
		return backend.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return backend.Info{}, fmt.Errorf("s3: stat %s: %w", name, err)
	}
	return b.stat(ctx, "stat", name)
}

func (b *Backend) stat(ctx context.Context, op string, name backend.Name) (backend.Info, error) {
	out, err := b.client.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: b.key(name)})
	if err != nil {
		return backend.Info{}, wrapErr(op, string(name), err)
	}
	return backend.Info{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List implements [backend.Backend] with paginated ListObjectsV2, in the
// bucket's (lexical) key order. Keys under the prefix that are not valid
// names (written by someone else) are skipped.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	if err := backend.ValidatePrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list %q: %w", prefix, err)
	}
	pages := s3sdk.NewListObjectsV2Paginator(b.client, &s3sdk.ListObjectsV2Input{
		Bucket: aws.String(b.cfg.Bucket),
		Prefix: aws.String(b.keyPrefix + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return wrapErr("list", fmt.Sprintf("%q", prefix), err)
		}
		for _, obj := range page.Contents {
			name, ok := strings.CutPrefix(aws.ToString(obj.Key), b.keyPrefix)
			if !ok || backend.Name(name).Validate() != nil {
				continue
			}
			info := backend.Info{Name: backend.Name(name), Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements [backend.Backend] with DeleteObject, which S3 answers
// with success for a missing key.
func (b *Backend) Delete(ctx context.Context, name backend.Name) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: delete %s: %w", name, err)
	}
	_, err := b.client.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: b.key(name)})
	if err != nil {
		err = wrapErr("delete", string(name), err)
		if errors.Is(err, backend.ErrNotExist) {
			return nil // some servers answer 404 for a missing key
		}
		return err
	}
	return nil
}
