// Package s3 is a [backend.Backend] on an S3-compatible object store (AWS S3,
// Ceph RGW, MinIO, versitygw): the object "r/packs/ab/x.03" is the key
// "PREFIX/r/packs/ab/x.03" in the bucket.
//
// # Store URL
//
//	s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true
//
// [ParseURL] turns it into a [Config]. The endpoint defaults to AWS; with an
// endpoint, path-style addressing is the default (path_style=false selects
// virtual-hosted buckets). Credentials never appear in the URL: they come from
// [Config.AccessKey]/[Config.SecretKey] or else the default AWS chain
// (environment variables, shared config and credentials files, web identity,
// instance roles).
//
// # Atomicity and integrity
//
// S3 makes an object visible only once its PutObject or
// CompleteMultipartUpload succeeds, so Put is atomic. Payloads up to
// [Config.PartSize] go in one PutObject; larger ones are uploaded in parts of
// that size and the upload is aborted if anything fails. Every request body
// is a seekable buffer, so the SDK signs its SHA-256 (SigV4), the server
// checks it, and retries (the SDK's standard retryer with exponential backoff
// and jitter) resend the same bytes. Flexible checksums are only used where
// the API requires them, for compatibility with older S3 implementations;
// readers verify shard hashes anyway.
//
// # Object Lock
//
// [Backend] implements [backend.Retainer] with PutObjectRetention on the
// current version of an object. The bucket must have been created with Object
// Lock enabled (which enables versioning). Note that on such a bucket Delete
// only adds a delete marker: the object disappears from Get, Stat and List,
// but its locked version stays, and is billed, until its retention ends and
// a lifecycle rule or an operator removes it.
package s3
