package backend

import (
	"context"
	"time"
)

// RetentionMode is an S3 Object Lock retention mode.
type RetentionMode string

const (
	// RetentionGovernance protects an object version until a date; a
	// principal with the bypass permission can still shorten or remove it.
	RetentionGovernance RetentionMode = "GOVERNANCE"
	// RetentionCompliance protects an object version until a date; no one,
	// not even the account root, can shorten it or delete the version before
	// then. It can only be extended.
	RetentionCompliance RetentionMode = "COMPLIANCE"
)

// Retainer is the optional capability of stores that can make an object
// immutable until a date (S3 Object Lock). Find it with [As]:
//
//	if r, ok := backend.As[backend.Retainer](b); ok {
//		err = r.SetRetention(ctx, shard, backend.RetentionCompliance, until)
//	}
//
// Callers set a date at least as late as every snapshot lock that covers the
// object, and only ever extend it.
type Retainer interface {
	// SetRetention protects the current version of the object until the
	// given time. It fails if the store has Object Lock disabled, if the
	// object does not exist ([ErrNotExist]) or if it would shorten a
	// compliance retention.
	SetRetention(ctx context.Context, name Name, mode RetentionMode, until time.Time) error
}

// Wrapper is implemented by decorators (fault injection, metrics, retries)
// to expose the store they wrap.
type Wrapper interface {
	Unwrap() Backend
}

// As returns b as a T, or the first store in b's Unwrap chain that is one.
// Decorators that do not themselves implement a capability thus pass it
// through.
func As[T any](b Backend) (T, bool) {
	for b != nil {
		if t, ok := b.(T); ok {
			return t, true
		}
		w, ok := b.(Wrapper)
		if !ok {
			break
		}
		b = w.Unwrap()
	}
	var zero T
	return zero, false
}
