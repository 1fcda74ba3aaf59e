package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// errorCode returns the S3 error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wrapErr maps an SDK error to the backend sentinels and prefixes the
// operation and object name. SDK messages carry no credentials (the request
// ID and the server's message only).
func wrapErr(op, name string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !transportTimeout(err) {
		return fmt.Errorf("s3: %s %s: %w", op, name, err)
	}
	code, status := errorCode(err), httpStatus(err)
	var kind error
	switch {
	case code == "NoSuchKey", code == "NotFound",
		status == http.StatusNotFound && code != "NoSuchBucket" && code != "NoSuchUpload":
		return fmt.Errorf("s3: %s %s: %w", op, name, backend.ErrNotExist)
	case code == "InvalidRange", status == http.StatusRequestedRangeNotSatisfiable:
		kind = backend.ErrRange
	case code == "AccessDenied", status == http.StatusForbidden:
		kind = backend.ErrPermission
	case status == http.StatusInsufficientStorage:
		kind = backend.ErrFull
	case code == "NoSuchBucket", status >= 500 && status != http.StatusNotImplemented, unreachable(err):
		// The bucket is gone, or the service failed or could not be
		// reached even after the retryer's attempts: the store, not
		// the object, is the problem (package erasure then neither
		// calls the shard missing nor writes a rebuilt one there).
		kind = backend.ErrUnavailable
	}
	if kind != nil {
		return fmt.Errorf("s3: %s %s: %w: %w", op, name, kind, err)
	}
	return fmt.Errorf("s3: %s %s: %w", op, name, err)
}

// transportTimeout reports whether err ends in a timeout of the HTTP
// transport (Config.ResponseTimeout: the endpoint did not answer), which
// also matches context.DeadlineExceeded, rather than in the caller's
// context running out.
func transportTimeout(err error) bool {
	leaf := err
	for next := errors.Unwrap(leaf); next != nil; next = errors.Unwrap(leaf) {
		leaf = next
	}
	return leaf != context.DeadlineExceeded && errors.Is(leaf, context.DeadlineExceeded)
}

// noRetryOnSilence tells the retryer not to retry a request that timed out
// waiting for its response (transportTimeout), and leaves every other
// error to the standard rules.
var noRetryOnSilence = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if transportTimeout(err) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

// unreachable reports whether err is a failure to send the request at all
// (connection refused, reset, DNS, TLS handshake), not an answer.
func unreachable(err error) bool {
	var se *smithyhttp.RequestSendError
	var oe *net.OpError
	return errors.As(err, &se) || errors.As(err, &oe)
}
