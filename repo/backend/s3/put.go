package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Put implements [backend.Backend]: one PutObject up to PartSize, a
// multipart upload above.
func (b *Backend) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	n := p.Len()
	if n < 0 {
		return fmt.Errorf("s3: put %s: negative length %d: %w", name, n, backend.ErrPayload)
	}
	if n > b.cfg.PartSize {
		return b.putMultipart(ctx, name, p)
	}
	body, err := readExactly(p)
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	// The payload may have taken a while; do not start an upload for a
	// caller that has given up.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	_, err = b.client.PutObject(ctx, &s3sdk.PutObjectInput{
		Bucket:        aws.String(b.cfg.Bucket),
		Key:           b.key(name),
		Body:          body,
		ContentLength: aws.Int64(n),
	})
	if err != nil {
		return wrapErr("put", string(name), err)
	}
	return nil
}

// readExactly returns a seekable reader over the payload, which the SDK
// needs to sign the body and to resend it on retries. A *bytes.Reader from
// [backend.Bytes] is used as is; other payloads are copied into memory.
func readExactly(p backend.Payload) (*bytes.Reader, error) {
	n := p.Len()
	r := p.Open()
	if br, ok := r.(*bytes.Reader); ok && int64(br.Len()) == n {
		return br, nil
	}
	buf := make([]byte, n)
	if got, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("payload yields %d bytes, Len is %d: %w", got, n, backend.ErrPayload)
		}
		return nil, fmt.Errorf("read payload: %w", err)
	}
	if extra, err := r.Read(make([]byte, 1)); extra > 0 || (err != nil && err != io.EOF) {
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read payload: %w", err)
		}
		return nil, fmt.Errorf("payload yields more than %d bytes: %w", n, backend.ErrPayload)
	}
	return bytes.NewReader(buf), nil
}

// putMultipart uploads p in parts of PartSize (more if the object needs
// over 10,000 parts). The object appears only when the upload completes; on
// any failure the upload is aborted so no parts linger.
func (b *Backend) putMultipart(ctx context.Context, name backend.Name, p backend.Payload) (err error) {
	want := p.Len()
	partSize := max(b.cfg.PartSize, (want+maxParts-1)/maxParts)
	bucket, key := aws.String(b.cfg.Bucket), b.key(name)
	created, err := b.client.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: bucket, Key: key})
	if err != nil {
		return wrapErr("put", string(name), err)
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		// Abort even when ctx is done, but not forever.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, aerr := b.client.AbortMultipartUpload(actx, &s3sdk.AbortMultipartUploadInput{
			Bucket: bucket, Key: key, UploadId: uploadID,
		}); aerr != nil {
			err = errors.Join(err, wrapErr("abort upload", string(name), aerr))
		}
	}()

	r := p.Open()
	buf := make([]byte, partSize)
	var parts []types.CompletedPart
	var total int64
	for num := int32(1); ; num++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("s3: put %s: %w", name, err)
		}
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fmt.Errorf("s3: put %s: read payload: %w", name, rerr)
		}
		if n == 0 {
			break
		}
		total += int64(n)
		if total > want {
			return fmt.Errorf("s3: put %s: payload yields more than %d bytes: %w", name, want, backend.ErrPayload)
		}
		out, err := b.client.UploadPart(ctx, &s3sdk.UploadPartInput{
			Bucket: bucket, Key: key, UploadId: uploadID,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return wrapErr(fmt.Sprintf("put part %d of", num), string(name), err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		if rerr != nil {
			break // short read: that was the last part
		}
	}
	if total != want {
		return fmt.Errorf("s3: put %s: payload yields %d bytes, Len is %d: %w", name, total, want, backend.ErrPayload)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	_, err = b.client.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{
		Bucket: bucket, Key: key, UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return wrapErr("complete upload of", string(name), err)
	}
	return nil
}
